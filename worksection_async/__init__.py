"""worksection_async: an async, typed, quota-aware client for the Worksection API.

::

    from worksection_async import Client

    async with Client("https://acme.worksection.com", api_key) as client:
        task = await client.call("get_task", page="/project/1/2/")
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from ._call import Call, JSONParam, UploadFile
from ._client import DEFAULT_TIMEOUT, Client, ClientClosedError, Destination
from ._clock import Clock, MonotonicClock
from ._events import (
    ClientEvent,
    EventHook,
    PauseEnded,
    PauseStarted,
    RequestSent,
    ResponseReceived,
    RetryScheduled,
)
from ._exceptions import (
    ActionRequiredError,
    APIError,
    AuthenticationError,
    ConflictError,
    FieldRequiredError,
    InvalidActionError,
    InvalidEmailError,
    InvalidHashError,
    InvalidPageError,
    InvalidProjectError,
    InvalidSubtaskError,
    InvalidTagError,
    InvalidTaskError,
    NotFoundError,
    ProjectRequiredError,
    ProtocolError,
    QuotaExceededError,
    SubtaskAlreadyClosedError,
    SubtaskHasChildrenError,
    SubtaskRequiredError,
    TaskAlreadyClosedError,
    TaskHasChildrenError,
    TaskRequiredError,
    TooManyRecordsError,
    TransportError,
    WorksectionError,
)
from ._filters import CostFilter, Filter, TaskFilter, UnsupportedFieldError, all_of, any_of
from ._json import JSONObject, JSONValue
from ._oauth import BearerToken, OAuth2App, OAuth2Error, OAuth2Tokens
from ._pages import Page, ProjectPage, SubtaskPage, TaskPage, parse_page
from ._retry import DEFAULT_RETRY, RetryPolicy
from ._signing import HmacToken, PageHash, QueryHash, Signer
from ._throttle import DEFAULT_MAX_CONCURRENCY, DEFAULT_RATE_LIMIT, QuotaSnapshot, RateLimit
from ._transport import Download

try:
    __version__ = version("worksection-async")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "APIError",
    "ActionRequiredError",
    "AuthenticationError",
    "BearerToken",
    "Call",
    "Client",
    "ClientClosedError",
    "ClientEvent",
    "Clock",
    "ConflictError",
    "CostFilter",
    "DEFAULT_MAX_CONCURRENCY",
    "DEFAULT_RATE_LIMIT",
    "DEFAULT_RETRY",
    "DEFAULT_TIMEOUT",
    "Destination",
    "Download",
    "EventHook",
    "FieldRequiredError",
    "Filter",
    "HmacToken",
    "InvalidActionError",
    "InvalidEmailError",
    "InvalidHashError",
    "InvalidPageError",
    "InvalidProjectError",
    "InvalidSubtaskError",
    "InvalidTagError",
    "InvalidTaskError",
    "JSONObject",
    "JSONParam",
    "JSONValue",
    "MonotonicClock",
    "NotFoundError",
    "OAuth2App",
    "OAuth2Error",
    "OAuth2Tokens",
    "Page",
    "PageHash",
    "PauseEnded",
    "PauseStarted",
    "ProjectPage",
    "ProjectRequiredError",
    "ProtocolError",
    "QueryHash",
    "QuotaExceededError",
    "QuotaSnapshot",
    "RateLimit",
    "RequestSent",
    "ResponseReceived",
    "RetryPolicy",
    "RetryScheduled",
    "Signer",
    "SubtaskAlreadyClosedError",
    "SubtaskHasChildrenError",
    "SubtaskPage",
    "SubtaskRequiredError",
    "TaskAlreadyClosedError",
    "TaskFilter",
    "TaskHasChildrenError",
    "TaskPage",
    "TaskRequiredError",
    "TooManyRecordsError",
    "TransportError",
    "UnsupportedFieldError",
    "UploadFile",
    "WorksectionError",
    "__version__",
    "all_of",
    "any_of",
    "parse_page",
]
