"""A resumable export file: records appended whole, and a checkpoint beside it.

The checkpoint (``<out>.checkpoint``) is append-only NDJSON. Its first line says what
is being exported (account, projects, options, format) and where the records start;
then one line per record written: the task's id and the byte offset where its record
ends in the output. A record is written to the output with one ``write`` and then
noted in the checkpoint, so the checkpoint's last line always points at the end of a
whole record.

Resuming reads the checkpoint (a last line cut short is ignored), cuts the output
back to where its last noted record ends (dropping a record written but not noted, a
partial one, and a JSON array's closing bracket) and appends from there; the ids
noted are the tasks not to fetch or write again. When the export completes, the end
is written and the checkpoint removed: a complete file has none. An interrupted run
writes the end too (a JSON array is closed), so the file is valid as it stands.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from ._errors import CommandError
from ._output import RecordFormat

__all__ = ["CHECKPOINT_SUFFIX", "CHECKPOINT_VERSION", "ExportFile", "checkpoint_path"]

CHECKPOINT_SUFFIX: Final = ".checkpoint"
CHECKPOINT_VERSION: Final = 1


def checkpoint_path(out: Path) -> Path:
    return out.with_name(out.name + CHECKPOINT_SUFFIX)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _read_checkpoint(path: Path) -> tuple[dict[str, Any], list[tuple[int, int]], int]:
    """The header, the (id, end offset) entries, and the length of the valid part."""
    raw = path.read_bytes()
    header: dict[str, Any] | None = None
    entries: list[tuple[int, int]] = []
    valid = 0
    position = 0
    while True:
        newline = raw.find(b"\n", position)
        if newline == -1:
            break  # a last line cut short: not noted
        line = raw[position:newline]
        try:
            item = json.loads(line)
        except ValueError:
            break
        if header is None:
            if not isinstance(item, dict) or item.get("version") != CHECKPOINT_VERSION:
                raise CommandError(
                    f"{path} is not a checkpoint this version of worksection can read; "
                    "delete it to start the export again"
                )
            header = item
        else:
            if not (
                isinstance(item, dict)
                and type(item.get("id")) is int
                and type(item.get("end")) is int
            ):
                break
            entries.append((item["id"], item["end"]))
        position = valid = newline + 1
    if header is None:
        raise CommandError(f"{path} is empty or unreadable; delete it to start again")
    return header, entries, valid


class ExportFile:
    """The output and its checkpoint while an export runs (see the module docstring)."""

    def __init__(self, out: Path, layout: RecordFormat, what: Mapping[str, Any]) -> None:
        self.out = out
        self.checkpoint = checkpoint_path(out)
        self.layout = layout
        self.what: dict[str, Any] = json.loads(json.dumps(dict(what)))  # JSON's types
        self.done: set[int] = set()
        self.records = 0
        self._offset = 0
        self._out_fd = -1
        self._cp_fd = -1
        self._fresh = False

    # -- opening ---------------------------------------------------------------------

    def open(self, *, resume: bool) -> None:
        """Start a new export, or continue the one the checkpoint describes."""
        if self.checkpoint.exists():
            if not resume:
                raise CommandError(
                    f"an interrupted export is at {self.out} ({self.checkpoint.name} "
                    "beside it): add --resume to continue it, or delete "
                    f"{self.checkpoint} to start again"
                )
            self._reopen()
        else:
            self._create()

    def _create(self) -> None:
        start = self.layout.start().encode()
        self._out_fd = os.open(self.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        _write_all(self._out_fd, start)
        self._offset = len(start)
        header = {"version": CHECKPOINT_VERSION, **self.what, "start": self._offset}
        self._cp_fd = os.open(self.checkpoint, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        _write_all(self._cp_fd, (json.dumps(header, sort_keys=True) + "\n").encode())
        self._fresh = True

    def _reopen(self) -> None:
        header, entries, valid = _read_checkpoint(self.checkpoint)
        start = header.get("start")
        recorded = {key: value for key, value in header.items() if key not in ("version", "start")}
        if recorded != self.what:
            changed = sorted(
                key
                for key in set(recorded) | set(self.what)
                if recorded.get(key) != self.what.get(key)
            )
            raise CommandError(
                f"{self.checkpoint} was made by an export with other options "
                f"({', '.join(changed)} differ): run it with the same ones to resume, or "
                f"delete {self.checkpoint} to start again"
            )
        offset = entries[-1][1] if entries else start
        size = self.out.stat().st_size if self.out.exists() else -1
        if type(offset) is not int or size < offset:
            raise CommandError(
                f"{self.out} is shorter than its checkpoint says: it was changed or "
                f"removed; delete {self.checkpoint} to start the export again"
            )
        self._out_fd = os.open(self.out, os.O_WRONLY)
        os.ftruncate(self._out_fd, offset)
        os.lseek(self._out_fd, offset, os.SEEK_SET)
        self._cp_fd = os.open(self.checkpoint, os.O_WRONLY)
        os.ftruncate(self._cp_fd, valid)
        os.lseek(self._cp_fd, valid, os.SEEK_SET)
        self._offset = offset
        self.done = {task_id for task_id, _ in entries}
        self.records = len(entries)

    # -- writing ---------------------------------------------------------------------

    def write(self, task_id: int, data: Mapping[str, Any], mask: Any = None) -> None:
        """Append one record whole, then note it in the checkpoint."""
        text = self.layout.record(self.records, data)
        if mask is not None:
            text = mask(text)
        encoded = text.encode()
        _write_all(self._out_fd, encoded)
        end = self._offset + len(encoded)
        _write_all(self._cp_fd, f'{{"id":{task_id},"end":{end}}}\n'.encode())
        self._offset = end
        self.records += 1
        self.done.add(task_id)

    def _close_fds(self) -> None:
        for fd in (self._out_fd, self._cp_fd):
            if fd >= 0:
                os.close(fd)
        self._out_fd = self._cp_fd = -1

    def finish(self) -> None:
        """Write the end and remove the checkpoint: the export is complete."""
        _write_all(self._out_fd, self.layout.end(self.records).encode())
        self._close_fds()
        self.checkpoint.unlink()

    def stop(self) -> bool:
        """Leave a valid file and the checkpoint to resume from (after Ctrl-C or an
        error): cut back to the last record noted, then write the end. A new export
        that wrote nothing leaves nothing (``False``): there is nothing to resume."""
        if self._out_fd < 0:
            return False
        self._close_fds()
        _, entries, _ = _read_checkpoint(self.checkpoint)
        if self._fresh and not entries:
            self.out.unlink(missing_ok=True)
            self.checkpoint.unlink(missing_ok=True)
            self.records = 0
            return False
        offset = entries[-1][1] if entries else self._start_offset()
        with self.out.open("r+b") as file:
            file.truncate(offset)
            file.seek(offset)
            file.write(self.layout.end(len(entries)).encode())
        self.records = len(entries)
        return True

    def _start_offset(self) -> int:
        header, _, _ = _read_checkpoint(self.checkpoint)
        start = header.get("start")
        return start if type(start) is int else 0
