"""Transport: envelopes decode to payloads; broken answers and network failures map."""

from __future__ import annotations

import io
from collections.abc import Callable
from urllib.parse import parse_qsl

import httpx
import httpx._urls as httpx_urls
import pytest
import respx
from hypothesis import given, settings
from hypothesis import strategies as st

import worksection_async as ws
from worksection_async import Client
from worksection_async import _transport as transport_module
from worksection_async._client import DEFAULT_SIGNER
from worksection_async._signing import WireRequest
from worksection_async._transport import ApiHttpClient, HttpTransport

from .conftest import ACCOUNT, API_KEY, ok

pytestmark = pytest.mark.anyio


async def test_data_is_returned(router: respx.MockRouter, client: Client) -> None:
    """{"status": "ok", "data": X} gives X."""
    router.post("/api/admin/v2/").mock(return_value=ok({"id": "1", "name": "Task"}))
    assert await client.call("get_task", page="/project/1/2/") == {"id": "1", "name": "Task"}


async def test_top_level_fields_are_returned(router: respx.MockRouter, client: Client) -> None:
    """An ok envelope with top-level id/total keeps them all (data too)."""
    router.post("/api/admin/v2/", params__contains={"action": "add_costs"}).mock(
        return_value=ok(id=3706)
    )
    router.post("/api/admin/v2/", params__contains={"action": "get_costs"}).mock(
        return_value=ok([{"id": "1"}], total={"time": "1:00", "money": "2.00"})
    )
    assert await client.call("add_costs", page="/project/1/2/", time="1,5") == {"id": 3706}
    assert await client.call("get_costs") == {
        "data": [{"id": "1"}],
        "total": {"time": "1:00", "money": "2.00"},
    }


async def test_bare_ok_is_none(router: respx.MockRouter, client: Client) -> None:
    """A bare {"status": "ok"} gives None."""
    router.post("/api/admin/v2/").mock(return_value=ok())
    assert await client.call("complete_task", page="/project/1/2/") is None


async def test_request_is_a_signed_post(router: respx.MockRouter, client: Client) -> None:
    """The request is a POST to /api/admin/v2/ with the signed params in the query."""
    route = router.post("/api/admin/v2/").mock(return_value=ok([]))
    await client.call("get_tasks", page="/project/5/", extra="text")
    request = route.calls.last.request
    assert request.method == "POST"
    assert request.url.host == "acme.worksection.com"
    params = dict(parse_qsl(request.url.query.decode()))
    assert params["action"] == "get_tasks"
    assert params["page"] == "/project/5/"
    assert params["extra"] == "text"
    assert len(params["hash"]) == 32


async def test_long_comment_goes_in_the_body(router: respx.MockRouter, client: Client) -> None:
    """A 20 kB comment is sent in a form body, keeping the URL short."""
    route = router.post("/api/admin/v2/").mock(return_value=ok({"id": "9"}))
    text = "long comment " * 1600
    await client.call("post_comment", page="/project/1/2/", text=text)
    request = route.calls.last.request
    assert len(str(request.url)) < 100
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert dict(parse_qsl(request.content.decode()))["text"] == text


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        (
            httpx.Response(
                502,
                text="<html><body><h1>502 Bad Gateway</h1></body></html>",
                headers={"content-type": "text/html"},
            ),
            "HTML error page",
        ),
        (httpx.Response(200, text='{"status": "ok", "data": [{"id"'), "not JSON"),
        (httpx.Response(200, json=[{"id": "1"}]), "envelope"),
        (httpx.Response(200, json={"data": []}), "envelope"),
        (httpx.Response(200, json={"status": "weird"}), "unknown envelope status"),
        (httpx.Response(414, text="Request-URI Too Large"), "unexpected HTTP status"),
        (httpx.Response(500, text="oops"), "unexpected HTTP status"),
        (
            httpx.Response(200, text="<!DOCTYPE html><html>maintenance</html>"),
            "HTML error page",
        ),
    ],
)
async def test_protocol_errors(
    response: httpx.Response, reason: str, router: respx.MockRouter, client: Client
) -> None:
    """Broken answers are ProtocolError with the status and a short snippet."""
    route = router.post("/api/admin/v2/").mock(return_value=response)
    with pytest.raises(ws.ProtocolError) as info:
        await client.call("get_projects")
    assert reason in str(info.value)
    assert info.value.http_status == response.status_code
    assert info.value.snippet
    assert len(info.value.snippet) <= 200
    assert route.call_count == 1


