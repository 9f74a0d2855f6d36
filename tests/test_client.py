"""Client construction, validation, lifecycle and secrets."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from urllib.parse import parse_qsl

import httpx
import pytest
import respx

import worksection_async as ws
from worksection_async import Client

from .conftest import ACCOUNT, API_KEY, error, ok

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    "url",
    [
        "acme.worksection.com",
        "ftp://acme.worksection.com",
        "https://",
        "https://acme.worksection.com/api/admin/v2/",
        "https://acme.worksection.com/?x=1",
        "",
    ],
)
def test_account_url_must_be_an_http_url_with_a_host(url: str) -> None:
    """Anything but http(s)://host is refused with a ValueError before any request."""
    with pytest.raises(ValueError, match="account_url"):
        Client(url, API_KEY)


@pytest.mark.parametrize(
    "url",
    [
        "http://acme.worksection.com",
        "http://10.0.0.7:8080",
        "http://0.0.0.0:8080",
        "http://[fe80::1]:8080",
        "http://localhost.evil.example",
    ],
)
def test_plain_http_to_a_remote_host_is_refused(url: str) -> None:
    """http:// beyond loopback is refused, and the message says why and how to opt in."""
    with pytest.raises(ValueError, match="http://") as caught:
        Client(url, API_KEY)
    message = str(caught.value)
    assert "replay" in message and "allow_insecure_http=True" in message


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080",
        "http://127.3.2.1",
        "http://localhost:8080",
        "http://LOCALHOST",
        "http://[::1]:8080",
        "http://[::ffff:127.0.0.1]:8080",
    ],
)
def test_plain_http_to_loopback_is_fine(url: str) -> None:
    """A local fake or tunnel on loopback needs no opt-in."""
    assert Client(url, API_KEY).account_url.startswith("http://")


def test_plain_http_anywhere_with_the_opt_in() -> None:
    """allow_insecure_http=True accepts http:// for any host."""
    client = Client("http://acme.worksection.com", API_KEY, allow_insecure_http=True)
    assert client.account_url == "http://acme.worksection.com"


@pytest.mark.parametrize(
    "url",
    [
        "https://user:s3cr3t-pw@acme.worksection.com",
        "https://:s3cr3t-pw@acme.worksection.com",
        "https://user:s3cr3t-pw@acme.worksection.com/api/",
        "http://user:s3cr3t-pw@10.0.0.1",
        "https://user:s3cr3t-pw@acme.worksection.com:bad-port",
        "https://user:s3cr3t/pw@acme.worksection.com",
        "user:s3cr3t-pw@acme.worksection.com",
    ],
)
def test_userinfo_in_the_account_url_is_refused_without_echoing_it(url: str) -> None:
    """A password in the URL would show in repr() and account_url: refused, and the
    error (message, cause, context) never repeats it."""
    with pytest.raises(ValueError, match="account_url") as caught:
        Client(url, API_KEY)
    shown = "".join(traceback.format_exception(caught.value))
    assert "s3cr3t" not in shown


def test_a_user_name_alone_is_refused_too() -> None:
    """``user@host`` is userinfo as well."""
    with pytest.raises(ValueError, match="user name or password"):
        Client("https://user@acme.worksection.com", API_KEY)


def test_account_url_trailing_slash_is_fine() -> None:
    """The account address may end with a slash."""
    assert Client("https://acme.worksection.com/", API_KEY).account_url == ACCOUNT


@pytest.mark.parametrize("key", ["", "   "])
def test_empty_api_key_is_refused(key: str) -> None:
    """An empty key would only produce error 2 later: refuse it now."""
    with pytest.raises(ValueError, match="api_key"):
        Client(ACCOUNT, key)


def test_http_client_and_transport_are_exclusive() -> None:
    """Passing both is ambiguous and refused."""
    with pytest.raises(ValueError, match="either"):
        Client(
            ACCOUNT,
            API_KEY,
            http_client=httpx.AsyncClient(),
            transport=httpx.MockTransport(lambda r: httpx.Response(200)),
        )


def test_repr_hides_the_key() -> None:
    """The client's repr names the account and signer, never the key."""
    text = repr(Client(ACCOUNT, API_KEY))
    assert API_KEY not in text
    assert "acme.worksection.com" in text and "PageHash" in text


async def test_bad_page_fails_before_sending(router: respx.MockRouter, client: Client) -> None:
    """A malformed page string is a ValueError and no request goes out."""
    route = router.post("/api/admin/v2/").mock(return_value=ok())
    with pytest.raises(ValueError, match="not a Worksection page"):
        await client.call("get_task", page="/tasks/1/")
    assert route.call_count == 0


async def test_page_values_and_urls_are_accepted(router: respx.MockRouter, client: Client) -> None:
    """A page value, a path and a browser URL address the same object."""
    route = router.post("/api/admin/v2/").mock(return_value=ok({}))
    for page in (
        ws.TaskPage(1, 2),
        "/project/1/2/",
        "https://acme.worksection.com/project/1/2/#com5",
    ):
        await client.call("get_task", page=page)
    sent = {dict(parse_qsl(c.request.url.query.decode()))["page"] for c in route.calls}
    assert sent == {"/project/1/2/"}


async def test_secrets_never_leak(
    router: respx.MockRouter,
    make_client: Callable[..., Client],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Key and hashes stay out of logs (httpx's too), reprs, messages and tracebacks."""
    route = router.post("/api/admin/v2/")
    route.side_effect = [
        error(20, "Quota exceeded"),
        error(2, "Action hash is missed or invalid"),
        httpx.Response(500, text=f"<html>{API_KEY}</html>"),
        error(5, "Task is invalid"),
    ]
    caplog.set_level(logging.DEBUG)
    errors: list[BaseException] = []
    async with make_client(retry=ws.RetryPolicy(jitter=False)) as client:
        for _ in range(3):
            try:
                await client.call("get_task", page="/project/1/2/", extra="text")
            except ws.WorksectionError as exc:
                errors.append(exc)
    hashes = {dict(parse_qsl(c.request.url.query.decode()))["hash"] for c in route.calls}
    assert len(errors) == 3
    assert any(r.name == "httpx" for r in caplog.records), "httpx logging was captured"
    texts = [caplog.text, *(r.getMessage() for r in caplog.records)]
    for exc in errors:
        texts += [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    for text in texts:
        assert API_KEY not in text
        for sent in hashes:
            assert sent not in text
