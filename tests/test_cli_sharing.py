"""The command shares the quota by default, and one export at a time writes a file.

Which store a command uses (the URL it hands to ``SharedQuota.from_url``): the cache
file by default, ``--shared-quota`` / ``WORKSECTION_SHARED_QUOTA`` otherwise, ``off``
none; a default that cannot be used warns and runs unshared. Then real processes:
two exports of one file (the second refuses), a killed export resumed at once, two
exports of one account at once (no error 20 between them, through the default file
and through Redis), a full disk and a replaced output.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import pytest

from worksection_async.cli import _checkpoint
from worksection_async.cli._errors import CommandError
from worksection_async.cli._sharing import cache_dir, choose_shared_quota, sqlite_url
from worksection_async.testing import FakeWorksection, Fault, RateQuota

from .fixtures.export_support import commented_fake
from .shared._redis import RedisServer
from .test_cli import KEY, SCRIPT, Invoke, cache_home, invoke, ndjson, run

__all__ = ["cache_home", "invoke"]  # the fixtures, used here by name

# -- where the default quota lives ---------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "environ", "home", "expected"),
    [
        ("linux", {}, PurePosixPath("/home/me"), PurePosixPath("/home/me/.cache/worksection")),
        ("linux", {"XDG_CACHE_HOME": "/c"}, None, PurePosixPath("/c/worksection")),
        (  # a relative XDG_CACHE_HOME is ignored (the XDG spec)
            "linux",
            {"XDG_CACHE_HOME": "rel"},
            PurePosixPath("/home/me"),
            PurePosixPath("/home/me/.cache/worksection"),
        ),
        (
            "darwin",
            {},
            PurePosixPath("/Users/me"),
            PurePosixPath("/Users/me/Library/Caches/worksection"),
        ),
        ("darwin", {"XDG_CACHE_HOME": "/x"}, None, PurePosixPath("/x/worksection")),
        (
            "win32",
            {"LOCALAPPDATA": "C:\\Users\\me\\AppData\\Local"},
            None,
            PureWindowsPath("C:/Users/me/AppData/Local/worksection/Cache"),
        ),
        (
            "win32",
            {},
            PureWindowsPath("C:/Users/me"),
            PureWindowsPath("C:/Users/me/AppData/Local/worksection/Cache"),
        ),
    ],
)
def test_cache_dir_of_each_platform(
    platform: str, environ: dict[str, str], home: Any, expected: Any
) -> None:
    """$XDG_CACHE_HOME (absolute) first; else the platform's own cache directory."""
    assert cache_dir(environ, platform, home) == expected


def test_sqlite_urls_of_absolute_paths() -> None:
    assert sqlite_url(PurePosixPath("/home/me/q.db")) == "sqlite:///home/me/q.db"
    assert sqlite_url(PureWindowsPath("C:\\Users\\me\\q.db")) == "sqlite:///C:/Users/me/q.db"


def test_choices(tmp_path: Path) -> None:
    """The default file (its directory made), a URL as given, 'off', nothing without a
    rate limit, and a URL of another scheme refused naming where it came from (its
    password not repeated)."""
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    default = choose_shared_quota(None, rate_limited=True, environ=env)
    assert default.url == f"sqlite://{tmp_path}/worksection/quota.db"
    assert default.default and not default.warning
    assert (tmp_path / "worksection").is_dir()
    assert choose_shared_quota(None, rate_limited=False, environ=env).url is None
    for off in ("off", "OFF", " none "):
        assert choose_shared_quota(off, rate_limited=True).url is None
    for url in ("memory://bots", "redis://127.0.0.1:6379/0", "sqlite:////srv/q.db"):
        chosen = choose_shared_quota(url, rate_limited=True)
        assert chosen.url == url and not chosen.default
    with pytest.raises(CommandError, match="WORKSECTION_SHARED_QUOTA takes") as refused:
        choose_shared_quota(
            "ftp://me:s3cret@host/x", rate_limited=True, source="WORKSECTION_SHARED_QUOTA"
        )
    assert refused.value.code == 2 and "s3cret" not in str(refused.value)
    with pytest.raises(CommandError, match="--shared-quota takes"):
        choose_shared_quota("quota.db", rate_limited=True)