async def test_protocol_error_snippet_is_redacted(router: respx.MockRouter, client: Client) -> None:
    """A page that echoes the URL or the key never puts them in the error."""
    route = router.post("/api/admin/v2/")
    route.side_effect = lambda request: httpx.Response(
        500, text=f"error at {request.url} key={API_KEY}"
    )
    with pytest.raises(ws.ProtocolError) as info:
        await client.call("get_projects")
    text = f"{info.value!s} {info.value!r} {info.value.snippet}"
    assert API_KEY not in text
    sent_hash = dict(parse_qsl(route.calls.last.request.url.query.decode()))["hash"]
    assert sent_hash not in text


@pytest.mark.parametrize(
    "exc",
    [httpx.ConnectError("connection refused"), httpx.ReadTimeout("read timed out")],
)
async def test_network_errors_are_transport_errors(
    exc: Exception, router: respx.MockRouter, client: Client
) -> None:
    """httpx network errors and timeouts become TransportError after one request."""
    route = router.post("/api/admin/v2/").mock(side_effect=exc)
    with pytest.raises(ws.TransportError) as info:
        await client.call("get_projects")
    assert route.call_count == 1
    assert info.value.__cause__ is exc


async def test_http_client_passed_in_is_not_closed(router: respx.MockRouter) -> None:
    """A caller's httpx.AsyncClient is used and left open."""
    router.post("/api/admin/v2/").mock(return_value=ok([]))
    async with httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler)) as http:
        async with Client(ACCOUNT, API_KEY, http_client=http) as client:
            assert await client.call("get_projects") == []
        assert not http.is_closed
        assert client.is_closed


async def test_owned_http_client_is_closed(router: respx.MockRouter) -> None:
    """The client closes the httpx client it created, and refuses calls afterwards."""
    client = Client(ACCOUNT, API_KEY, transport=httpx.MockTransport(router.async_handler))
    async with client:
        pass
    assert client._transport._http.is_closed
    with pytest.raises(ws.ClientClosedError):
        await client.call("get_projects")
    await client.aclose()  # idempotent


@pytest.mark.parametrize(
    ("signer", "path"),
    [
        (ws.PageHash(), "/api/admin/v2/"),
        (ws.QueryHash(), "/api/admin/v2/"),
        (ws.HmacToken(), "/api/admin/v2"),
    ],
)
async def test_every_signer_reaches_its_endpoint(
    signer: ws.Signer, path: str, router: respx.MockRouter, make_client: Callable[..., Client]
) -> None:
    """The client sends each dialect to its endpoint and decodes the same envelope."""
    route = router.post(path).mock(return_value=ok([{"id": "1"}]))
    async with make_client(signer=signer) as client:
        assert await client.call("get_tasks", page="/project/1/") == [{"id": "1"}]
    assert route.call_count == 1


@pytest.mark.parametrize("signer", [ws.PageHash(), ws.QueryHash(), ws.HmacToken()])
async def test_long_comment_with_attachment_end_to_end(signer: ws.Signer) -> None:
    """A 20 kB comment plus a file reaches the fake whole, under every dialect."""
    from worksection_async.testing import FakeWorksection

    fake = FakeWorksection()
    project = fake.add_project("P")
    task = fake.add_task(project, "T")
    text = "ü" * 20_000
    call = ws.Call.build(
        "post_comment",
        task.page,
        {"text": text},
        files=[ws.UploadFile("attach[0]", "notes.txt", b"file body", "text/plain")],
    )
    async with Client(
        fake.account_url, fake.api_key, signer=signer, transport=fake.transport, rate_limit=None
    ) as client:
        await client.send(call)
    [comment] = fake.comments_of(task)
    assert comment.text == text
    assert [f.name for f in fake.files.values()] == ["notes.txt"]


