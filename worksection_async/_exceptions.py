"""The exceptions this library raises on purpose.

::

    WorksectionError
    ├── APIError                      the API answered {"status": "error", ...}
    │   ├── InvalidActionError          0  Action is invalid
    │   ├── ActionRequiredError         1  Action is required
    │   ├── InvalidHashError            2  Action hash is missed or invalid
    │   ├── NotFoundError                  an addressed object does not exist (3-6)
    │   │   ├── InvalidPageError        3  Page is invalid
    │   │   ├── InvalidProjectError     4  Project is invalid (also "File not found")
    │   │   ├── InvalidTaskError        5  Task is invalid
    │   │   └── InvalidSubtaskError     6  Subtask is invalid
    │   ├── ProjectRequiredError        7  Project is required
    │   ├── TaskRequiredError           8  Task is required
    │   ├── SubtaskRequiredError        9  Subtask is required
    │   ├── FieldRequiredError         10  Field is required (details: the field)
    │   ├── InvalidEmailError          11  Invalid email (details: the emails)
    │   ├── ConflictError                  the object is not in a state that allows it (12-15)
    │   │   ├── TaskAlreadyClosedError     12  Task is already closed
    │   │   ├── TaskHasChildrenError       13  Task has children
    │   │   ├── SubtaskAlreadyClosedError  14  Subtask is already closed
    │   │   └── SubtaskHasChildrenError    15  Subtask has children
    │   ├── InvalidTagError            16  Tag is invalid (details: the tag)
    │   ├── QuotaExceededError         20  Quota exceeded; also "Too many requests", HTTP 429
    │   ├── TooManyRecordsError            "Too many tasks (10000 max)": narrow the query
    │   └── AuthenticationError            HTTP 401 (an OAuth2 token expired or was refused)
    ├── TransportError                the request did not get an answer (network, timeout)
    │   └── TransportTimeoutError       an attempt ran out of time (a phase, or the whole)
    ├── ProtocolError                 the answer is not the API's JSON envelope (or too
    │                                 large, too deep, a redirect)
    ├── QuotaBackendError             the shared quota's Redis did not answer (and
    │                                 ``on_unavailable="raise"``): nothing was sent
    ├── OAuth2Error                   the OAuth2 server refused (``_oauth.py``)
    └── StructureError                an answer does not fit its model (``models``)

The API reuses codes with other messages (4 is also "File not found", 12 also "Task is
already active"): the class follows the code, and the server's message is always kept.
Messages never contain the API key or a request hash.

``TransportError`` and ``ProtocolError`` carry ``request_sent``: ``False`` only when the
request certainly never left (the connection could not be made), so repeating it cannot
do anything twice; ``True`` means the server may have acted on it (a write may have been
applied although no readable answer came back).

Every exception pickles with its fields (process pools, task queues): the root's
``__reduce__`` rebuilds the instance without calling ``__init__`` and restores its
attributes.
"""

from __future__ import annotations

from ._json import JSONValue
from ._pages import Page

__all__ = [
    "APIError",
    "ActionRequiredError",
    "AuthenticationError",
    "ConflictError",
    "FieldRequiredError",
    "InvalidActionError",
    "InvalidEmailError",
    "InvalidHashError",
    "InvalidPageError",
    "InvalidProjectError",
    "InvalidSubtaskError",
    "InvalidTagError",
    "InvalidTaskError",
    "NotFoundError",
    "ProjectRequiredError",
    "ProtocolError",
    "QuotaBackendError",
    "QuotaExceededError",
    "SubtaskAlreadyClosedError",
    "SubtaskHasChildrenError",
    "SubtaskRequiredError",
    "TaskAlreadyClosedError",
    "TaskHasChildrenError",
    "TaskRequiredError",
    "TooManyRecordsError",
    "TransportError",
    "TransportTimeoutError",
    "WorksectionError",
    "api_error",
]

JSONDetails = JSONValue


class WorksectionError(Exception):
    """Root of every exception this library raises on purpose."""

    def __reduce__(self) -> tuple[object, ...]:
        # Exception's default pickling calls ``cls(*self.args)``, which breaks every
        # subclass whose ``__init__`` takes other (or keyword-only) arguments. Rebuild
        # without ``__init__`` instead and restore the attributes.
        return (_restore, (type(self), self.args), self.__dict__)


def _restore(cls: type[WorksectionError], args: tuple[object, ...]) -> WorksectionError:
    error = cls.__new__(cls)
    error.args = args
    return error


