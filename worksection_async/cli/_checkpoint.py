"""A resumable export file: records appended whole, and a checkpoint beside it.

The checkpoint (``<out>.checkpoint``) is append-only NDJSON. Its first line says what
is being exported (account, projects, options, format) and where the records start;
then one line per record written: the task's id, the byte offset where its record
ends in the output, and the SHA-256 of the output up to there. A record is written to
the output with one ``write`` and then noted in the checkpoint, so the checkpoint's
last line always points at the end of a whole record.

Resuming reads the checkpoint (a last line cut short is ignored), checks that the
output's bytes up to its last noted record are the ones written (a file replaced or
changed since is refused, never appended to), cuts the output back to there (dropping
a record written but not noted, a partial one, and a JSON array's closing bracket)
and appends from there; the ids noted are the tasks not to fetch or write again. When
the export completes, the end is written and the checkpoint removed: a complete file
has none. An interrupted run writes the end too (a JSON array is closed), so the file
is valid as it stands.

One export at a time writes an output: each holds an OS lock on ``<out>.lock``
(``flock``; ``msvcrt.locking`` on Windows) from before it touches the output until it
is done, and another export of the same file is refused. The operating system
releases the lock of a process that dies, so a killed export can be resumed at once.

A write that fails (a full disk) is a ``CommandError`` that says so; the checkpoint
still notes only records written whole, so ``--resume`` continues once there is room.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from ._errors import EXIT_FAILURE, CommandError
from ._output import RecordFormat

__all__ = [
    "CHECKPOINT_SUFFIX",
    "CHECKPOINT_VERSION",
    "LOCK_SUFFIX",
    "ExportFile",
    "FileLock",
    "checkpoint_path",
    "lock_path",
]

CHECKPOINT_SUFFIX: Final = ".checkpoint"
CHECKPOINT_VERSION: Final = 2
LOCK_SUFFIX: Final = ".lock"
_DIGEST: Final = "sha256"
_CHUNK: Final = 1 << 20


def checkpoint_path(out: Path) -> Path:
    return out.with_name(out.name + CHECKPOINT_SUFFIX)


def lock_path(out: Path) -> Path:
    """The lock an export of ``out`` holds while it writes."""
    return out.with_name(out.name + LOCK_SUFFIX)


if sys.platform == "win32":  # pragma: no cover - the tests run on Linux
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return False
            raise
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


class FileLock:
    """An exclusive OS lock on ``path`` (created if need be), never waited for: the
    operating system releases it when the process that holds it dies."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = -1

    @property
    def held(self) -> bool:
        """This object holds the lock."""
        return self._fd >= 0

    def acquire(self) -> bool:
        """Take the lock; ``False`` if another process (or file object) holds it."""
        if self._fd >= 0:
            return True
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                if not _try_lock(fd):
                    os.close(fd)
                    return False
                # The holder before us removes the file as it lets go: a lock on a file
                # no longer at ``path`` guards nothing, so take the one that is there.
                try:
                    now = os.stat(self.path)
                except FileNotFoundError:
                    now = None
                mine = os.fstat(fd)
                if now is not None and (now.st_ino, now.st_dev) == (mine.st_ino, mine.st_dev):
                    self._fd = fd
                    return True
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)

    def release(self) -> None:
        """Remove the lock file and let go of the lock (nothing if not held)."""
        if self._fd < 0:
            return
        fd, self._fd = self._fd, -1
        try:
            with contextlib.suppress(OSError):
                if sys.platform != "win32":  # Windows cannot remove a file that is open
                    self.path.unlink(missing_ok=True)
                _unlock(fd)
        finally:
            os.close(fd)
        if sys.platform == "win32":  # pragma: no cover
            with contextlib.suppress(OSError):
                self.path.unlink(missing_ok=True)


