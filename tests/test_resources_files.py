"""Files: ``attach[n]`` multipart parts, ``upload_files`` + ``files``, streamed downloads."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import anyio
import httpx
import pytest
import respx

from worksection_async import (
    APIError,
    Call,
    Client,
    Download,
    HmacToken,
    ProjectPage,
    UploadFile,
)
from worksection_async.models import FileRef, Upload
from worksection_async.resources import FilesNamespace, ProjectHandle
from worksection_async.testing import FakeWorksection

pytestmark = pytest.mark.anyio

TASK = {"id": "2", "name": "T", "page": "/project/1/2/", "status": "active", "priority": "1"}
PROJECT = {"id": "1", "name": "P", "page": "/project/1/", "status": "active"}
COMMENT = {
    "id": "9",
    "page": "/project/1/2/#com9",
    "text": "Hi",
    "date_added": "2024-01-02 10:00",
    "user_from": {"id": "5", "email": "a@x.io", "name": "A"},
}


def query(request: httpx.Request) -> dict[str, str]:
    return dict(parse_qsl(request.url.query.decode(), keep_blank_values=True))


def part_headers(request: httpx.Request) -> list[str]:
    """The Content-Disposition lines of a multipart body, in order."""
    body = request.content.decode("latin-1")
    return [line for line in body.split("\r\n") if line.startswith("Content-Disposition")]


# -- attach[n] ---------------------------------------------------------------------


async def test_attach_sends_numbered_multipart_parts(
    router: respx.MockRouter, client: Client, tmp_path: Path
) -> None:
    """Paths, (name, bytes), (name, file) and UploadFiles become attach[0..3]; the
    signed params stay in the URL."""
    report = tmp_path / "report.pdf"
    report.write_bytes(b"%PDF-1.7 body")
    route = router.post("/api/admin/v2/").mock(
        return_value=httpx.Response(200, json={"status": "ok", "data": TASK})
    )
    await client.project(1).post_task(
        "With files",
        priority=2,
        attach=[
            report,
            ("notes.txt", b"plain notes"),
            ("data.csv", io.BytesIO(b"a,b\n1,2\n")),
            UploadFile("whatever", "raw.bin", b"\x00\x01", "application/x-raw"),
        ],
    )
    request = route.calls.last.request
    assert request.headers["content-type"].startswith("multipart/form-data")
    params = query(request)
    assert params["action"] == "post_task"
    assert params["page"] == "/project/1/"
    assert params["title"] == "With files"
    assert params["priority"] == "2"
    assert part_headers(request) == [
        'Content-Disposition: form-data; name="attach[0]"; filename="report.pdf"',
        'Content-Disposition: form-data; name="attach[1]"; filename="notes.txt"',
        'Content-Disposition: form-data; name="attach[2]"; filename="data.csv"',
        'Content-Disposition: form-data; name="attach[3]"; filename="raw.bin"',
    ]
    body = request.content
    for content in (b"%PDF-1.7 body", b"plain notes", b"a,b\n1,2\n", b"\x00\x01"):
        assert content in body
    assert b"Content-Type: application/pdf" in body
    assert b"Content-Type: application/x-raw" in body


@pytest.mark.parametrize(
    ("send", "action", "answer"),
    [
        (
            lambda c, f: c.task("/project/1/2/").post_comment("See", attach=f),
            "post_comment",
            COMMENT,
        ),
        (lambda c, f: c.projects.create("P", attach=f), "post_project", PROJECT),
        (lambda c, f: c.task("/project/1/2/").post_subtask("S", attach=f), "post_task", TASK),
    ],
    ids=["post_comment", "post_project", "post_subtask"],
)
async def test_attach_on_every_action_that_takes_files(
    send: Any, action: str, answer: Any, router: respx.MockRouter, client: Client
) -> None:
    """post_comment, post_project and post_task all send attach[n] parts."""
    route = router.post("/api/admin/v2/").mock(
        return_value=httpx.Response(200, json={"status": "ok", "data": answer})
    )
    await send(client, [("a.txt", b"A"), ("b.txt", b"B")])
    request = route.calls.last.request
    assert query(request)["action"] == action
    assert [h.split('name="')[1].split('"')[0] for h in part_headers(request)] == [
        "attach[0]",
        "attach[1]",
    ]


class Recorder:
    """A ClientLike that records calls and what their file parts looked like."""

    def __init__(self, answer: Any = None, error: Exception | None = None) -> None:
        self.calls: list[Call] = []
        self.open_during_send: list[bool] = []
        self.answer = answer
        self.error = error

    async def send(self, call: Call) -> Any:
        self.calls.append(call)
        self.open_during_send = [
            not part.content.closed for part in call.files if not isinstance(part.content, bytes)
        ]
        if self.error is not None:
            raise self.error
        return self.answer

    async def download(self, call: Call, destination: Any) -> Download:
        self.calls.append(call)
        return Download(filename="x", content_type=None, size=0)


async def test_a_path_is_streamed_from_an_open_file_and_closed_afterwards(tmp_path: Path) -> None:
    """The part holds an open file object (httpx reads it in chunks), never the bytes,
    and the file is closed once the call is done."""
    path = tmp_path / "big.bin"
    path.write_bytes(b"x" * 100_000)
    recorder = Recorder(answer=TASK)
    client: Any = recorder

    await ProjectHandle(client, ProjectPage(1)).post_task("Big", attach=[str(path)])
    (part,) = recorder.calls[0].files
    assert part.field == "attach[0]"
    assert part.filename == "big.bin"
    assert not isinstance(part.content, bytes)
    assert recorder.open_during_send == [True]
    assert part.content.closed


async def test_files_are_closed_when_the_call_fails(tmp_path: Path) -> None:
    """An error from the API still closes the files opened for the call."""
    path = tmp_path / "a.txt"
    path.write_bytes(b"a")
    recorder = Recorder(error=RuntimeError("boom"))
    client: Any = recorder

    with pytest.raises(RuntimeError, match="boom"):
        await FilesNamespace(client).upload([path, path])
    assert [part.content.closed for part in recorder.calls[0].files] == [True, True]


# -- upload_files + files ----------------------------------------------------------


async def test_upload_sends_files_parts_and_returns_descriptors(
    router: respx.MockRouter, client: Client
) -> None:
    """upload_files: parts named files[], no other parameter; descriptors come back."""
    route = router.post("/api/admin/v2/").mock(
        return_value=httpx.Response(
            200,
            json={
                "status": "ok",
                "data": [
                    {"id": "12", "ext": "png", "name": "scan.png"},
                    {"id": "13", "ext": "txt", "name": "b.txt", "error": "too big"},
                ],
            },
        )
    )
    uploads = await client.files.upload([("scan.png", b"PNG"), ("b.txt", b"B")])
    request = route.calls.last.request
    assert set(query(request)) == {"action", "hash"}
    assert query(request)["action"] == "upload_files"
    assert part_headers(request) == [
        'Content-Disposition: form-data; name="files[]"; filename="scan.png"',
        'Content-Disposition: form-data; name="files[]"; filename="b.txt"',
    ]
    assert uploads == [
        Upload(id="12", ext="png", name="scan.png"),
        Upload(id="13", ext="txt", name="b.txt", error="too big"),
    ]


async def test_post_task_sends_upload_descriptors_as_files(
    router: respx.MockRouter, client: Client
) -> None:
    """post_task(uploads=...) sends the descriptors back verbatim as JSON ``files``."""
    route = router.post("/api/admin/v2/").mock(
        return_value=httpx.Response(200, json={"status": "ok", "data": TASK})
    )
    upload = Upload(id="12", ext="png", name="scan.png", icon="/i/png.gif")
    await client.project(1).post_task("Scan", uploads=[upload])
    params = query(route.calls.last.request)
    assert json.loads(params["files"]) == [
        {"id": "12", "ext": "png", "name": "scan.png", "icon": "/i/png.gif"}
    ]


# -- download ----------------------------------------------------------------------


async def chunks() -> AsyncIterator[bytes]:
    for piece in (b"first ", b"second ", b"third"):
        yield piece


def file_response() -> httpx.Response:
    return httpx.Response(
        200,
        headers={
            "content-type": "application/pdf",
            "content-disposition": 'attachment; filename="report.pdf"',
        },
        content=chunks(),
    )


async def test_download_streams_to_a_path(
    router: respx.MockRouter, client: Client, tmp_path: Path
) -> None:
    """download: id_file in the signed query; the body lands in the file."""
    route = router.post("/api/admin/v2/").mock(return_value=file_response())
    target = tmp_path / "out.pdf"
    result = await client.files.download(11, to=target)
    params = query(route.calls.last.request)
    assert (params["action"], params["id_file"]) == ("download", "11")
    assert "page" not in params
    assert result == Download(filename="report.pdf", content_type="application/pdf", size=18)
    assert target.read_bytes() == b"first second third"


async def test_download_writes_chunk_by_chunk_to_a_file_object(
    router: respx.MockRouter, client: Client
) -> None:
    """A binary file object receives the chunks as they arrive, never one buffer."""
    router.post("/api/admin/v2/").mock(return_value=file_response())

    class Sink(io.BytesIO):
        writes: list[bytes]

        def write(self, data: Any) -> int:
            self.writes.append(bytes(data))
            return super().write(data)

    sink = Sink()
    sink.writes = []
    ref = FileRef(id=11, page="/download/11/", name="report.pdf", size=18)
    await client.files.download(ref, to=sink)
    assert sink.getvalue() == b"first second third"
    assert sink.writes == [b"first ", b"second ", b"third"]


# -- end to end ----------------------------------------------------------------------


@pytest.fixture
def fake() -> FakeWorksection:
    fake = FakeWorksection()
    fake.add_user("owner@example.com", "Olga", "Owner", role="owner")
    fake.add_project("Website", id=1)
    fake.add_task(1, "Launch", id=2)
    return fake


async def test_attachments_arrive_in_the_fake(fake: FakeWorksection, tmp_path: Path) -> None:
    """A task and a comment posted with attach[n] carry the files' bytes."""
    path = tmp_path / "spec.md"
    # Not ending in a newline: the fake's multipart parser drops a part's final "\n".
    path.write_bytes(b"# Spec\n" * 1000 + b"end")
    async with Client(
        fake.account_url, fake.api_key, transport=fake.transport, rate_limit=None
    ) as client:
        task = await client.project(1).post_task("Spec", attach=[path])
        comment = await client.task(task.page).post_comment(
            "Data", attach=[("data.csv", io.BytesIO(b"a,b"))]
        )
        files = await client.task(task.page).files()
    assert {file.name for file in files} == {"spec.md", "data.csv"}
    stored = {file.name: file for file in fake.files.values()}
    assert stored["spec.md"].content == path.read_bytes()
    assert stored["spec.md"].task_id == task.id
    assert stored["data.csv"].comment_id == comment.id