class APIError(WorksectionError):
    """The API answered with ``{"status": "error", ...}``.

    ``code`` is ``status_code``, ``message`` the server's message, ``details`` its
    ``message_details`` (a field name, emails, a tag...), ``action`` and ``page`` what
    was called. ``http_status`` is the HTTP status of the answer (usually 200).
    """

    def __init__(
        self,
        code: int | None,
        message: str,
        details: JSONDetails = None,
        *,
        action: str | None = None,
        page: Page | None = None,
        http_status: int = 200,
    ) -> None:
        self.code = code
        self.message = message
        self.details = details
        self.action = action
        self.page = page
        self.http_status = http_status
        super().__init__(self._describe())

    def _describe(self) -> str:
        text = f"[{self.code}] {self.message}" if self.code is not None else self.message
        if self.details not in (None, "", [], {}):
            text += f": {self.details}"
        where = ", ".join(
            part
            for part in (
                f"action={self.action}" if self.action else "",
                f"page={self.page.path}" if self.page is not None else "",
            )
            if part
        )
        return f"{text} ({where})" if where else text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, message={self.message!r}, "
            f"details={self.details!r}, action={self.action!r}, page={self.page!r})"
        )


class InvalidActionError(APIError):
    """0: Action is invalid."""


class ActionRequiredError(APIError):
    """1: Action is required."""


class InvalidHashError(APIError):
    """2: Action hash is missed or invalid.

    ``signer`` names the signing dialect that was used; the message says which others
    exist, since accounts differ in the dialect they accept.
    """

    signer: str | None = None

    def _describe(self) -> str:
        text = super()._describe()
        signer = getattr(self, "signer", None)
        if signer:
            others = ", ".join(n for n in ("PageHash", "QueryHash", "HmacToken") if n != signer)
            text += (
                f"; signed with {signer}: check the API key, or try another dialect "
                f"(Client(..., signer=...) with one of {others})"
            )
        return text


class NotFoundError(APIError):
    """3-6: an addressed page, project, task or subtask (or file) does not exist."""


class InvalidPageError(NotFoundError):
    """3: Page is invalid."""


class InvalidProjectError(NotFoundError):
    """4: Project is invalid (``download`` also answers "File not found" with 4)."""


class InvalidTaskError(NotFoundError):
    """5: Task is invalid."""


class InvalidSubtaskError(NotFoundError):
    """6: Subtask is invalid (``start_my_timer`` also: "Timer is already started")."""


class ProjectRequiredError(APIError):
    """7: Project is required (timers also: "Timer not found", "Timer is not started")."""


class TaskRequiredError(APIError):
    """8: Task is required (``post_task`` also: "Task is closed" for a closed parent)."""


class SubtaskRequiredError(APIError):
    """9: Subtask is required."""


class FieldRequiredError(APIError):
    """10: Field is required; ``details`` names the field(s)."""


class InvalidEmailError(APIError):
    """11: Invalid email; ``details`` holds the emails (also option conflicts, bad URLs)."""


class ConflictError(APIError):
    """12-15: the object is not in a state that allows the action."""


class TaskAlreadyClosedError(ConflictError):
    """12: Task is already closed (also "Task is already active", project close/activate)."""


class TaskHasChildrenError(ConflictError):
    """13: Task has children (open subtasks block completing it)."""


class SubtaskAlreadyClosedError(ConflictError):
    """14: Subtask is already closed (``reopen_task`` also: "Parent task is done")."""


class SubtaskHasChildrenError(ConflictError):
    """15: Subtask has children."""


class InvalidTagError(APIError):
    """16: Tag is invalid; ``details`` names the tag."""


class QuotaExceededError(APIError):
    """20: Quota exceeded, an error saying "Too many requests", or HTTP 429.

    The only error the retry policy retries. ``attempts`` is set on the error that ends
    a retry loop: how many requests were made before giving up.
    """

    attempts: int | None = None

    def _describe(self) -> str:
        text = super()._describe()
        attempts = getattr(self, "attempts", None)
        if attempts is not None:
            text += f"; gave up after {attempts} attempt{'s' if attempts != 1 else ''}"
        return text

    def with_attempts(self, attempts: int) -> QuotaExceededError:
        """A copy of this error that records how many attempts were made."""
        error = QuotaExceededError.__new__(type(self))
        error.attempts = attempts
        APIError.__init__(
            error,
            self.code,
            self.message,
            self.details,
            action=self.action,
            page=self.page,
            http_status=self.http_status,
        )
        return error


