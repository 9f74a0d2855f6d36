"""OAuth2: authorization URL, code exchange, Bearer calls, shared refresh on 401."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import anyio
import httpx
import pytest

import worksection_async as ws
from worksection_async import BearerToken, Client, OAuth2App, OAuth2Tokens
from worksection_async.testing import FakeWorksection

pytestmark = pytest.mark.anyio

REDIRECT = "https://my.app/callback"


@pytest.fixture
def fake() -> FakeWorksection:
    return FakeWorksection.populated(projects=1, tasks_per_project=3)


def make_app(fake: FakeWorksection) -> OAuth2App:
    registered = fake.add_oauth_app(redirect_uri=REDIRECT)
    return OAuth2App(
        client_id=registered.client_id,
        client_secret=registered.client_secret,
        redirect_uri=REDIRECT,
        server_url=fake.account_url,
    )


def test_authorization_url_has_no_secret() -> None:
    """The browser URL carries client_id, state, scopes, never the client secret."""
    app = OAuth2App(client_id="cid", client_secret="very-secret", redirect_uri=REDIRECT)
    url = app.authorization_url(state="st4te", scopes=["projects_read", "tasks_write"])
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert parts.netloc == "worksection.com" and parts.path == "/oauth2/authorize"
    assert query == {
        "client_id": ["cid"],
        "response_type": ["code"],
        "state": ["st4te"],
        "redirect_uri": [REDIRECT],
        "scope": ["projects_read,tasks_write"],
    }
    assert "very-secret" not in url
    assert "very-secret" not in repr(app)
    with pytest.raises(ValueError, match="state"):
        app.authorization_url(state="")


async def test_code_exchange_and_bearer_calls(fake: FakeWorksection) -> None:
    """Authorize, exchange the code, call `me` with the Bearer token."""
    app = make_app(fake)
    async with httpx.AsyncClient(transport=fake.transport) as http:
        answer = await http.get(app.authorization_url(state="s1"))
        location = httpx.URL(answer.headers["location"])
        assert location.params["state"] == "s1"
        tokens = await app.exchange_code(location.params["code"], http_client=http)
    assert tokens.access_token and tokens.refresh_token
    assert tokens.access_token not in repr(tokens)
    async with Client(
        fake.account_url, signer=BearerToken(tokens, app=app), transport=fake.transport
    ) as client:
        me = await client.call("me")
    assert isinstance(me, dict)
    assert me["email"] == fake.owner.email


async def test_bad_code_is_an_oauth_error(fake: FakeWorksection) -> None:
    """The server's {"error", "errorDescription"} becomes OAuth2Error."""
    app = make_app(fake)
    async with httpx.AsyncClient(transport=fake.transport) as http:
        with pytest.raises(ws.OAuth2Error) as info:
            await app.exchange_code("def50200-not-a-code", http_client=http)
    assert info.value.error == "invalid_request"
    assert app.client_secret not in str(info.value)


async def test_expired_token_is_refreshed_once_for_concurrent_calls(
    fake: FakeWorksection,
) -> None:
    """Ten calls hit HTTP 401 "token is expired": one refresh, all succeed, hook told."""
    app = make_app(fake)
    issued = fake.issue_token()
    saved: list[OAuth2Tokens] = []

    async def save(tokens: OAuth2Tokens) -> None:
        saved.append(tokens)

    signer = BearerToken(
        OAuth2Tokens(access_token=issued.access_token, refresh_token=issued.refresh_token),
        app=app,
        on_refresh=save,
    )
    fake.expire_token(issued)
    results: list[object] = []
    async with Client(
        fake.account_url, signer=signer, transport=fake.transport, rate_limit=None
    ) as client:

        async def get() -> None:
            results.append(await client.call("get_projects"))

        async with anyio.create_task_group() as tg:
            for _ in range(10):
                tg.start_soon(get)
    assert len(results) == 10
    assert signer.refreshes == 1
    assert len(saved) == 1
    assert saved[0].access_token == signer.tokens.access_token != issued.access_token


async def test_without_an_app_an_expired_token_is_an_error(fake: FakeWorksection) -> None:
    """No app to refresh with: AuthenticationError reaches the caller, token not shown."""
    issued = fake.issue_token()
    fake.expire_token(issued)
    async with Client(
        fake.account_url, signer=BearerToken(issued.access_token), transport=fake.transport
    ) as client:
        with pytest.raises(ws.AuthenticationError) as info:
            await client.call("get_projects")
    assert info.value.http_status == 401
    assert "expired" in info.value.message.lower()
    assert issued.access_token not in str(info.value)


def test_bearer_client_takes_no_api_key() -> None:
    """An OAuth2 client has no admin key; mixing them is refused."""
    with pytest.raises(ValueError, match="no api_key"):
        Client("https://a.worksection.com", "key", signer=BearerToken("tok"))


def test_bearer_wire_format() -> None:
    """Bearer header, /api/oauth2, ids and params in a JSON body."""
    call = ws.Call.build("post_comment", "/project/1/2/", {"text": "hi", "todo": ["a"]})
    wire = BearerToken("tok").sign(call, "", 0.0)
    assert wire.path == "/api/oauth2"
    assert wire.query == "action=post_comment"
    assert dict(wire.headers) == {"Authorization": "Bearer tok"}
    assert wire.body == b'{"id_task":"2","text":"hi","todo":["a"]}'


async def test_bearer_token_is_redacted_from_error_pages() -> None:
    """An error page that echoes the access token never puts it in the exception."""
    token = "eyJ-secret-access-token"

    def echo(request: httpx.Request) -> httpx.Response:
        echoed = request.headers["authorization"]
        return httpx.Response(502, text=f"<html>bad gateway for {echoed}</html>")

    async with Client(
        "https://acme.worksection.com",
        signer=BearerToken(token),
        transport=httpx.MockTransport(echo),
    ) as client:
        with pytest.raises(ws.ProtocolError) as info:
            await client.call("get_projects")
    assert token not in f"{info.value} {info.value!r} {info.value.snippet}"
