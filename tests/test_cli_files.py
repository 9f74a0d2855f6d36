"""The command's records and export file: formats, fields, checkpoint, resume, progress."""

from __future__ import annotations

import csv
import errno
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from worksection_async.cli import _checkpoint
from worksection_async.cli._checkpoint import ExportFile, FileLock, checkpoint_path, lock_path
from worksection_async.cli._errors import CommandError, Secrets, exit_code, report
from worksection_async.cli._output import RecordFormat, model_columns, parse_fields
from worksection_async.cli._progress import (
    PlainProgress,
    RichProgress,
    Status,
    format_duration,
    reporter_for,
)
from worksection_async.models import Task

RECORDS: list[dict[str, Any]] = [
    {"id": 1, "name": "One", "user_to": {"email": "a@x.com"}, "odd": [1, 2]},
    {"id": 2, "name": 'Two, "quoted"\nand multi-line', "user_to": None},
    {"id": 3, "name": "Три"},
]
WHAT = {"account": "http://127.0.0.1:1", "projects": None, "comments": True, "format": "x"}


def render(layout: RecordFormat, records: list[dict[str, Any]]) -> str:
    body = "".join(layout.record(n, record) for n, record in enumerate(records))
    return layout.start() + body + layout.end(len(records))


# -- formats -----------------------------------------------------------------------------


def test_ndjson_one_object_per_line() -> None:
    """NDJSON: each record a compact JSON line, nothing else."""
    text = render(RecordFormat("ndjson"), RECORDS)
    assert [json.loads(line) for line in text.splitlines()] == RECORDS
    assert text.count("\n") == 3


@pytest.mark.parametrize("count", [0, 1, 3])
def test_json_is_an_array_with_a_record_per_line(count: int) -> None:
    """JSON: a valid array for any count, one record per line."""
    text = render(RecordFormat("json"), RECORDS[:count])
    assert json.loads(text) == RECORDS[:count]
    assert len(text.splitlines()) == count + 2 if count else text == "[\n]\n"


def test_csv_columns_keep_every_key() -> None:
    """CSV: model columns, nested values as JSON, unknown keys in 'extra'; quotes kept."""
    layout = RecordFormat("csv", None, ("id", "name", "user_to", "extra"))
    rows = list(csv.DictReader(io.StringIO(render(layout, RECORDS))))
    assert [row["id"] for row in rows] == ["1", "2", "3"]
    assert rows[1]["name"] == RECORDS[1]["name"]
    assert json.loads(rows[0]["user_to"]) == {"email": "a@x.com"}
    assert json.loads(rows[0]["extra"]) == {"odd": [1, 2]}
    assert rows[1]["user_to"] == "" and rows[2]["extra"] == ""


def test_fields_select_dotted_paths() -> None:
    """--fields: dotted paths into objects and lists; missing ones are null."""
    layout = RecordFormat("ndjson", parse_fields("id, user_to.email,odd.1,nope.deeper"))
    first = json.loads(layout.record(0, RECORDS[0]))
    assert first == {"id": 1, "user_to.email": "a@x.com", "odd.1": 2, "nope.deeper": None}
    csv_layout = RecordFormat("csv", parse_fields("id,user_to.email"))
    assert csv_layout.start() == "id,user_to.email\n"
    assert csv_layout.record(1, RECORDS[1]) == "2,\n"


def test_bad_fields_and_formats() -> None:
    """Empty --fields, an unknown format, CSV without columns: ValueError."""
    with pytest.raises(ValueError, match="names no field"):
        parse_fields(" , ")
    with pytest.raises(ValueError, match="format must be one of"):
        RecordFormat("xml")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="CSV needs its columns"):
        RecordFormat("csv")


def test_model_columns_are_the_api_keys() -> None:
    """A Task's columns are its JSON keys in order, with 'extra' last."""
    columns = model_columns(Task)
    assert columns[:3] == ("id", "name", "page")
    assert columns[-1] == "extra" and "comments" in columns and "from_" not in columns


# -- the export file --------------------------------------------------------------------


def write(file: ExportFile, records: list[dict[str, Any]]) -> None:
    for record in records:
        file.write(record["id"], record)


def crash(file: ExportFile) -> None:
    """What a killed process leaves: its descriptors closed (its lock with them), its
    files as they are."""
    file._close_fds()
    os.close(file._lock._fd)
    file._lock._fd = -1