# -- redirects are never followed ----------------------------------------------------


class Recorder:
    """A MockTransport handler: the account answers with a redirect, the other host
    with a normal envelope; every request's host is recorded."""

    def __init__(self, status: int, location: str) -> None:
        self.status = status
        self.location = location
        self.hosts: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.hosts.append(request.url.host)
        if request.url.host == "acme.worksection.com":
            return httpx.Response(self.status, headers={"location": self.location})
        return httpx.Response(200, json={"status": "ok", "data": "stolen"})


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_redirect_is_never_followed_even_by_a_following_client(status: int) -> None:
    """A caller's AsyncClient(follow_redirects=True) still never re-sends the signed
    request: the redirect is a ProtocolError naming the target host."""
    recorder = Recorder(status, "https://evil.example:8443/collect?x=1")
    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(recorder), follow_redirects=True) as http,
        Client(ACCOUNT, API_KEY, http_client=http, rate_limit=None) as client,
    ):
        with pytest.raises(ws.ProtocolError) as info:
            await client.call("post_comment", page="/project/1/2/", text="secret plans")
    assert recorder.hosts == ["acme.worksection.com"]
    assert "evil.example:8443" in str(info.value)
    assert info.value.http_status == status
    assert info.value.request_sent is True


async def test_a_relative_redirect_names_the_account_host() -> None:
    """A redirect to a path on the same host is not followed either."""
    recorder = Recorder(307, "/api/admin/v3/")
    async with Client(
        ACCOUNT, API_KEY, transport=httpx.MockTransport(recorder), rate_limit=None
    ) as client:
        with pytest.raises(ws.ProtocolError, match=r"acme\.worksection\.com"):
            await client.call("get_projects")
    assert recorder.hosts == ["acme.worksection.com"]


async def test_a_download_redirect_is_never_followed() -> None:
    """Downloads refuse redirects too (a file link must not carry the hash away)."""
    recorder = Recorder(302, "https://files.evil.example/f")
    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(recorder), follow_redirects=True) as http,
        Client(ACCOUNT, API_KEY, http_client=http, rate_limit=None) as client,
    ):
        with pytest.raises(ws.ProtocolError, match=r"files\.evil\.example"):
            await client.files.download(3, to=io.BytesIO())
    assert recorder.hosts == ["acme.worksection.com"]