def _write_failed(path: Path, exc: OSError) -> CommandError:
    """A failed write as what it is: a full disk says so."""
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        reason = f"the disk is full ({reason})"
    return CommandError(f"cannot write {path}: {reason}", EXIT_FAILURE)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _read_checkpoint(path: Path) -> tuple[dict[str, Any], list[tuple[int, int, str]], int]:
    """The header, the (id, end offset, digest of the output up to it) entries, and the
    length of the valid part."""
    raw = path.read_bytes()
    header: dict[str, Any] | None = None
    entries: list[tuple[int, int, str]] = []
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
            if (
                not isinstance(item, dict)
                or item.get("version") != CHECKPOINT_VERSION
                or type(item.get("start")) is not int
                or not isinstance(item.get(_DIGEST), str)
            ):
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
                and isinstance(item.get(_DIGEST), str)
            ):
                break
            entries.append((item["id"], item["end"], item[_DIGEST]))
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
        self._lock = FileLock(lock_path(out))
        self._offset = 0
        self._hash = hashlib.sha256()
        self._out_fd = -1
        self._cp_fd = -1
        self._fresh = False

    # -- opening ---------------------------------------------------------------------

    def open(self, *, resume: bool) -> None:
        """Start a new export, or continue the one the checkpoint describes; refused
        while another export writes the same output."""
        try:
            locked = self._lock.acquire()
        except OSError as exc:
            raise CommandError(
                f"cannot lock {self._lock.path}: {exc.strerror or exc}", EXIT_FAILURE
            ) from None
        if not locked:
            raise CommandError(
                f"another export is writing {self.out} right now ({self._lock.path} is "
                "locked): wait for it to end, or export to another file",
                EXIT_FAILURE,
            )
        try:
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
        except BaseException:
            self._close_fds()
            self._lock.release()
            raise

    def _create(self) -> None:
        start = self.layout.start().encode()
        self._hash = hashlib.sha256(start)
        try:
            self._out_fd = os.open(self.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            _write_all(self._out_fd, start)
        except OSError as exc:
            raise _write_failed(self.out, exc) from None
        self._offset = len(start)
        header = {
            "version": CHECKPOINT_VERSION,
            **self.what,
            "start": self._offset,
            _DIGEST: self._hash.hexdigest(),
        }
        try:
            self._cp_fd = os.open(self.checkpoint, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            _write_all(self._cp_fd, (json.dumps(header, sort_keys=True) + "\n").encode())
        except OSError as exc:
            self._close_fds()
            self.checkpoint.unlink(missing_ok=True)
            self.out.unlink(missing_ok=True)
            raise _write_failed(self.checkpoint, exc) from None
        self._fresh = True

    def _reopen(self) -> None:
        header, entries, valid = _read_checkpoint(self.checkpoint)
        recorded = {
            key: value for key, value in header.items() if key not in ("version", "start", _DIGEST)
        }
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
        offset, digest = (
            (entries[-1][1], entries[-1][2])
            if entries
            else (
                header["start"],
                header[_DIGEST],
            )
        )
        try:
            self._out_fd = os.open(self.out, os.O_RDWR)
        except FileNotFoundError:
            raise self._changed("was removed") from None
        if os.fstat(self._out_fd).st_size < offset:
            raise self._changed("is shorter than its checkpoint says")
        self._hash = _prefix_hash(self._out_fd, offset)
        if self._hash.hexdigest() != digest:
            raise self._changed(
                f"is not what the export wrote: its first {offset} bytes differ from "
                "those its checkpoint noted"
            )
        try:
            os.ftruncate(self._out_fd, offset)
            os.lseek(self._out_fd, offset, os.SEEK_SET)
            self._cp_fd = os.open(self.checkpoint, os.O_WRONLY)
            os.ftruncate(self._cp_fd, valid)
            os.lseek(self._cp_fd, valid, os.SEEK_SET)
        except OSError as exc:
            raise _write_failed(self.out, exc) from None
        self._offset = offset
        self.done = {task_id for task_id, _, _ in entries}
        self.records = len(entries)

    def _changed(self, how: str) -> CommandError:
        return CommandError(
            f"{self.out} {how} (it was replaced or changed since): it is left as it is; "
            f"delete {self.checkpoint} to start the export again"
        )

    # -- writing ---------------------------------------------------------------------

    def write(self, task_id: int, data: Mapping[str, Any], mask: Any = None) -> None:
        """Append one record whole, then note it in the checkpoint."""
        text = self.layout.record(self.records, data)
        if mask is not None:
            text = mask(text)
        encoded = text.encode()
        running = self._hash.copy()
        running.update(encoded)
        end = self._offset + len(encoded)
        note = json.dumps({"id": task_id, "end": end, _DIGEST: running.hexdigest()})
        try:
            _write_all(self._out_fd, encoded)
        except OSError as exc:
            raise _write_failed(self.out, exc) from None
        try:
            _write_all(self._cp_fd, (note + "\n").encode())
        except OSError as exc:
            raise _write_failed(self.checkpoint, exc) from None
        self._hash = running
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
        try:
            _write_all(self._out_fd, self.layout.end(self.records).encode())
        except OSError as exc:
            raise _write_failed(self.out, exc) from None
        self._close_fds()
        self.checkpoint.unlink()
        self._lock.release()

    def stop(self) -> bool:
        """Leave a valid file and the checkpoint to resume from (after Ctrl-C or an
        error): cut back to the last record noted, then write the end. A new export
        that wrote nothing leaves nothing (``False``): there is nothing to resume.

        A ``CommandError`` if the end cannot be written (a full disk): the output may
        then end with a partial record, which ``--resume`` drops."""
        try:
            if self._out_fd < 0:
                return False
            self._close_fds()
            header, entries, _ = _read_checkpoint(self.checkpoint)
            if self._fresh and not entries:
                self.out.unlink(missing_ok=True)
                self.checkpoint.unlink(missing_ok=True)
                self.records = 0
                return False
            offset = entries[-1][1] if entries else header["start"]
            self.records = len(entries)
            try:
                with self.out.open("r+b") as file:
                    file.truncate(offset)
                    file.seek(offset)
                    file.write(self.layout.end(len(entries)).encode())
            except OSError as exc:
                raise _write_failed(self.out, exc) from None
            return True
        finally:
            self._lock.release()


def _prefix_hash(fd: int, length: int) -> Any:
    """The SHA-256 of the first ``length`` bytes of ``fd`` (read in chunks)."""
    digest = hashlib.sha256()
    os.lseek(fd, 0, os.SEEK_SET)
    left = length
    while left:
        chunk = os.read(fd, min(_CHUNK, left))
        if not chunk:
            break
        digest.update(chunk)
        left -= len(chunk)
    return digest
