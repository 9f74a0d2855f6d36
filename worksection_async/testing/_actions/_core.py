"""What every action shares: the context a handler gets, its reply, its error."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Final, Literal, get_args

import attrs

from ..._json import JSONObject, JSONValue
from .._params import Params
from .._records import File, Member, Project, Task
from .._state import Account

Dialect = Literal["sdk-2026", "postman", "ru-docs"]
"""Where the official sources disagree on a shape, whose shapes the fake answers with:
``"sdk-2026"`` (the default: the newest official client, the 2026 PHP client, reads
``me`` as an object in ``data`` and ``get_my_timer`` as a one-element list; pbv7 reads
``me`` as an object too); ``"postman"`` (the official examples) answers both with an
object; ``"ru-docs"`` (the Russian documentation) both with a one-element list. Each
action's shape can also be set alone (``Shape``, ``FakeWorksection.set_shape``)."""
DIALECTS: Final[tuple[Dialect, ...]] = get_args(Dialect)
DEFAULT_DIALECT: Final[Dialect] = "sdk-2026"

Shape = Literal["object", "list"]
"""An answer's single object as is in ``data`` (``"object"``) or as ``[object]``."""
SHAPES: Final[tuple[Shape, ...]] = get_args(Shape)
SHAPED_ACTIONS: Final = ("me", "get_my_timer")
"""The actions whose shape the official sources disagree on."""
DIALECT_SHAPES: Final[dict[Dialect, dict[str, Shape]]] = {
    "sdk-2026": {"me": "object", "get_my_timer": "list"},
    "postman": {"me": "object", "get_my_timer": "object"},
    "ru-docs": {"me": "list", "get_my_timer": "list"},
}


def check_dialect(dialect: str) -> Dialect:
    """``dialect`` if it is one of ``DIALECTS``, else ``ValueError``."""
    for known in DIALECTS:
        if dialect == known:
            return known
    raise ValueError(f"dialect must be one of {', '.join(DIALECTS)}; got {dialect!r}")


def check_shape(action: str, shape: str) -> Shape:
    """``shape`` if ``action`` is one of ``SHAPED_ACTIONS`` and ``shape`` of ``SHAPES``."""
    if action not in SHAPED_ACTIONS:
        raise ValueError(f"action must be one of {', '.join(SHAPED_ACTIONS)}; got {action!r}")
    for known in SHAPES:
        if shape == known:
            return known
    raise ValueError(f"shape must be one of {', '.join(SHAPES)}; got {shape!r}")


class ApiError(Exception):
    """An error envelope: ``{"status": "error", "status_code", "message", ...}``."""

    def __init__(self, code: int, message: str, details: JSONValue = None) -> None:
        super().__init__(f"[{code}] {message}")
        self.code = code
        self.message = message
        self.details = details

    def envelope(self) -> JSONObject:
        out: JSONObject = {"status": "error", "status_code": self.code, "message": self.message}
        if self.details is not None:
            out["message_details"] = self.details
        return out


@attrs.frozen
class FileReply:
    """``download``'s answer: the file itself."""

    file: File


Reply = JSONObject | FileReply


@attrs.define
class Ctx:
    """What a handler works with."""

    account: Account
    params: Params
    user: Member
    """The acting member: the owner for the admin key, the token's user for OAuth."""
    oauth: bool = False
    page_project: Project | None = None
    page_task: Task | None = None
    page_file_id: int | None = None
    webhook_check: Callable[[str], bool] = lambda url: True
    action: str = ""
    shapes: Mapping[str, Shape] = attrs.field(factory=lambda: DIALECT_SHAPES[DEFAULT_DIALECT])

    def one(self, item: JSONObject) -> JSONValue:
        """An answer's single object, shaped for this action (``[item]`` for ``list``)."""
        return [item] if self.shapes.get(self.action) == "list" else item

    @property
    def now(self) -> dt.datetime:
        return self.account.wall_now()


Handler = Callable[[Ctx], Reply]


def ok(data: JSONValue = None, **top: JSONValue) -> JSONObject:
    out: JSONObject = {"status": "ok"}
    if data is not None:
        out["data"] = data
    out.update(top)
    return out