async def test_a_bad_content_encoding_is_a_protocol_error() -> None:
    """An answer that claims gzip but is not is a ProtocolError (the server answered)."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-encoding": "gzip"}, content=b"not gzip")

    async with Client(
        ACCOUNT, API_KEY, transport=httpx.MockTransport(handler), rate_limit=None
    ) as client:
        with pytest.raises(ws.ProtocolError, match="content encoding"):
            await client.call("get_projects")


async def test_a_redirect_to_an_unparsable_location_is_a_typed_error() -> None:
    """A Location httpx cannot parse (httpx refuses it while reading the answer): a
    TransportError that says the request went out, and nothing is re-sent."""
    recorder = Recorder(302, "http://\x00bad/")
    async with Client(
        ACCOUNT, API_KEY, transport=httpx.MockTransport(recorder), rate_limit=None
    ) as client:
        with pytest.raises(ws.TransportError, match="location") as info:
            await client.call("get_projects")
    assert info.value.request_sent is True
    assert recorder.hosts == ["acme.worksection.com"]


# -- the per-call fast paths: no URL parse, no cookie jar for cookie-less answers ------


def transport_of(client: Client) -> HttpTransport:
    return client._transport


def parsed(client: Client, wire: WireRequest) -> httpx.URL:
    """The URL as httpx parses the full text (what the transport sent before)."""
    return httpx.URL(transport_of(client)._base + wire.target)


def offline_client(signer: ws.Signer = DEFAULT_SIGNER) -> Client:
    """A client that never sends (and builds no TLS context): for its URLs only."""
    transport = httpx.MockTransport(lambda request: httpx.Response(500))
    return Client(ACCOUNT, API_KEY, signer=signer, transport=transport, rate_limit=None)


PARAMS = st.dictionaries(
    st.from_regex(r"[a-z][a-z_]{0,8}", fullmatch=True).filter(
        lambda key: key not in ("action", "hash", "page")
    ),
    st.text(max_size=40),
    max_size=4,
)
"""Any extra query parameters (any text, percent signs, quotes, #)."""

SIGNERS = st.sampled_from([ws.PageHash(), ws.QueryHash(), ws.HmacToken()])


def assert_same_url(url: httpx.URL, expected: httpx.URL) -> None:
    assert str(url) == str(expected)
    assert url.raw_path == expected.raw_path
    assert url == expected


@given(params=PARAMS, signer=SIGNERS)
@settings(max_examples=150, deadline=None)
def test_url_is_what_httpx_parses(params: dict[str, str], signer: ws.Signer) -> None:
    """Whatever the parameters (any text, percent signs, quotes, #), the URL set from
    the signed query is the one httpx parses from the whole text, byte for byte."""
    client = offline_client(signer)
    wire = signer.sign(ws.Call.build("get_tasks", "/project/1/", params), API_KEY, 1.7e9)
    assert_same_url(transport_of(client)._url(wire), parsed(client, wire))


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/api/admin/v2/", "a=b c"),  # space: httpx escapes it
        ("/api/admin/v2/", 'a="x"&b=<y>'),  # quotes and angle brackets: escaped
        ("/api/admin/v2/", "a=b#frag"),  # a fragment
        ("/api/admin/v2/", "a=%zz&b=%41&c=100%"),  # stray percent signs stay
        ("/api/admin/v2/", "a=é"),  # not ASCII: escaped
        ("/api/admin/v2/", "a=" + "x" * 65_600),  # past httpx's URL limit: refused
        ("/custom?x=1", "a=b"),  # a custom signer's path with a query of its own
        ("/custom#x", "a=b"),
        ("/api/admin/v2/", ""),
    ],
)
def test_odd_queries_are_parsed_by_httpx(path: str, query: str) -> None:
    """A query or path a custom signer builds that httpx would change (or refuse) goes
    through httpx's own parse: the same URL, or the same error, as before."""
    client = offline_client()
    wire = WireRequest(path=path, query=query)
    try:
        expected = parsed(client, wire)
    except httpx.InvalidURL:
        with pytest.raises(httpx.InvalidURL):
            transport_of(client)._url(wire)
        return
    assert_same_url(transport_of(client)._url(wire), expected)


def shown_url(signer: ws.Signer, wire: WireRequest) -> tuple[str, httpx.Request]:
    """The URL ``RequestPrepared`` shows for ``wire``, and the request sent."""
    events: list[object] = []
    transport = httpx.MockTransport(lambda request: httpx.Response(500))
    client = Client(
        ACCOUNT,
        API_KEY,
        signer=signer,
        transport=transport,
        rate_limit=None,
        on_event=events.append,
    )
    request = transport_of(client)._to_httpx(wire, ws.Call.build("get_tasks"))
    (prepared,) = [event for event in events if isinstance(event, ws.RequestPrepared)]
    return prepared.url, request