@pytest.mark.parametrize("fmt", ["ndjson", "json", "csv"])
def test_stopped_file_is_valid_and_resumes_to_the_same_bytes(tmp_path: Path, fmt: Any) -> None:
    """Stop after 2 records (a partial third on disk), resume: equal to one whole run."""
    layout = RecordFormat(fmt, None, ("id", "name", "user_to", "extra"))
    whole = tmp_path / "whole.out"
    one = ExportFile(whole, layout, WHAT)
    one.open(resume=False)
    write(one, RECORDS)
    one.finish()
    assert not checkpoint_path(whole).exists()

    out = tmp_path / "part.out"
    first = ExportFile(out, layout, WHAT)
    first.open(resume=False)
    write(first, RECORDS[:2])
    with out.open("ab") as file:
        file.write(b'{"id": 3, "na')  # a record cut short by a crash
    assert first.stop()
    stopped = out.read_text()
    if fmt == "json":
        assert json.loads(stopped) == RECORDS[:2]
    elif fmt == "ndjson":
        assert [json.loads(line)["id"] for line in stopped.splitlines()] == [1, 2]
    else:
        assert [r["id"] for r in csv.DictReader(io.StringIO(stopped))] == ["1", "2"]

    second = ExportFile(out, layout, WHAT)
    with pytest.raises(CommandError, match="add --resume"):
        second.open(resume=False)
    second.open(resume=True)
    assert second.done == {1, 2} and second.records == 2
    write(second, [r for r in RECORDS if r["id"] not in second.done])
    second.finish()
    assert out.read_bytes() == whole.read_bytes()
    assert not checkpoint_path(out).exists()


def test_a_cut_checkpoint_line_is_not_counted(tmp_path: Path) -> None:
    """A checkpoint line cut short (a crash mid-write) is ignored on resume."""
    out = tmp_path / "t.ndjson"
    file = ExportFile(out, RecordFormat("ndjson"), WHAT)
    file.open(resume=False)
    write(file, RECORDS[:2])
    with checkpoint_path(out).open("ab") as checkpoint:
        checkpoint.write(b'{"id":3,"en')
    crash(file)
    again = ExportFile(out, RecordFormat("ndjson"), WHAT)
    again.open(resume=True)
    assert again.done == {1, 2}
    write(again, RECORDS[2:])
    again.finish()
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == [1, 2, 3]


def test_resume_with_other_options_is_refused(tmp_path: Path) -> None:
    """A checkpoint made with other options is not continued."""
    out = tmp_path / "t.ndjson"
    file = ExportFile(out, RecordFormat("ndjson"), WHAT)
    file.open(resume=False)
    write(file, RECORDS[:1])
    file.stop()
    other = ExportFile(out, RecordFormat("ndjson"), {**WHAT, "comments": False})
    with pytest.raises(CommandError, match=r"other options \(comments differ\)"):
        other.open(resume=True)


def test_resume_of_a_changed_output_is_refused(tmp_path: Path) -> None:
    """An output shorter than its checkpoint says was changed: refused."""
    out = tmp_path / "t.ndjson"
    file = ExportFile(out, RecordFormat("ndjson"), WHAT)
    file.open(resume=False)
    write(file, RECORDS)
    file.stop()
    out.write_text("")
    with pytest.raises(CommandError, match="shorter than its checkpoint"):
        ExportFile(out, RecordFormat("ndjson"), WHAT).open(resume=True)


@pytest.mark.parametrize("fmt", ["ndjson", "json", "csv"])
def test_resume_over_a_replaced_output_is_refused(tmp_path: Path, fmt: Any) -> None:
    """Another file put in place of an interrupted export's output (longer, other
    content): --resume refuses and leaves it as it is (it used to keep the foreign
    bytes up to the checkpoint's offset and append the rest, exit 0)."""
    layout = RecordFormat(fmt, None, ("id", "name", "user_to", "extra"))
    out = tmp_path / "t.out"
    file = ExportFile(out, layout, WHAT)
    file.open(resume=False)
    write(file, RECORDS[:2])
    assert file.stop()
    foreign = out.read_bytes().replace(b"One", b"Uno") + b"more lines of another file\n" * 50
    out.write_bytes(foreign)
    with pytest.raises(CommandError, match="is not what the export wrote") as refused:
        ExportFile(out, layout, WHAT).open(resume=True)
    assert str(checkpoint_path(out)) in str(refused.value)
    assert out.read_bytes() == foreign
    assert checkpoint_path(out).exists() and not lock_path(out).exists()