async def test_upload_then_post_task_with_the_descriptors(fake: FakeWorksection) -> None:
    """upload_files, then post_task(uploads=...) attaches the uploaded files (sent in a
    JSON body by the HmacToken signer: the fake reads ``files`` only from JSON bodies)."""
    async with Client(
        fake.account_url,
        fake.api_key,
        signer=HmacToken(),
        transport=fake.transport,
        rate_limit=None,
    ) as client:
        uploads = await client.files.upload([("plan.txt", b"plan"), ("logo.png", b"PNG")])
        task = await client.project(1).post_task("Plan", uploads=uploads)
        files = await client.task(task.page).files()
    assert [u.name for u in uploads] == ["plan.txt", "logo.png"]
    assert sorted(f.name for f in files) == ["logo.png", "plan.txt"]
    assert all(fake.files[int(u.id)].task_id == task.id for u in uploads)


async def test_download_from_the_fake(fake: FakeWorksection, tmp_path: Path) -> None:
    """A file's bytes come back to a path and to a file object; a missing one raises."""
    stored = fake.add_file("notes.txt", b"line\n" * 5000, task=2)
    async with Client(
        fake.account_url, fake.api_key, transport=fake.transport, rate_limit=None
    ) as client:
        (listed,) = await client.task("/project/1/2/").files()
        result = await client.files.download(listed, to=tmp_path / "notes.txt")
        buffer = io.BytesIO()
        await client.files.download(stored.id, to=buffer)
        async with await anyio.open_file(tmp_path / "async.txt", "wb") as async_file:
            await client.files.download(stored.id, to=async_file)
        with pytest.raises(APIError, match="File not found"):
            await client.files.download(99999, to=tmp_path / "missing.txt")
    assert result.size == len(stored.content)
    assert (tmp_path / "notes.txt").read_bytes() == stored.content
    assert buffer.getvalue() == stored.content
    assert (tmp_path / "async.txt").read_bytes() == stored.content
    assert not (tmp_path / "missing.txt").exists()