def test_a_cache_dir_that_cannot_be_made_is_a_warning(tmp_path: Path) -> None:
    """The default's directory cannot be created: unshared, and a warning saying why
    and how to silence it."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    chosen = choose_shared_quota(None, rate_limited=True, environ={"XDG_CACHE_HOME": str(blocker)})
    assert chosen.url is None and chosen.default
    assert f"cannot create {blocker}/worksection" in chosen.warning
    assert "WORKSECTION_SHARED_QUOTA=off" in chosen.warning


# -- the URL each command hands to SharedQuota.from_url ------------------------------


@pytest.fixture(scope="module")
def small() -> Iterator[tuple[FakeWorksection, str]]:
    fake = commented_fake(projects=2, tasks_per_project=4, long=2, api_key=KEY)
    with fake.serve_in_thread() as url:
        yield fake, url


@pytest.fixture
def handed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The URLs given to SharedQuota.from_url (which then shares nothing). No key is
    given: the quota's own default, the account's host, keys the shared state."""
    from worksection_async.shared import SharedQuota

    urls: list[str] = []

    def from_url(url: str, **kwargs: Any) -> None:
        assert kwargs.get("key") is None
        urls.append(url)

    monkeypatch.setattr(SharedQuota, "from_url", from_url)
    return urls


@pytest.mark.parametrize("command", [["projects"], ["tasks"], ["call", "get_users"], ["export"]])
def test_every_command_shares_the_cache_file_by_default(
    command: list[str],
    small: tuple[FakeWorksection, str],
    handed: list[str],
    invoke: Invoke,
    cache_home: Path,
    tmp_path: Path,
) -> None:
    """No option: the SQLite file in the user's cache (made if need be), nothing said."""
    _, url = small
    args = [*command, "--out", str(tmp_path / "t.ndjson")] if command == ["export"] else command
    code, _, err = invoke([*args, "--rate", "50"], url)
    assert code == 0, err
    assert handed == [f"sqlite://{cache_home}/worksection/quota.db"]
    assert (cache_home / "worksection").is_dir()
    assert err == "" or command == ["export"]
    assert "warning" not in err


@pytest.mark.parametrize(
    ("args", "environ", "expected"),
    [
        (["--shared-quota", "memory://mine"], {}, ["memory://mine"]),
        (["--shared-quota", "sqlite:////srv/q.db"], {}, ["sqlite:////srv/q.db"]),
        ([], {"WORKSECTION_SHARED_QUOTA": "redis://127.0.0.1:1/0"}, ["redis://127.0.0.1:1/0"]),
        (  # the option wins over the environment
            ["--shared-quota", "memory://opt"],
            {"WORKSECTION_SHARED_QUOTA": "memory://env"},
            ["memory://opt"],
        ),
        (["--shared-quota", "off"], {}, []),
        ([], {"WORKSECTION_SHARED_QUOTA": "off"}, []),
        (["--rate", "off"], {}, []),  # no rate limit: nothing to share
        (["--rate", "off"], {"WORKSECTION_SHARED_QUOTA": "memory://x"}, []),
    ],
)
def test_the_option_and_the_environment_pick_the_store(
    args: list[str],
    environ: dict[str, str],
    expected: list[str],
    small: tuple[FakeWorksection, str],
    handed: list[str],
    invoke: Invoke,
    monkeypatch: pytest.MonkeyPatch,
    cache_home: Path,
) -> None:
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    code, _, err = invoke(
        ["projects", *(["--rate", "50"] if args[:1] != ["--rate"] else []), *args], small[1]
    )
    assert code == 0, err
    assert handed == expected
    assert err == ""
    if not any(url.startswith("sqlite") for url in expected):
        assert not (cache_home / "worksection").exists()


