"""The ``worksection`` command, end to end: subprocesses against a served fake account."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import pytest

from worksection_async import Client, ProjectPage
from worksection_async.models import unstructure
from worksection_async.resources._export import COMMENTS_ROUND
from worksection_async.testing import FakeWorksection

from .fixtures.export_support import commented_fake, cut_tasks

SCRIPT = Path(sys.executable).with_name("worksection")
KEY = "cli-test-key-5f3a9c1e7b"


def run(
    args: Sequence[str],
    url: str | None,
    *,
    key: str | None = KEY,
    timeout: float = 120,
    extra_env: dict[str, str] | None = None,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """``worksection ARGS`` with the account in the environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKSECTION_")}
    env.pop("COLUMNS", None)
    if url is not None:
        env["WORKSECTION_URL"] = url
    if key is not None:
        env["WORKSECTION_API_KEY"] = key
    env.update(extra_env or {})
    return subprocess.run(  # noqa: S603 - our own console script
        [str(SCRIPT), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        input=stdin,
        check=False,
    )


Invoke = Callable[..., tuple[int, str, str]]


@pytest.fixture(autouse=True)
def cache_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user's cache directory (where the default shared quota lives), one per test,
    never the real one; the commands run here and in subprocesses see it."""
    path = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("XDG_CACHE_HOME", str(path))
    monkeypatch.delenv("WORKSECTION_SHARED_QUOTA", raising=False)
    return path


@pytest.fixture
def invoke(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Invoke:
    """The command in this process (for what needs no subprocess: usage errors, help)."""
    from worksection_async.cli import main

    def call(
        args: Sequence[str], url: str | None = None, key: str | None = KEY
    ) -> tuple[int, str, str]:
        for name, value in (("WORKSECTION_URL", url), ("WORKSECTION_API_KEY", key)):
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return call


def library(fake: FakeWorksection, job: Any) -> Any:
    """What the library returns for ``job(client)`` on the same account (in-process)."""

    async def main() -> Any:
        async with Client(
            fake.account_url, fake.api_key, transport=fake.transport, rate_limit=None
        ) as client:
            return await job(client)

    return anyio.run(main)


def ndjson(text: str) -> list[Any]:
    return [json.loads(line) for line in text.splitlines()]


@pytest.fixture(scope="module")
def small() -> Iterator[tuple[FakeWorksection, str]]:
    """A small commented account, served on 127.0.0.1 for the whole module."""
    fake = commented_fake(projects=3, tasks_per_project=8, long=4, api_key=KEY)
    with fake.serve_in_thread() as url:
        yield fake, url


def test_the_script_is_installed_and_answers_version(invoke: Invoke) -> None:
    """`worksection --version` runs; `--help` lists every command."""
    version = run(["--version"], None)
    assert version.returncode == 0 and version.stdout.startswith("worksection, version ")
    code, out, _ = invoke(["--help"])
    assert code == 0
    for command in ("call", "projects", "tasks", "export", "fake", "demo"):
        assert command in out


def test_call_prints_what_the_library_returns(small: tuple[FakeWorksection, str]) -> None:
    """call ACTION PAGE key=value: JSON on stdout equal to client.call's answer."""
    fake, url = small
    project = min(fake.projects)
    result = run(["call", "get_tasks", f"/project/{project}/", "extra=comments,subtasks"], url)
    assert result.returncode == 0, result.stderr
    expected = library(
        fake, lambda c: c.call("get_tasks", ProjectPage(project), extra="comments,subtasks")
    )
    assert json.loads(result.stdout) == expected
    assert result.stderr == ""


def test_call_raw_prints_the_envelope(small: tuple[FakeWorksection, str]) -> None:
    """--raw: the whole envelope, status and data, as the server sent it."""
    fake, url = small
    result = run(["call", "get_projects", "filter=active", "--raw"], url)
    assert result.returncode == 0, result.stderr
    envelope = json.loads(result.stdout)
    assert envelope["status"] == "ok"
    assert envelope["data"] == library(fake, lambda c: c.call("get_projects", filter="active"))


def test_call_json_and_repeated_parameters(small: tuple[FakeWorksection, str]) -> None:
    """KEY:=JSON and a repeated KEY (todo[]) reach the API as such."""
    fake, url = small
    task = min(t.id for t in fake.tasks.values() if t.depth == 0 and not t.is_done)
    page = fake.tasks[task].page
    result = run(["call", "post_comment", page, "todo=first", "todo=second", "text=Two"], url)
    assert result.returncode == 0, result.stderr
    comment = json.loads(result.stdout)
    assert "first" in comment["text"] and "second" in comment["text"]
    bad = run(["call", "get_events", "period:={not json"], url)
    assert bad.returncode == 2 and "takes JSON" in bad.stderr


def test_api_error_exit_3_transport_exit_4(small: tuple[FakeWorksection, str]) -> None:
    """One line on stderr, a distinct exit code per kind of failure."""
    _, url = small
    missing = run(["call", "get_task", "/project/1/999999/"], url)
    assert missing.returncode == 3
    assert missing.stderr.startswith("worksection: error: API error [")
    assert len(missing.stderr.splitlines()) == 1 and missing.stdout == ""
    down = run(["call", "me"], "http://127.0.0.1:9")  # nothing listens on port 9
    assert down.returncode == 4 and "no answer from the server" in down.stderr


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (["call", "get_task", "/nope/"], {}, "not a Worksection page"),
        (["call", "get_task", "/project/1/2/", "bare"], {}, "expected key=value"),
        (["call", "get_events", "period:={not json"], {}, "takes JSON"),
        (["projects"], {"WORKSECTION_API_KEY": ""}, "WORKSECTION_API_KEY"),
        (["projects"], {"WORKSECTION_URL": ""}, "WORKSECTION_URL"),
        (["export"], {}, "--out"),
        (["tasks", "--format", "xml"], {}, "--format"),
        (["export", "--out", "x", "--rate", "fast"], {}, "--rate"),
        (["projects", "--account-url", "http://example.com"], {}, "plain http://"),
        (["export", "--out", "x", "--projects", "/project/1/2/"], {}, "not a project's"),
    ],
)
def test_usage_errors_exit_2_before_any_request(
    args: list[str], env: dict[str, str], says: str, invoke: Invoke, tmp_path: Path
) -> None:
    """Bad arguments, missing credentials: exit 2 with the reason, nothing sent (the
    account is a closed port, so any request would be exit 4)."""
    url = env.get("WORKSECTION_URL", "http://127.0.0.1:9")
    key = env.get("WORKSECTION_API_KEY", KEY)
    args = [str(tmp_path / a) if a == "x" else a for a in args]
    code, _, err = invoke(args, url, key)
    assert code == 2, err
    assert says in err
    assert len(err.splitlines()) == 1 and err.startswith("worksection: error: ")
    assert not (tmp_path / "x").exists()


