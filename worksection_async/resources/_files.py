"""Files: attachments (``attach[n]``), ``upload_files``, ``get_files`` and ``download``.

Two upload flows exist:

* ``attach=[...]`` on ``post_project``, ``post_task`` and ``post_comment``: a multipart
  request with one ``attach[n]`` part per file (the signed parameters stay in the URL);
* ``client.files.upload([...])`` (``upload_files``, parts named ``files[]``) returns
  :class:`~worksection_async.models.Upload` descriptors that ``post_task(uploads=...)``
  sends on as ``files``.

A file given by path is opened (in a worker thread) for the duration of the call and
streamed by httpx in chunks, never read whole into memory. Downloads stream to a path
or a binary file object.
"""

from __future__ import annotations

import contextlib
import io
import mimetypes
import os
from collections.abc import AsyncIterator, Sequence
from typing import IO, BinaryIO, TypeAlias

import anyio.to_thread
import attrs

from .._call import Call, UploadFile
from .._pages import Page
from .._transport import Download
from ..models import File, Upload, astructure_list, structure_list
from ._protocol import ClientLike, Destination
from ._render import HasId, positive_id

__all__ = ["AttachItem", "FilesNamespace", "attachments", "get_files"]

AttachItem: TypeAlias = str | os.PathLike[str] | tuple[str, bytes | IO[bytes]] | UploadFile
"""A file to send: a path, a ``(filename, bytes or binary file)`` pair, or an
:class:`~worksection_async.UploadFile` (its part name is replaced)."""


def _content_type(filename: str) -> str:
    guessed, _ = mimetypes.guess_type(filename, strict=False)
    return guessed or "application/octet-stream"


def _check(name: str, items: Sequence[AttachItem] | None) -> list[AttachItem]:
    """Type-check the items before anything is opened or sent."""
    if items is None:
        return []
    if isinstance(items, (str, os.PathLike, tuple, UploadFile)):
        raise TypeError(f"{name} must be a list of files; wrap a single file in a list")
    checked: list[AttachItem] = []
    for item in items:
        if isinstance(item, UploadFile):
            pass
        elif isinstance(item, (str, os.PathLike)):
            if not os.fspath(item):
                raise ValueError(f"{name}: an empty path")
        elif isinstance(item, tuple):
            if len(item) != 2:
                raise TypeError(f"{name}: expected a (filename, content) pair, got {item!r}")
            filename, content = item
            if not isinstance(filename, str) or not filename.strip():
                raise ValueError(f"{name}: a file name must be a non-empty str, got {filename!r}")
            if isinstance(content, io.TextIOBase) or not (
                isinstance(content, bytes) or hasattr(content, "read")
            ):
                raise TypeError(
                    f"{name}: the content of {filename!r} must be bytes or a binary file "
                    f"object, got {type(content).__name__}"
                )
        else:
            raise TypeError(
                f"{name}: expected a path, a (filename, content) pair or an UploadFile, "
                f"got {type(item).__name__}"
            )
        checked.append(item)
    return checked


def _open_binary(path: str | os.PathLike[str]) -> BinaryIO:
    # Closed by the caller's exit stack once the request is sent.
    return open(path, "rb")


@contextlib.asynccontextmanager
async def attachments(
    name: str, items: Sequence[AttachItem] | None, field: str
) -> AsyncIterator[tuple[UploadFile, ...]]:
    """Open ``items`` as multipart parts for the duration of a call.

    ``field`` is the part name; ``"attach[{n}]"`` numbers the parts from 0. Paths are
    opened in a worker thread and closed on exit; nothing is read here.
    """
    checked = _check(name, items)
    with contextlib.ExitStack() as stack:
        parts: list[UploadFile] = []
        for index, item in enumerate(checked):
            part_name = field.format(n=index)
            if isinstance(item, UploadFile):
                parts.append(UploadFile(part_name, item.filename, item.content, item.content_type))
            elif isinstance(item, tuple):
                filename, content = item
                parts.append(UploadFile(part_name, filename, content, _content_type(filename)))
            else:
                file = await anyio.to_thread.run_sync(_open_binary, item)
                stack.callback(file.close)
                filename = os.path.basename(os.fspath(item)) or "file"
                parts.append(UploadFile(part_name, filename, file, _content_type(filename)))
        yield tuple(parts)


async def get_files(client: ClientLike, page: Page) -> list[File]:
    """``get_files`` of a project (its description and Files section) or a task."""
    return await astructure_list(await client.send(Call.build("get_files", page)), File)


@attrs.frozen
class FilesNamespace:
    """Account-wide file actions: ``client.files``.

    A project's or a task's files: ``client.project(p).files()``,
    ``client.task(t).files()``.
    """

    client: ClientLike = attrs.field(repr=False)

    async def upload(self, files: Sequence[AttachItem]) -> list[Upload]:
        """Upload files (``upload_files``, parts ``files[]``); pass the result to
        ``post_task(uploads=...)``. Each descriptor's ``error`` says if its file failed.
        """
        if not _check("files", files):
            raise ValueError("files: give at least one file to upload")
        async with attachments("files", files, "files[]") as parts:
            payload = await self.client.send(Call.build("upload_files", None, {}, parts))
        return structure_list(payload, Upload)

    async def download(self, file: int | HasId, to: Destination) -> Download:
        """Stream a file (``download``) to a path or a binary file object.

        ``file`` is a file id or a ``File``/``FileRef``. Nothing is held in memory
        whole; a failed download removes the partial file it created at a path.
        """
        file_id = positive_id("file", file)
        call = Call.build("download", None, {"id_file": file_id})
        return await self.client.download(call, to)
