"""What every action shares: the context a handler gets, its reply, its error."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Final, Literal, get_args

import attrs

from ..._json import JSONObject, JSONValue
from .._params import Params
from .._records import File, Member, Project, Task
from .._state import Account

Dialect = Literal["postman", "ru-docs"]
"""Where the official sources disagree on a shape, whose shape the fake answers with:
``"postman"`` (the official examples) answers ``me`` and ``get_my_timer`` with an
object in ``data``; ``"ru-docs"`` (the Russian documentation, and what the official
PHP client reads) with a one-element list."""
DIALECTS: Final[tuple[Dialect, ...]] = get_args(Dialect)
DEFAULT_DIALECT: Final[Dialect] = "postman"


def check_dialect(dialect: str) -> Dialect:
    """``dialect`` if it is one of ``DIALECTS``, else ``ValueError``."""
    for known in DIALECTS:
        if dialect == known:
            return known
    raise ValueError(f"dialect must be one of {', '.join(DIALECTS)}; got {dialect!r}")


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
    dialect: Dialect = DEFAULT_DIALECT

    def one(self, item: JSONObject) -> JSONValue:
        """An answer's single object, shaped for the dialect (``[item]`` for ru-docs)."""
        return [item] if self.dialect == "ru-docs" else item

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
