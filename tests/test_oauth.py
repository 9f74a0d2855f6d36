"""OAuth2: authorization URL, code exchange, Bearer calls, shared refresh on 401."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import anyio
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


# -- hostile token endpoints ---------------------------------------------------------

SECRET = "app-secret-0123456789"


def token_app() -> OAuth2App:
    return OAuth2App(
        client_id="cid",
        client_secret=SECRET,
        redirect_uri=REDIRECT,
        server_url="https://auth.example",
    )


async def exchange(handler: Callable[[httpx.Request], Any], **client: Any) -> OAuth2Tokens:
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler), **client) as http:
        return await token_app().exchange_code("the-code", http_client=http)


def token_body(**fields: object) -> bytes:
    body = {"access_token": "a", "refresh_token": "r", "expires_in": 86400, **fields}
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    "body",
    [
        b'{"access_token":"a","refresh_token":"r","expires_in":1' + b"0" * 400 + b"}",
        b'{"access_token":"a","refresh_token":"r","expires_in":1e400}',
        b'{"access_token":"a","refresh_token":"r","expires_in":Infinity}',
        b'{"access_token":"a","refresh_token":"r","expires_in":NaN}',
        token_body(expires_in=-5),
        token_body(expires_in=[1]),
        b'{"access_token":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b"[" * 100_000,
        token_body(error=["x"] * 3),
        b"\xff\xfe not json",
    ],
)
async def test_unreadable_token_answers_are_oauth2_errors(body: bytes) -> None:
    """expires_in=10**400 (OverflowError before), NaN, deep nesting (RecursionError
    before), odd error fields: OAuth2Error("invalid_response"), nothing else."""
    with pytest.raises(ws.OAuth2Error) as info:
        await exchange(lambda request: httpx.Response(200, content=body))
    assert info.value.error == "invalid_response"


async def test_a_good_token_answer_still_works() -> None:
    """The checks keep a normal answer as it was: expiry from expires_in."""
    tokens = await exchange(lambda request: httpx.Response(200, content=token_body()))
    assert tokens.access_token == "a"
    assert tokens.expires_at is not None


async def test_the_token_endpoint_never_redirects_the_secret() -> None:
    """A redirect from the token endpoint is refused, even by a following client: the
    client secret never reaches the other host."""
    hosts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        hosts.append(request.url.host)
        if request.url.host == "auth.example":
            return httpx.Response(307, headers={"location": "https://evil.example/steal"})
        return httpx.Response(200, content=token_body())

    with pytest.raises(ws.OAuth2Error, match=r"evil\.example") as info:
        await exchange(handler, follow_redirects=True)
    assert hosts == ["auth.example"]
    assert info.value.error == "invalid_response"


async def test_a_huge_token_answer_is_cut() -> None:
    """The token endpoint's answer is read up to 1 MiB."""
    body = b'{"access_token":"' + b"a" * (5 * 1024 * 1024) + b'"}'
    with pytest.raises(ws.OAuth2Error, match="bytes"):
        await exchange(lambda request: httpx.Response(200, content=body))


@pytest.mark.parametrize(
    "echo",
    [
        lambda s: s,
        lambda s: quote(s, safe="").replace("-", "%2D"),
        lambda s: "".join(f"\\u{ord(c):04x}" for c in s),
    ],
)
async def test_an_echoed_client_secret_is_masked(echo: Callable[[str], str]) -> None:
    """An error description that repeats the client secret or the code: masked."""

    def handler(request: httpx.Request) -> httpx.Response:
        text = f"client_secret {echo(SECRET)} and code {echo('the-code')} refused"
        return httpx.Response(400, json={"error": "invalid_client", "error_description": text})

    with pytest.raises(ws.OAuth2Error) as info:
        await exchange(handler)
    shown = f"{info.value} {info.value!r}"
    assert echo(SECRET) not in shown and SECRET not in shown
    assert "the-code" not in shown
    assert info.value.error == "invalid_client"


async def test_a_refresh_is_bounded_in_time() -> None:
    """A token endpoint that never answers ends the refresh at the client's total
    timeout with an OAuth2Error."""

    async def handler(request: httpx.Request) -> httpx.Response:
        await anyio.sleep(30)
        return httpx.Response(200, content=token_body())  # pragma: no cover

    signer = BearerToken(OAuth2Tokens(access_token="old", refresh_token="r"), app=token_app())
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        with anyio.fail_after(10), pytest.raises(ws.OAuth2Error) as info:
            await signer.refresh("old", http, total_timeout=0.2)
    assert info.value.error == "transport_error"


json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False),
        st.text(max_size=10),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=12,
)
token_answers = st.one_of(
    st.binary(max_size=40),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries(
        {},
        optional=dict.fromkeys(
            (
                "access_token",
                "refresh_token",
                "expires_in",
                "token_type",
                "account_url",
                "error",
                "error_description",
                "errorDescription",
            ),
            json_values,
        ),
    ).map(lambda v: json.dumps(v).encode()),
)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(status=st.sampled_from([200, 400, 401, 302, 500]), body=token_answers)
async def test_any_token_answer_gives_tokens_or_an_oauth2_error(status: int, body: bytes) -> None:
    """Whatever the token endpoint answers: tokens, or an OAuth2Error."""
    headers = {"location": "https://elsewhere.example/"} if status == 302 else {}
    if status == 302 and body[:1] == b"\x00":
        headers["location"] = "http://\x00bad/"  # unparsable: still an OAuth2Error
    try:
        tokens = await exchange(
            lambda request: httpx.Response(status, content=body, headers=headers)
        )
    except ws.OAuth2Error:
        return
    assert isinstance(tokens.access_token, str)
    assert tokens.expires_at is None or tokens.expires_at < float("inf")


async def test_a_huge_error_description_is_cut_with_a_note() -> None:
    """A 500 kB error description keeps its first 4,096 characters and says so."""
    description = "z" * 500_000

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            400, json={"error": "invalid_grant", "error_description": description}
        )

    with pytest.raises(ws.OAuth2Error) as info:
        await exchange(handler)
    assert info.value.description.startswith("z" * 4096 + " [... ")
    assert len(info.value.description) < 4200
