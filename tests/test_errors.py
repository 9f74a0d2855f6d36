"""Error envelopes become one typed exception per code, with everything kept."""

from __future__ import annotations

import pickle
from collections.abc import Callable

import httpx
import pytest
import respx

import worksection_async as ws
from worksection_async import Client
from worksection_async._exceptions import api_error

from .conftest import API_KEY, error

pytestmark = pytest.mark.anyio

TABLE: list[tuple[int, str, type[ws.APIError]]] = [
    (0, "Action is invalid", ws.InvalidActionError),
    (1, "Action is required", ws.ActionRequiredError),
    (2, "Action hash is missed or invalid", ws.InvalidHashError),
    (3, "Page is invalid", ws.InvalidPageError),
    (4, "Project is invalid", ws.InvalidProjectError),
    (5, "Task is invalid", ws.InvalidTaskError),
    (6, "Subtask is invalid", ws.InvalidSubtaskError),
    (7, "Project is required", ws.ProjectRequiredError),
    (8, "Task is required", ws.TaskRequiredError),
    (9, "Subtask is required", ws.SubtaskRequiredError),
    (10, "Field is required", ws.FieldRequiredError),
    (11, "Invalid email", ws.InvalidEmailError),
    (12, "Task is already closed", ws.TaskAlreadyClosedError),
    (13, "Task has children", ws.TaskHasChildrenError),
    (14, "Subtask is already closed", ws.SubtaskAlreadyClosedError),
    (15, "Subtask has children", ws.SubtaskHasChildrenError),
    (16, "Tag is invalid", ws.InvalidTagError),
    (20, "Quota exceeded", ws.QuotaExceededError),
]


@pytest.mark.parametrize(("code", "message", "cls"), TABLE)
async def test_every_code_maps_to_its_class(
    code: int,
    message: str,
    cls: type[ws.APIError],
    router: respx.MockRouter,
    make_client: Callable[..., Client],
) -> None:
    """Each documented code raises its own class; message, details, action, page kept."""
    router.post("/api/admin/v2/").mock(return_value=error(code, message, "detail-x"))
    async with make_client(retry=None) as client:
        with pytest.raises(cls) as info:
            await client.call("get_task", page="/project/1/2/")
    exc = info.value
    assert type(exc) is cls
    assert exc.code == code
    assert exc.message == message
    assert exc.details == "detail-x"
    assert exc.action == "get_task"
    assert exc.page == ws.TaskPage(1, 2)
    assert message in str(exc) and "detail-x" in str(exc)


async def test_unknown_code_is_plain_api_error(
    router: respx.MockRouter, make_client: Callable[..., Client]
) -> None:
    """A code outside the table stays a plain APIError with everything kept."""
    router.post("/api/admin/v2/").mock(return_value=error(17, "Something new", ["a", "b"]))
    async with make_client() as client:
        with pytest.raises(ws.APIError) as info:
            await client.call("get_projects")
    assert type(info.value) is ws.APIError
    assert (info.value.code, info.value.message, info.value.details) == (
        17,
        "Something new",
        ["a", "b"],
    )


def test_reused_codes_keep_the_server_message() -> None:
    """Code 4 from download says "File not found": the class follows the code, text kept."""
    exc = api_error(4, "File not found", action="download")
    assert isinstance(exc, ws.InvalidProjectError)
    assert isinstance(exc, ws.NotFoundError)
    assert exc.message == "File not found"
    assert "File not found" in str(exc)


@pytest.mark.parametrize("code", [None, 0, 17, 99])
def test_too_many_requests_is_quota_exceeded(code: int | None) -> None:
    """Any error whose message says "Too many requests" is a QuotaExceededError."""
    assert isinstance(api_error(code, "Too many requests"), ws.QuotaExceededError)


def test_string_status_code_is_accepted() -> None:
    """Families group codes for callers who catch broadly."""
    assert issubclass(ws.TaskHasChildrenError, ws.ConflictError)
    assert issubclass(ws.InvalidTaskError, ws.NotFoundError)
    assert issubclass(ws.APIError, ws.WorksectionError)
    assert issubclass(ws.TransportError, ws.WorksectionError)
    assert issubclass(ws.ProtocolError, ws.WorksectionError)


async def test_http_429_is_quota_exceeded(
    router: respx.MockRouter, make_client: Callable[..., Client]
) -> None:
    """HTTP 429 becomes QuotaExceededError (and is retried like error 20)."""
    router.post("/api/admin/v2/").mock(return_value=httpx.Response(429, text="slow down"))
    async with make_client(retry=None) as client:
        with pytest.raises(ws.QuotaExceededError) as info:
            await client.call("get_projects")
    assert info.value.http_status == 429