@given(params=PARAMS, signer=SIGNERS)
@settings(max_examples=150, deadline=None)
def test_an_events_url_is_the_sent_url_masked(params: dict[str, str], signer: ws.Signer) -> None:
    """``RequestPrepared.url`` is the URL the request goes to, with the hash masked:
    the account and path shown are the sent URL's text, kept from its first parse."""
    wire = signer.sign(ws.Call.build("get_tasks", "/project/1/", params), API_KEY, 1.7e9)
    for _ in range(2):  # the first parse of the path, then the kept text
        shown, request = shown_url(signer, wire)
        assert shown == transport_module._masked_url(str(request.url))
        assert "hash=[redacted]" in shown or "hash=" not in str(request.url)


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/api/admin/v2/", "a=b c&hash=h"),
        ("/api/admin/v2/", "a=%zz&b=%41&c=100%&HASH=h"),
        ("/api/admin/v2/", "a=é&hash=h"),
        ("/custom?x=1", "a=b&hash=h"),
        ("/custom#x", "hash=h"),
        ("/api/admin/v2/", ""),
        ("/api/oauth2", ""),
    ],
)
def test_an_odd_urls_event_is_the_sent_url_masked(path: str, query: str) -> None:
    """A query or path httpx changes: the event shows what httpx sends, masked."""
    shown, request = shown_url(DEFAULT_SIGNER, WireRequest(path=path, query=query))
    assert shown == transport_module._masked_url(str(request.url))
    assert "=h" not in shown.replace("x=1", "")


async def test_a_call_parses_no_url(
    router: respx.MockRouter, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the first call (which parses the account and path once), a call builds its
    URL without httpx's parser: that parse was a sixth of a small call's time."""
    router.post("/api/admin/v2/").mock(return_value=ok({"id": "1"}))
    await client.call("get_task", page="/project/1/2/")
    parses: list[str] = []
    original = httpx_urls.urlparse

    def counting(url: str = "", **kwargs: str | None) -> object:
        parses.append(url)
        return original(url, **kwargs)

    monkeypatch.setattr(httpx_urls, "urlparse", counting)
    for task in range(3, 8):
        await client.call("get_task", page=f"/project/1/{task}/", extra="text,files")
    assert parses == []
    assert router.calls.last.request.url.params["page"] == "/project/1/7/"


async def test_without_httpx_internals_every_url_is_parsed(
    router: respx.MockRouter, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Should httpx's URL internals change, the self-check fails and the transport
    parses every URL as httpx would."""

    def broken(template: httpx.URL, query: str) -> httpx.URL:
        raise AttributeError("_uri_reference")

    monkeypatch.setattr(transport_module, "_replace_query", broken)
    assert not transport_module._query_url_works()
    monkeypatch.setattr(transport_module, "_QUERY_URL", False)
    route = router.post("/api/admin/v2/").mock(return_value=ok({"id": "1"}))
    assert await client.call("get_task", page="/project/1/2/") == {"id": "1"}
    assert route.calls.last.request.url.params["page"] == "/project/1/2/"


async def test_cookies_a_server_sets_are_sent_back() -> None:
    """The client's own httpx client keeps cookies as httpx does: set by one answer,
    sent with the next request; ``cookies`` can be replaced as on any AsyncClient."""
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("cookie"))
        headers = {"set-cookie": "sid=abc; Path=/"} if len(seen) == 1 else {}
        return httpx.Response(200, json={"status": "ok"}, headers=headers)

    async with Client(
        ACCOUNT, API_KEY, transport=httpx.MockTransport(handler), rate_limit=None
    ) as client:
        http = transport_of(client)._http
        assert isinstance(http, ApiHttpClient)
        await client.call("get_projects")
        await client.call("get_projects")
        assert dict(http.cookies) == {"sid": "abc"}
        http.cookies = {"other": "1"}
        await client.call("get_projects")
    assert seen == [None, "sid=abc", "other=1"]


async def test_an_answer_without_cookies_skips_the_cookie_jar(
    router: respx.MockRouter, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """httpx wraps every answer in urllib objects for its cookie jar; an answer that
    sets no cookie no longer costs that."""

    def wrap(*args: object) -> None:
        raise AssertionError("the cookie jar was given an answer without cookies")

    monkeypatch.setattr(httpx.Cookies, "_CookieCompatRequest", wrap)
    router.post("/api/admin/v2/").mock(return_value=ok({"id": "1"}))
    assert await client.call("get_task", page="/project/1/2/") == {"id": "1"}