@pytest.mark.parametrize(
    ("args", "environ", "says"),
    [
        (["--shared-quota", "ftp://u:pw-9f2@h/"], {}, "--shared-quota takes"),
        ([], {"WORKSECTION_SHARED_QUOTA": "q.db"}, "WORKSECTION_SHARED_QUOTA takes"),
        (["--shared-quota", "memory://x", "--rate", "off"], {}, "--shared-quota shares a rate"),
    ],
)
def test_a_bad_store_is_a_usage_error_before_any_request(
    args: list[str],
    environ: dict[str, str],
    says: str,
    invoke: Invoke,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    code, out, err = invoke(["projects", *args], "http://127.0.0.1:9")
    assert code == 2, err
    assert says in err and "pw-9f2" not in out + err
    assert len(err.splitlines()) == 1


def test_a_default_that_cannot_be_used_warns_once_and_runs_unshared(
    small: tuple[FakeWorksection, str],
    invoke: Invoke,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """The cache directory cannot be created, or the store refuses the file: the
    command still works, unshared, after one warning line."""
    from worksection_async.shared import SharedQuota

    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    code, out, err = invoke(["projects", "--rate", "50"], small[1])
    assert code == 0 and len(ndjson(out)) == 2
    assert err.count("warning") == 1 and f"cannot create {blocker}" in err

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    def refuse(url: str, **kwargs: Any) -> None:
        raise ValueError(f"cannot open {url}")

    monkeypatch.setattr(SharedQuota, "from_url", refuse)
    code, out, err = invoke(["projects", "--rate", "50"], small[1])
    assert code == 0 and len(ndjson(out)) == 2
    assert err.count("warning") == 1 and "not shared with other processes" in err
    code, _, err = invoke(["projects", "--shared-quota", "sqlite:////x/q.db"], small[1])
    assert code == 2 and "cannot open" in err  # one the user picked: an error


# -- two exports, real processes -------------------------------------------------------


@pytest.fixture(scope="module")
def big() -> Iterator[tuple[FakeWorksection, str]]:
    """20 projects x 100 tasks, 120 whose comments need a get_comments each."""
    fake = commented_fake(projects=20, tasks_per_project=100, long=120, api_key=KEY)
    with fake.serve_in_thread() as url:
        yield fake, url


def _env(url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKSECTION_")}
    env.pop("COLUMNS", None)
    env.update(WORKSECTION_URL=url, WORKSECTION_API_KEY=KEY, **extra)
    return env


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603 - our own console script
        [str(SCRIPT), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def _until_written(process: subprocess.Popen[str], out: Path, lines: int = 50) -> None:
    deadline = time.monotonic() + 60
    while not (out.exists() and out.read_bytes().count(b"\n") >= lines):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_two_exports_of_one_file_the_second_refuses(
    big: tuple[FakeWorksection, str], tmp_path: Path
) -> None:
    """While an export writes a file, another of it (same format or not, --resume or
    not) exits 1 saying so and touches nothing; the first ends with the file an export
    alone writes (it used to end with its checkpoint gone, tasks lost, others twice
    and corrupt lines)."""
    _, url = big
    whole = tmp_path / "whole.ndjson"
    alone = run(["export", "--comments", "--out", str(whole), "--rate", "off", "-q"], url)
    assert alone.returncode == 0, alone.stderr

    out = tmp_path / "t.ndjson"
    args = ["export", "--comments", "--out", str(out), "-q"]
    first = _start([*args, "--rate", "6"], _env(url))  # 20 s of get_comments
    try:
        _until_written(first, out)
        seconds = [
            _start([*args, *extra], _env(url))
            for extra in (["--rate", "off"], ["--format", "csv"], ["--resume"])
        ]
        for second in seconds:
            _, err = second.communicate(timeout=60)
            assert second.returncode == 1, err
            assert f"another export is writing {out} right now" in err.splitlines()[-1]
        assert first.poll() is None  # they were refused while it ran
        _, err = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()
    assert first.returncode == 0, err
    assert out.read_bytes() == whole.read_bytes()
    assert not Path(f"{out}.checkpoint").exists() and not Path(f"{out}.lock").exists()


def test_a_killed_export_resumes_at_once(big: tuple[FakeWorksection, str], tmp_path: Path) -> None:
    """SIGKILL mid-export: its lock went with it; --resume continues at once and ends
    with the file an uninterrupted export writes."""
    _, url = big
    whole = tmp_path / "whole.json"
    alone = run(["export", "--comments", "--out", str(whole), "--rate", "off", "-q"], url)
    assert alone.returncode == 0, alone.stderr
    out = tmp_path / "t.json"
    args = ["export", "--comments", "--out", str(out), "-q"]
    first = _start([*args, "--rate", "10"], _env(url))
    _until_written(first, out)
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=30)
    assert Path(f"{out}.lock").exists()  # left behind, but not held
    resumed = run([*args, "--rate", "off", "--resume"], url)
    assert resumed.returncode == 0, resumed.stderr
    assert out.read_bytes() == whole.read_bytes()


def _two_exports_at_once(
    url: str, tmp_path: Path, env: dict[str, str]
) -> tuple[list[subprocess.Popen[str]], list[str]]:
    """Two exports of the account at once, each to its own file, at 0.9 requests/s:
    100 ms of slack a request for a loaded test machine, where the fake (served in a
    thread of the test process) stamps a request when it gets to it, not when it
    arrives. Together, unshared, they go at 1.8/s on a 1/s account."""
    args = ["export", "--comments", "--rate", "0.9", "--out"]
    processes = [_start([*args, str(tmp_path / f"{n}.ndjson")], env) for n in range(2)]
    errors = []
    for process in processes:
        _, err = process.communicate(timeout=180)
        errors.append(err)
    return processes, errors


@pytest.fixture
def quota_fake() -> Iterator[tuple[FakeWorksection, str]]:
    """A fake at the API's real quota, 1 request/s on the real clock: 5 requests per
    export (a get_all_tasks and 4 get_comments)."""
    fake = commented_fake(projects=2, tasks_per_project=4, long=4, api_key=KEY)
    fake.set_quota(RateQuota(rate=1.0))
    with fake.serve_in_thread() as url:
        yield fake, url


def test_two_exports_at_once_unshared_collide(
    quota_fake: tuple[FakeWorksection, str], tmp_path: Path
) -> None:
    """The baseline (WORKSECTION_SHARED_QUOTA=off, as every export was before): the
    account answers error 20 between them (the retries still finish both)."""
    fake, url = quota_fake
    env = _env(url, WORKSECTION_SHARED_QUOTA="off")
    processes, errors = _two_exports_at_once(url, tmp_path, env)
    assert [p.returncode for p in processes] == [0, 0], errors
    assert fake.stats.rejected_quota > 0, fake.stats


def test_two_exports_at_once_through_redis(
    quota_fake: tuple[FakeWorksection, str], tmp_path: Path
) -> None:
    """Two `worksection export` processes on one account, WORKSECTION_SHARED_QUOTA
    naming a Redis: both complete, and the account answers no error 20."""
    fake, url = quota_fake
    server = RedisServer()
    server.start()
    try:
        env = _env(url, WORKSECTION_SHARED_QUOTA=server.url)
        processes, errors = _two_exports_at_once(url, tmp_path, env)
    finally:
        server.close()
    assert [p.returncode for p in processes] == [0, 0], errors
    assert all("warning" not in err for err in errors), errors
    assert fake.stats.rejected_quota == 0, fake.stats
    assert fake.stats.served == 10
    assert (tmp_path / "0.ndjson").read_bytes() == (tmp_path / "1.ndjson").read_bytes()


def test_two_exports_at_once_share_by_default(
    quota_fake: tuple[FakeWorksection, str], tmp_path: Path, cache_home: Path
) -> None:
    """The issue's done-when: two `worksection export` processes on one account, no
    option: they share the SQLite file in the user's cache, and the account answers no
    error 20 between them (unshared, they collide: the test above)."""
    fake, url = quota_fake
    processes, errors = _two_exports_at_once(url, tmp_path, _env(url))
    assert [p.returncode for p in processes] == [0, 0], errors
    assert all("warning" not in err for err in errors), errors
    assert fake.stats.rejected_quota == 0, fake.stats
    assert fake.stats.served == 10
    assert (cache_home / "worksection" / "quota.db").exists()


# -- a full disk, a replaced output ----------------------------------------------------


def test_a_full_disk_is_said_and_resume_continues(
    small: tuple[FakeWorksection, str],
    invoke: Invoke,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """ENOSPC mid-export: exit 1 and a line saying the disk is full, how many tasks are
    in the file and that --resume continues (it said "internal error"); once there is
    room, --resume ends with the file of an export that had room."""
    _, url = small
    whole, out = tmp_path / "whole.json", tmp_path / "t.json"
    code, _, err = invoke(["export", "--comments", "--out", str(whole), "--rate", "off"], url)
    assert code == 0, err
    room = len(whole.read_bytes()) // 2
    real_write = os.write

    def write(fd: int, data: Any) -> int:
        nonlocal room
        if room <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written = real_write(fd, bytes(data[:room]))
        room -= written
        return written

    monkeypatch.setattr(_checkpoint.os, "write", write)
    code, _, err = invoke(["export", "--comments", "--out", str(out), "--rate", "off"], url)
    monkeypatch.undo()
    assert code == 1
    last = err.splitlines()[-1]
    assert "internal error" not in err
    assert f"worksection: error: cannot write {out}" in last
    assert "the disk is full (No space left on device)" in last
    assert "--resume continues" in last
    assert 0 < len(json.loads(out.read_text())) < len(json.loads(whole.read_text()))
    code, _, err = invoke(
        ["export", "--comments", "--out", str(out), "--rate", "off", "--resume"], url
    )
    assert code == 0, err
    assert out.read_bytes() == whole.read_bytes()


def test_resume_over_a_replaced_output_is_refused(invoke: Invoke, tmp_path: Path) -> None:
    """An interrupted export's output replaced by another, longer file: --resume exits
    2 saying so and leaves both files as they are (it exited 0, the foreign lines kept
    and records missing)."""
    fake = commented_fake(projects=3, tasks_per_project=10, long=10, seed=7, api_key=KEY)
    out = tmp_path / "t.ndjson"
    args = ["export", "--comments", "--out", str(out), "--rate", "off"]
    with fake.serve_in_thread() as url:
        fake.faults.add(Fault.http_error(502), action="get_comments")
        code, _, err = invoke(args, url)
        assert code == 4, err
        foreign = b"".join(b'{"id":%d,"name":"not ours"}\n' % n for n in range(400))
        out.write_bytes(foreign)
        checkpoint = Path(f"{out}.checkpoint").read_bytes()
        code, _, err = invoke([*args, "--resume"], url)
    assert code == 2, err
    assert f"{out} is not what the export wrote" in err
    assert out.read_bytes() == foreign
    assert Path(f"{out}.checkpoint").read_bytes() == checkpoint