async def test_invalid_hash_names_the_signer(
    router: respx.MockRouter, make_client: Callable[..., Client]
) -> None:
    """Error 2 says which dialect signed the request and that others exist."""
    router.post("/api/admin/v2/").mock(return_value=error(2, "Action hash is missed or invalid"))
    async with make_client(signer=ws.QueryHash()) as client:
        with pytest.raises(ws.InvalidHashError) as info:
            await client.call("get_projects")
    text = str(info.value)
    assert "QueryHash" in text and "PageHash" in text and "HmacToken" in text
    assert API_KEY not in text


def test_errors_pickle_round_trip() -> None:
    """Errors survive pickling (process pools, task queues) with their fields."""
    exc = api_error(11, "Invalid email", "a@b", action="subscribe", page=ws.TaskPage(1, 2))
    back = pickle.loads(pickle.dumps(exc))
    assert type(back) is ws.InvalidEmailError
    assert (back.code, back.message, back.details, back.action, back.page) == (
        11,
        "Invalid email",
        "a@b",
        "subscribe",
        ws.TaskPage(1, 2),
    )


def _samples() -> dict[type[BaseException], BaseException]:
    """One instance of every exception class the package exports, fields filled in."""
    from worksection_async.models import StructureError

    page = ws.TaskPage(1, 2)
    samples: dict[type[BaseException], BaseException] = {}
    for code, message, cls in TABLE:
        samples[cls] = api_error(code, message, {"field": ["x"]}, action="a", page=page)
    invalid_hash = api_error(2, "Action hash is missed or invalid", signer="QueryHash")
    samples[ws.InvalidHashError] = invalid_hash
    samples[ws.QuotaExceededError] = api_error(20, "Quota exceeded", action="a").with_attempts(3)
    samples[ws.APIError] = api_error(99, "New", [1, 2], action="b", http_status=200)
    samples[ws.NotFoundError] = ws.NotFoundError(4, "Gone", action="c", page=page)
    samples[ws.ConflictError] = ws.ConflictError(12, "Closed", http_status=200)
    samples[ws.TooManyRecordsError] = api_error(None, "Too many tasks (10000 max)")
    samples[ws.AuthenticationError] = ws.AuthenticationError(
        None, "Unauthorized (HTTP 401)", action="me", http_status=401
    )
    samples[ws.TransportError] = ws.TransportError("network error", request_sent=False)
    samples[ws.TransportTimeoutError] = ws.TransportTimeoutError("slow", request_sent=True)
    samples[ws.ProtocolError] = ws.ProtocolError(
        "HTML error page", http_status=502, snippet="<html>", request_sent=True
    )
    samples[ws.OAuth2Error] = ws.OAuth2Error("invalid_grant", "code expired")
    samples[ws.QuotaBackendError] = ws.QuotaBackendError("Redis did not answer")
    samples[ws.ClientClosedError] = ws.ClientClosedError("this Client is closed")
    samples[ws.UnsupportedFieldError] = ws.UnsupportedFieldError("status")
    samples[ws.WorksectionError] = ws.WorksectionError("plain")
    samples[ws.WebhookPayloadError] = ws.WebhookPayloadError("event 3: expected an object")
    samples[StructureError] = StructureError("Task: id: expected an int")
    return samples


def _exported_exceptions() -> set[type[BaseException]]:
    from worksection_async import models

    found = set()
    for module in (ws, models):
        for name in module.__all__:
            obj = getattr(module, name)
            if isinstance(obj, type) and issubclass(obj, BaseException):
                found.add(obj)
    return found


def test_every_exported_exception_has_a_pickle_sample() -> None:
    """The sample list covers every exception class the package exports (new ones too)."""
    assert _exported_exceptions() <= set(_samples())


@pytest.mark.parametrize("cls", sorted(_samples(), key=lambda c: c.__name__))
def test_every_exception_pickles_with_its_fields(cls: type[BaseException]) -> None:
    """pickle.loads(pickle.dumps(e)) gives the same class, message, args and fields."""
    exc = _samples()[cls]
    back = pickle.loads(pickle.dumps(exc))
    assert type(back) is type(exc)
    assert str(back) == str(exc)
    assert repr(back) == repr(exc)
    assert back.args == exc.args
    assert vars(back) == vars(exc)
    for name in (
        "code",
        "message",
        "details",
        "action",
        "page",
        "http_status",
        "signer",
        "attempts",
        "reason",
        "snippet",
        "request_sent",
        "error",
        "description",
    ):
        assert getattr(back, name, None) == getattr(exc, name, None), name


def test_protocol_error_pickle_keeps_request_sent() -> None:
    """The regression: ProtocolError could not be unpickled (TypeError)."""
    exc = ws.ProtocolError("response is not JSON", http_status=200, snippet="{", request_sent=True)
    back = pickle.loads(pickle.dumps(exc))
    assert (back.reason, back.http_status, back.snippet, back.request_sent) == (
        "response is not JSON",
        200,
        "{",
        True,
    )