def test_projects_ndjson_equals_the_library(small: tuple[FakeWorksection, str]) -> None:
    """projects: one JSON object per project, the models unstructured."""
    fake, url = small
    result = run(["projects", "--extra", "users"], url)
    assert result.returncode == 0, result.stderr
    expected = library(fake, lambda c: c.projects.list(extra="users"))
    assert ndjson(result.stdout) == [unstructure(p) for p in expected]


@pytest.mark.parametrize("fmt", ["ndjson", "json", "csv"])
def test_tasks_of_a_project_in_each_format(
    small: tuple[FakeWorksection, str], fmt: str, invoke: Invoke
) -> None:
    """tasks PROJECT --active --fields: the selected fields of what the library returns
    (CSV in a subprocess, the others in this process)."""
    fake, url = small
    project = max(fake.projects)
    fields = "id,name,status,user_to.email,project.id"
    args = ["tasks", str(project), "--active", "--fields", fields, "--format", fmt]
    if fmt == "csv":
        result = run(args, url)
        code, out, err = result.returncode, result.stdout, result.stderr
    else:
        code, out, err = invoke(args, url)
    assert code == 0, err
    tasks = library(fake, lambda c: c.project(project).tasks(active_only=True))
    expected = [
        {
            "id": t.id,
            "name": t.name,
            "status": t.status,
            "user_to.email": t.user_to.email if t.user_to else None,
            "project.id": t.project.id if t.project else None,
        }
        for t in tasks
    ]
    assert expected and all(row["status"] == "active" for row in expected)
    if fmt == "ndjson":
        assert ndjson(out) == expected
    elif fmt == "json":
        assert json.loads(out) == expected
    else:
        rows = list(csv.DictReader(io.StringIO(out)))
        as_text = [{k: "" if v is None else str(v) for k, v in row.items()} for row in expected]
        assert rows == as_text


