"""Transport: envelopes decode to payloads; broken answers and network failures map."""

from __future__ import annotations

import io
from collections.abc import Callable
from urllib.parse import parse_qsl

import httpx
import pytest
import respx

import worksection_async as ws
from worksection_async import Client

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