def test_resume_after_a_checkpoint_of_another_version_is_refused(tmp_path: Path) -> None:
    """A checkpoint without digests (version 1) cannot be verified: refused, named."""
    out = tmp_path / "t.ndjson"
    out.write_text('{"id":1}\n')
    checkpoint_path(out).write_text(
        '{"version":1,"account":"x","comments":true,"format":"x","projects":null,'
        '"start":0}\n{"id":1,"end":9}\n'
    )
    with pytest.raises(CommandError, match="not a checkpoint this version"):
        ExportFile(out, RecordFormat("ndjson"), WHAT).open(resume=True)


@pytest.mark.parametrize("fmt", ["ndjson", "json", "csv"])
def test_a_second_export_of_the_same_output_is_refused(tmp_path: Path, fmt: Any) -> None:
    """While one export writes a file, another of it (any format, resuming or not) is
    refused before it touches anything; once the first is done, it may go."""
    layout = RecordFormat(fmt, None, ("id", "name", "user_to", "extra"))
    out = tmp_path / "t.out"
    first = ExportFile(out, layout, WHAT)
    first.open(resume=False)
    write(first, RECORDS[:2])
    before = out.read_bytes(), checkpoint_path(out).read_bytes()
    for other, resume in (("ndjson", False), ("csv", True), (fmt, False)):
        second = ExportFile(out, RecordFormat(other, None, ("id",)), WHAT)
        with pytest.raises(CommandError, match="another export is writing") as refused:
            second.open(resume=resume)
        assert refused.value.code == 1
    assert (out.read_bytes(), checkpoint_path(out).read_bytes()) == before
    write(first, RECORDS[2:])
    first.finish()
    assert not lock_path(out).exists()
    again = ExportFile(out, layout, WHAT)
    again.open(resume=False)
    assert again.stop() is False


def test_the_lock_of_a_dead_export_is_free(tmp_path: Path) -> None:
    """A killed export's lock goes with its process: --resume continues at once (its
    lock file left behind is reused)."""
    out = tmp_path / "t.ndjson"
    file = ExportFile(out, RecordFormat("ndjson"), WHAT)
    file.open(resume=False)
    write(file, RECORDS[:1])
    crash(file)
    assert lock_path(out).exists()
    again = ExportFile(out, RecordFormat("ndjson"), WHAT)
    again.open(resume=True)
    write(again, RECORDS[1:])
    again.finish()
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == [1, 2, 3]
    assert not lock_path(out).exists()


def test_a_lock_file_removed_by_its_holder_is_not_taken(tmp_path: Path) -> None:
    """The holder removes the lock file as it lets go: a process that opened it before
    must not think it holds the lock (it takes the new file's)."""
    path = tmp_path / "x.lock"
    holder = FileLock(path)
    assert holder.acquire()
    stale = os.open(path, os.O_RDWR)  # opened by someone else before the release
    try:
        holder.release()
        assert not path.exists()
        contender, third = FileLock(path), FileLock(path)
        assert contender.acquire()
        assert not third.acquire()  # one holder, not two
        contender.release()
    finally:
        os.close(stale)


_REAL_WRITE = os.write


class _Disk:
    """os.write with room for ``room`` more bytes, then ENOSPC (after a partial write)."""

    def __init__(self, room: int) -> None:
        self.room = room

    def __call__(self, fd: int, data: Any) -> int:
        if self.room <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written = _REAL_WRITE(fd, bytes(data[: self.room]))
        self.room -= written
        return written


@pytest.mark.parametrize("fmt", ["ndjson", "json", "csv"])
@pytest.mark.parametrize("room", [0, 5, 60, 150])
def test_a_full_disk_is_named_and_resumes_when_there_is_room(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: Any, room: int
) -> None:
    """The disk fills mid-record (or mid-note): a CommandError that says the disk is
    full (exit 1); stop leaves the records noted; with room again, --resume ends with
    the bytes of an uninterrupted export."""
    layout = RecordFormat(fmt, None, ("id", "name", "user_to", "extra"))
    whole = tmp_path / "whole.out"
    one = ExportFile(whole, layout, WHAT)
    one.open(resume=False)
    write(one, RECORDS)
    one.finish()

    out = tmp_path / "t.out"
    file = ExportFile(out, layout, WHAT)
    file.open(resume=False)
    write(file, RECORDS[:1])
    monkeypatch.setattr(_checkpoint.os, "write", _Disk(room))
    with pytest.raises(CommandError, match="the disk is full") as full:
        write(file, RECORDS[1:])
    assert full.value.code == 1 and str(out) in str(full.value)  # out, or its checkpoint
    monkeypatch.undo()
    assert file.stop()
    assert file.records >= 1 and not lock_path(out).exists()

    again = ExportFile(out, layout, WHAT)
    again.open(resume=True)
    write(again, [r for r in RECORDS if r["id"] not in again.done])
    again.finish()
    assert out.read_bytes() == whole.read_bytes()