class TooManyRecordsError(APIError):
    """The answer would hold more than 10,000 records ("Too many tasks (10000 max)").

    The API has no pagination: narrow the query (per project, ``filter=active``, dates).
    The documentation quotes the message but not the code, so the message decides.

    The listings that split a too-big answer themselves (``tasks.list``,
    ``project.tasks``, ``tasks.export``) raise it only when no split can make the answer
    fit (10,001 tasks added on one day) or the split cannot give what was asked; then
    ``tried`` lists every request of the split that led there, in order, and the
    message says so. Empty for the API's own error as it came.
    """

    tried: tuple[str, ...] = ()

    def _describe(self) -> str:
        text = super()._describe()
        tried = getattr(self, "tried", ())
        if tried:
            text += "; tried, in order: " + "; ".join(tried)
        return text

    def having_tried(
        self, tried: tuple[str, ...], reason: str | None = None
    ) -> TooManyRecordsError:
        """A copy of this error that lists the requests ``tried`` (and why it stops)."""
        error = TooManyRecordsError.__new__(type(self))
        error.tried = tried + ((reason,) if reason else ())
        APIError.__init__(
            error,
            self.code,
            self.message,
            self.details,
            action=self.action,
            page=self.page,
            http_status=self.http_status,
        )
        return error


class AuthenticationError(APIError):
    """HTTP 401: the OAuth2 access token expired or was refused."""


class TransportError(WorksectionError):
    """The request got no answer: a network error or a timeout (httpx's is chained).

    ``request_sent`` is ``False`` only when the request certainly never left (the
    connection could not be made); ``True`` means the server may have received it and
    acted on it, so repeating a write may apply it twice.
    """

    def __init__(self, message: str, *, request_sent: bool = True) -> None:
        self.message = message
        self.request_sent = request_sent
        super().__init__(message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, request_sent={self.request_sent!r})"


class TransportTimeoutError(TransportError):
    """An attempt ran out of time: a phase limit of httpx's (connect, read, write, pool)
    or the client's bound on the whole attempt (``Client(timeout=...)``)."""


class ProtocolError(WorksectionError):
    """The answer is not the API's JSON envelope.

    A non-JSON body, an HTML error page, an unexpected HTTP status (414, 5xx), a
    redirect (never followed: it names the target host), an answer over
    ``max_response_size``, JSON nested too deeply to decode, or an envelope of the wrong
    shape. ``http_status`` and a short ``snippet`` of the body are kept, with every
    secret of the request masked in whatever encoding it came back. ``request_sent`` is
    ``True``: the server answered, so it may have acted on the request.
    """

    def __init__(
        self, reason: str, *, http_status: int, snippet: str = "", request_sent: bool = True
    ) -> None:
        self.reason = reason
        self.http_status = http_status
        self.snippet = snippet
        self.request_sent = request_sent
        text = f"{reason} (HTTP {http_status})"
        if snippet:
            text += f": {snippet!r}"
        super().__init__(text)


class QuotaBackendError(WorksectionError):
    """The shared quota's store (Redis) did not answer, and the quota was made with
    ``on_unavailable="raise"`` (or the shared quota is not open): the call sent nothing.

    ``message`` says what went wrong; a Redis password or the credentials of a Redis
    URL never appear in it, nor in the chained exception (the Redis client's error, as
    text with them masked).
    """

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


_BY_CODE: dict[int, type[APIError]] = {
    0: InvalidActionError,
    1: ActionRequiredError,
    2: InvalidHashError,
    3: InvalidPageError,
    4: InvalidProjectError,
    5: InvalidTaskError,
    6: InvalidSubtaskError,
    7: ProjectRequiredError,
    8: TaskRequiredError,
    9: SubtaskRequiredError,
    10: FieldRequiredError,
    11: InvalidEmailError,
    12: TaskAlreadyClosedError,
    13: TaskHasChildrenError,
    14: SubtaskAlreadyClosedError,
    15: SubtaskHasChildrenError,
    16: InvalidTagError,
    20: QuotaExceededError,
}


def api_error(
    code: int | None,
    message: str,
    details: JSONDetails = None,
    *,
    action: str | None = None,
    page: Page | None = None,
    http_status: int = 200,
    signer: str | None = None,
) -> APIError:
    """The most specific exception for an error envelope."""
    lowered = message.lower()
    if "too many requests" in lowered:
        cls: type[APIError] = QuotaExceededError
    elif "too many tasks" in lowered or "too many records" in lowered:
        cls = TooManyRecordsError
    else:
        cls = _BY_CODE.get(code, APIError) if code is not None else APIError
    error = cls.__new__(cls)
    if isinstance(error, InvalidHashError):
        error.signer = signer
    APIError.__init__(
        error, code, message, details, action=action, page=page, http_status=http_status
    )
    return error
