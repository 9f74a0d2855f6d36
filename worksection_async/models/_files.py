"""Files and uploads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import attrs

from .._json import JSONValue
from ._base import extra_field
from ._refs import UserRef

__all__ = ["File", "Upload"]


@attrs.frozen(kw_only=True)
class File:
    """A file of a project or task (``get_files``).

    ``page`` is the download path (``/download/<id>/...``), not a project page;
    ``size`` is in bytes.
    """

    id: int
    page: str
    name: str
    size: int
    date_added: dt.datetime | None = None
    user_from: UserRef | None = None
    extra: Mapping[str, JSONValue] = extra_field()


@attrs.frozen(kw_only=True)
class Upload:
    """A file uploaded with ``upload_files``, to pass on in ``post_task``'s ``files``.

    ``id`` stays a string: it is an upload token the API wants back verbatim.
    ``error`` is set when the upload of this file failed.
    """

    id: str
    ext: str
    name: str
    icon: str | None = None
    error: str | None = None
    extra: Mapping[str, JSONValue] = extra_field()

    def to_json(self) -> dict[str, JSONValue]:
        """The descriptor as the API sent it, to send back in ``files``."""
        descriptor: dict[str, JSONValue] = {"id": self.id, "ext": self.ext, "name": self.name}
        if self.icon is not None:
            descriptor["icon"] = self.icon
        if self.error is not None:
            descriptor["error"] = self.error
        descriptor.update(self.extra)
        return descriptor