def test_resume_without_a_checkpoint_starts_afresh(tmp_path: Path) -> None:
    """--resume with no checkpoint: a new export (a complete file is overwritten)."""
    out = tmp_path / "t.ndjson"
    out.write_text("old\n")
    file = ExportFile(out, RecordFormat("ndjson"), WHAT)
    file.open(resume=True)
    write(file, RECORDS[:1])
    file.finish()
    assert out.read_text() == '{"id":1,"name":"One","user_to":{"email":"a@x.com"},"odd":[1,2]}\n'


def test_a_new_export_stopped_before_any_record_leaves_nothing(tmp_path: Path) -> None:
    """Nothing written: no output, no checkpoint, nothing to resume."""
    out = tmp_path / "t.json"
    file = ExportFile(out, RecordFormat("json"), WHAT)
    file.open(resume=False)
    assert not file.stop()
    assert not out.exists() and not checkpoint_path(out).exists()


# -- errors -----------------------------------------------------------------------------


def test_errors_are_one_masked_line() -> None:
    """One line, the key masked in any encoding, the traceback too with debug."""
    from worksection_async import InvalidTaskError, ProtocolError, TransportError

    secrets = Secrets()
    secrets.add("s3cret-key")
    stream = io.StringIO()
    try:
        raise ValueError("bad value near s3cret-key and s3cret%2Dkey\nsecond line")
    except ValueError as exc:
        code = report(exc, secrets, debug=True, stream=stream)
    assert code == 2
    text = stream.getvalue()
    assert "s3cret" not in text and "Traceback" in text
    assert text.splitlines()[-1].startswith("worksection: error: bad value near [redacted]")
    assert exit_code(InvalidTaskError(5, "Task is invalid")) == 3
    assert exit_code(TransportError("down")) == 4
    assert exit_code(ProtocolError("html", http_status=502)) == 4
    assert exit_code(KeyboardInterrupt()) == 130
    assert exit_code(RuntimeError("bug")) == 1


# -- progress ----------------------------------------------------------------------------


class Ticker:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_rich_bar_shows_requests_rate_and_eta() -> None:
    """The bar, rendered into a captured terminal console: done/planned, rate, ETA."""
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=120, color_system=None)
    status = Status(lambda: 0.5)
    bar = RichProgress(console, status)
    bar.requests(0, 1)
    bar.requests(1, 41)
    bar.wrote(300)
    bar.requests(21, 41)
    bar.close()
    screen = buffer.getvalue()
    assert "21/41 requests" in screen
    assert "300 tasks" in screen
    assert "0.50 req/s" in screen
    assert "ETA 40s" in screen  # 20 requests left at 0.5/s
    assert "━" in screen  # the bar itself


def test_plain_lines_every_interval() -> None:
    """Not a terminal: a plain line at the start, then at most one per interval, and
    a last one on close."""
    clock = Ticker()
    stream = io.StringIO()
    status = Status(lambda: None, clock)
    plain = PlainProgress(stream, status, interval=10.0, clock=clock)
    plain.requests(0, 1)
    for done in range(1, 31):
        clock.t += 1.0
        plain.requests(done, 31)
        plain.wrote(done * 10)
    plain.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 5  # t=100, 110, 120, 130, and close
    assert lines[0] == "worksection: export: 0/1 requests (0%), 0 tasks written, ? req/s, ETA ?"
    assert lines[-1].startswith("worksection: export: 30/31 requests (96%), 300 tasks written")
    assert "1.00 req/s, ETA 1s" in lines[-1]  # measured: 30 requests in 30 s


def test_reporter_follows_the_terminal() -> None:
    """A terminal gets the bar, anything else plain lines, --quiet nothing."""
    status = Status(lambda: 1.0)
    terminal = Console(file=io.StringIO(), force_terminal=True)
    pipe = Console(file=io.StringIO(), force_terminal=False)
    rich_reporter = reporter_for(status, console=terminal)
    assert isinstance(rich_reporter, RichProgress)
    rich_reporter.close()
    assert isinstance(reporter_for(status, console=pipe), PlainProgress)
    assert type(reporter_for(status, quiet=True)).__name__ == "NoProgress"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "?"), (float("inf"), "?"), (0.4, "0s"), (42, "42s"), (185, "3m 05s"), (3720, "1h 02m")],
)
def test_durations(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text