def test_tasks_of_the_account_with_extra(small: tuple[FakeWorksection, str]) -> None:
    """tasks (no project): get_all_tasks, with --extra, equal to the library's."""
    fake, url = small
    result = run(["tasks", "--extra", "subtasks,comments"], url)
    assert result.returncode == 0, result.stderr
    expected = library(fake, lambda c: c.tasks.list(extra=["subtasks", "comments"]))
    assert ndjson(result.stdout) == [unstructure(t) for t in expected]


def test_export_formats_and_plain_progress(
    small: tuple[FakeWorksection, str], tmp_path: Path
) -> None:
    """export to .json and .csv (format from the suffix): the library's export; plain
    progress lines on stderr, which is not a terminal."""
    fake, url = small
    tasks = library(fake, lambda c: _collect(c.tasks.export(comments=True, files=True)))
    as_json = tmp_path / "tasks.json"
    result = run(["export", "--comments", "--files", "--out", str(as_json), "--rate", "off"], url)
    assert result.returncode == 0, result.stderr
    assert json.loads(as_json.read_text()) == [unstructure(t) for t in tasks]
    lines = result.stderr.splitlines()
    assert lines[0].startswith("worksection: export: 0/1 requests")
    assert lines[-1].startswith(f"worksection: export: {len(tasks)} tasks in {as_json}")
    as_csv = tmp_path / "tasks.csv"
    result = run(["export", "--out", str(as_csv), "--rate", "off", "--quiet"], url)
    assert result.returncode == 0 and result.stderr == ""
    rows = list(csv.DictReader(io.StringIO(as_csv.read_text())))
    assert [int(row["id"]) for row in rows] == [t.id for t in tasks]
    assert not Path(f"{as_csv}.checkpoint").exists()


async def _collect(source: Any) -> list[Any]:
    return [item async for item in source]


# -- export of a 20 x 100 account: the plan, Ctrl-C and --resume -----------------------


@pytest.fixture(scope="module")
def big() -> Iterator[tuple[FakeWorksection, str]]:
    """20 projects x 100 tasks (and their subtasks), 120 with more than 5 comments."""
    fake = commented_fake(projects=20, tasks_per_project=100, long=120, api_key=KEY)
    with fake.serve_in_thread() as url:
        yield fake, url


def test_export_comments_costs_exactly_the_plan(
    big: tuple[FakeWorksection, str], tmp_path: Path
) -> None:
    """--comments over 20x100: 1 get_all_tasks + 1 get_comments per cut task, no more;
    the file equals the library's export."""
    fake, url = big
    cut = cut_tasks(fake)
    out = tmp_path / "all.ndjson"
    fake.stats.reset()
    result = run(["export", "--comments", "--out", str(out), "--rate", "off"], url)
    assert result.returncode == 0, result.stderr
    assert dict(fake.stats.by_action) == {"get_all_tasks": 1, "get_comments": len(cut)}
    assert fake.stats.requests == 1 + len(cut)
    planned = 1 + len(cut)
    assert f"; {planned} requests (planned {planned})" in result.stderr.splitlines()[-1]
    tasks = library(fake, lambda c: _collect(c.tasks.export(comments=True)))
    assert ndjson(out.read_text()) == [unstructure(t) for t in tasks]
    assert len(tasks) == len(fake.tasks)


