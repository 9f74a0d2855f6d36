"""Both upload flows end to end, under every query-string dialect, byte for byte."""

from __future__ import annotations

import pytest

import worksection_async as ws
from worksection_async import Client
from worksection_async.testing import FakeWorksection

pytestmark = pytest.mark.anyio

SIGNERS = [ws.PageHash(), ws.QueryHash(), ws.HmacToken()]


@pytest.mark.parametrize("signer", SIGNERS, ids=lambda s: s.name)
async def test_upload_then_post_task_with_descriptors(signer: ws.Signer) -> None:
    """upload_files + post_task(uploads=...) attaches the file whatever the dialect."""
    fake = FakeWorksection()
    project = fake.add_project("P")
    async with Client(
        fake.account_url, fake.api_key, signer=signer, transport=fake.transport, rate_limit=None
    ) as client:
        uploads = await client.files.upload([("notes.txt", b"line one\nline two\n")])
        task = await client.project(project.id).post_task("With a file", uploads=uploads)
    [file] = fake.files_of_task(task.id)
    assert file.name == "notes.txt"
    assert file.content == b"line one\nline two\n"  # the final newline is the file's


@pytest.mark.parametrize("signer", SIGNERS, ids=lambda s: s.name)
async def test_attach_keeps_every_byte(signer: ws.Signer) -> None:
    """attach[n] parts arrive whole: trailing CR/LF bytes belong to the file."""
    fake = FakeWorksection()
    project = fake.add_project("P")
    payloads = [b"ends with crlf\r\n", b"ends with lf\n", b"\x00\xffbinary\r\n\r\n"]
    async with Client(
        fake.account_url, fake.api_key, signer=signer, transport=fake.transport, rate_limit=None
    ) as client:
        task = await client.project(project.id).post_task(
            "Attached", attach=[(f"f{i}.bin", data) for i, data in enumerate(payloads)]
        )
    files = sorted(fake.files_of_task(task.id), key=lambda f: f.name)
    assert [f.content for f in files] == payloads