def _lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def test_ctrl_c_then_resume_equals_an_uninterrupted_run(
    big: tuple[FakeWorksection, str], tmp_path: Path
) -> None:
    """SIGINT mid-export: exit 130, a valid file; --resume ends with the same bytes as
    an uninterrupted run, and asks only for what was not written."""
    fake, url = big
    whole = tmp_path / "whole.ndjson"
    uninterrupted = run(["export", "--comments", "--out", str(whole), "--rate", "off", "-q"], url)
    assert uninterrupted.returncode == 0
    cut = cut_tasks(fake)

    part = tmp_path / "part.ndjson"
    fake.stats.reset()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKSECTION_")}
    env.update(WORKSECTION_URL=url, WORKSECTION_API_KEY=KEY)
    process = subprocess.Popen(  # noqa: S603
        [str(SCRIPT), "export", "--comments", "--out", str(part), "--rate", "25"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 60
    while fake.stats.by_action["get_comments"] < 2 * COMMENTS_ROUND:  # a round is written
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    written_before = _lines(part)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "interrupted" in err.splitlines()[-1] and "--resume" in err.splitlines()[-1]
    assert out == ""
    records = ndjson(part.read_text())  # every line whole and valid
    assert len(records) >= written_before > 0
    assert len(records) < len(fake.tasks)
    whole_records = ndjson(whole.read_text())
    assert records == whole_records[: len(records)]
    assert Path(f"{part}.checkpoint").exists()

    fake.stats.reset()
    resumed = run(["export", "--comments", "--out", str(part), "--rate", "off", "--resume"], url)
    assert resumed.returncode == 0, resumed.stderr
    assert part.read_bytes() == whole.read_bytes()
    ids = [record["id"] for record in ndjson(part.read_text())]
    assert len(ids) == len(set(ids)) == len(fake.tasks)
    left = cut - {record["id"] for record in records}
    assert dict(fake.stats.by_action) == {"get_all_tasks": 1, "get_comments": len(left)}
    assert not Path(f"{part}.checkpoint").exists()


def test_an_interrupted_export_is_not_overwritten(
    small: tuple[FakeWorksection, str], tmp_path: Path, invoke: Invoke
) -> None:
    """A checkpoint beside --out without --resume: exit 2, the file left as it is;
    a resume with other options: exit 2."""
    _, url = small
    out = tmp_path / "t.ndjson"
    out.write_text('{"id":1}\n')
    empty, one = hashlib.sha256(b"").hexdigest(), hashlib.sha256(b'{"id":1}\n').hexdigest()
    Path(f"{out}.checkpoint").write_text(
        '{"version":2,"account":"x","projects":null,"active":false,"comments":false,'
        f'"files":false,"format":"ndjson","start":0,"sha256":"{empty}"}}\n'
        f'{{"id":1,"end":9,"sha256":"{one}"}}\n'
    )
    code, _, err = invoke(["export", "--out", str(out)], url)
    assert code == 2 and "--resume" in err
    assert out.read_text() == '{"id":1}\n'
    code, _, err = invoke(["export", "--out", str(out), "--resume", "--comments"], url)
    assert code == 2 and "other options" in err
    assert out.read_text() == '{"id":1}\n'


def test_a_failure_mid_export_leaves_a_file_to_resume(tmp_path: Path, invoke: Invoke) -> None:
    """A 502 on a get_comments: exit 4, the line says how many tasks are in the file and
    that --resume continues; the resumed file equals an uninterrupted export."""
    from worksection_async.testing import Fault

    fake = commented_fake(projects=3, tasks_per_project=10, long=10, seed=7, api_key=KEY)
    first_cut = min(n for n, t in enumerate(fake.tasks.values()) if t.id in cut_tasks(fake))
    assert first_cut == 3  # three tasks come out before the first get_comments
    out, whole = tmp_path / "t.json", tmp_path / "whole.json"
    with fake.serve_in_thread() as url:
        code, _, err = invoke(["export", "--comments", "--out", str(whole), "--rate", "off"], url)
        assert code == 0, err
        fake.faults.add(Fault.http_error(502), action="get_comments")
        code, _, err = invoke(["export", "--comments", "--out", str(out), "--rate", "off"], url)
        assert code == 4
        last = err.splitlines()[-1]
        assert last.startswith("worksection: error: unreadable answer from the server")
        assert re.search(rf"; \d+ tasks in {re.escape(str(out))}; --resume continues", last)
        assert (
            json.loads(out.read_text())
            == json.loads(whole.read_text())[: len(json.loads(out.read_text()))]
        )
        args = ["export", "--comments", "--out", str(out), "--rate", "off", "--resume"]
        code, _, err = invoke(args, url)
        assert code == 0, err
    assert out.read_bytes() == whole.read_bytes()


# -- secrets ---------------------------------------------------------------------------


class _Echo(BaseHTTPRequestHandler):
    """A hostile server: its error repeats the request and the key it was told."""

    key = ""

    def do_POST(self) -> None:
        body = json.dumps(
            {
                "status": "error",
                "status_code": 99,
                "message": f"echo {self.path} key={self.key}",
                "message_details": {"raw": self.key, "headers": str(self.headers)},
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def echo_server() -> Iterator[str]:
    _Echo.key = KEY
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _never_shown(result: subprocess.CompletedProcess[str]) -> str:
    shown = result.stdout + result.stderr
    assert KEY not in shown
    assert KEY.upper() not in shown.upper()
    assert "hash=" not in shown.replace("hash=[redacted]", "")
    return shown


@pytest.mark.parametrize("signer", ["page-hash", "query-hash", "hmac"])
def test_an_echoed_key_and_hash_never_show(echo_server: str, signer: str) -> None:
    """A server that echoes the request and the key: the raw envelope, the error and
    the --debug traceback mask them, whatever the signer."""
    args = ["call", "get_task", "/project/1/2/", "--raw", "--debug", "--signer", signer]
    result = run(args, echo_server)
    assert result.returncode == 3, result.stderr
    shown = _never_shown(result)
    assert "[redacted]" in result.stdout and "[redacted]" in result.stderr
    assert "Traceback" in result.stderr and '"status": "error"' in result.stdout
    assert shown.count("[redacted]") >= 4


def test_the_key_never_shows_in_failures(
    echo_server: str, small: tuple[FakeWorksection, str], tmp_path: Path
) -> None:
    """The key from the environment is in no output, error or --debug traceback."""
    _, url = small
    for args, target, code in (
        (["tasks", "--debug"], echo_server, 3),
        (["export", "--out", str(tmp_path / "x.json"), "--debug"], echo_server, 3),
        (["call", "get_task", "/project/1/999999/", "--debug"], url, 3),
        (["call", "me", "--debug"], "http://127.0.0.1:9", 4),
    ):
        result = run(args, target)
        assert result.returncode == code, result.stderr
        _never_shown(result)
        assert "Traceback" in result.stderr
    assert not (tmp_path / "x.json").exists()  # nothing written: nothing left behind


def test_the_key_is_never_an_argument(
    small: tuple[FakeWorksection, str],
    tmp_path: Path,
    invoke: Invoke,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """--api-key is refused without repeating it; --api-key-file and stdin work."""
    fake, url = small
    for args in (["--api-key", "s3cr3t-value"], ["--api-key=s3cr3t-value"]):
        code, out, err = invoke(["projects", *args], url, None)
        assert code == 2
        assert "s3cr3t-value" not in out + err and "WORKSECTION_API_KEY" in err
    code, _, err = invoke(["projects", "--api-key-file", str(tmp_path / "nope")], url, None)
    assert code == 2 and "cannot read the API key file" in err
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n")
    from_file = run(["projects", "--api-key-file", str(key_file)], url, key=None)
    assert from_file.returncode == 0, from_file.stderr
    assert len(ndjson(from_file.stdout)) == len(fake.projects)
    monkeypatch.setattr(sys, "stdin", io.StringIO(KEY + "\n"))
    code, out, err = invoke(["projects", "--api-key-file", "-"], url, None)
    assert code == 0, err
    assert len(ndjson(out)) == len(fake.projects)


def test_shared_quota_without_the_extra_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, invoke: Invoke
) -> None:
    """--shared-quota when worksection_async.shared cannot be imported: exit 2, says
    which extra to install, never shows the Redis password."""
    monkeypatch.setitem(sys.modules, "worksection_async.shared", None)
    args = ["projects", "--shared-quota", "redis://:pa55word@127.0.0.1:6379/0"]
    code, out, err = invoke(args, "http://127.0.0.1:9")
    assert code == 2
    assert "pip install 'worksection-async[redis]'" in err
    assert "pa55word" not in out + err


def test_import_loads_neither_click_nor_rich() -> None:
    """The core import, and importing the cli package, load no CLI dependency and not
    the command itself. (httpx loads click and rich for its own command when they are
    installed: the probe counts only what comes after httpx.)"""
    probe = (
        "import sys, httpx; before = set(sys.modules); "
        "import worksection_async as w; core = 'cli' in dir(w); "
        "import worksection_async.cli; "
        "print(core, sorted(m for m in set(sys.modules) - before "
        "if m.split('.')[0] in ('click', 'rich') or m == 'worksection_async.cli._app'))"
    )
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "False []"


# -- the fake and the demo under the one script ----------------------------------------


def test_fake_serve_then_call_it(invoke: Invoke) -> None:
    """`worksection fake serve` prints its address and key; the command works on it."""
    args = ["fake", "serve", "--port", "0", "--api-key", KEY, "--quota", "off"]
    server = subprocess.Popen(  # noqa: S603
        [str(SCRIPT), *args, "--populate", "2x5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        url = ""
        for line in server.stdout:
            if line.strip().startswith("account URL:"):
                url = line.split("account URL:")[1].strip()
                break
        assert url.startswith("http://127.0.0.1:")
        result = run(["projects", "--fields", "id"], url)
        assert result.returncode == 0, result.stderr
        assert len(ndjson(result.stdout)) == 2
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=30)
    code, out, _ = invoke(["fake", "serve", "--help"])
    assert code == 0 and "usage: worksection fake serve" in out


def test_demo_under_the_script() -> None:
    """`worksection demo` prints the demo's report."""
    result = run(["demo", "--projects", "2", "--tasks", "3"], None)
    assert result.returncode == 0, result.stderr
    assert "Fetched 2 projects" in result.stdout
    assert len(result.stdout.strip().splitlines()) == 4


# -- a real terminal ---------------------------------------------------------------------


def test_progress_bar_in_a_real_terminal(
    small: tuple[FakeWorksection, str], tmp_path: Path
) -> None:
    """In a pty, export draws the rich bar (requests, rate, ETA) and exits 0."""
    import fcntl
    import pty
    import struct
    import termios

    _, url = small
    out = tmp_path / "tty.ndjson"
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 140, 0, 0))
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKSECTION_")}
    env.update(WORKSECTION_URL=url, WORKSECTION_API_KEY=KEY, TERM="xterm-256color")
    for name in ("NO_COLOR", "COLUMNS", "LINES", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        env.pop(name, None)
    process = subprocess.Popen(  # noqa: S603
        [str(SCRIPT), "export", "--comments", "--out", str(out), "--rate", "8"],
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        env=env,
        close_fds=True,
    )
    os.close(secondary)
    screen = b""
    try:
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # EIO: the terminal's other side is closed
                break
            if not chunk:
                break
            screen += chunk
    finally:
        os.close(primary)
    assert process.wait(timeout=60) == 0
    text = screen.decode("utf-8", errors="replace")
    assert "━" in text
    assert "requests" in text and "req/s" in text and "ETA" in text
    assert "\x1b[" in text  # drawn with terminal control sequences
    assert out.exists() and ndjson(out.read_text())
