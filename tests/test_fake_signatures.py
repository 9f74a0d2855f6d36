"""The fake accepts every signer of the client, and refuses anything else with error 2.

Requests are signed here by hand (hashlib/hmac) and by the client's own signers, and the
two are compared, so the fake, the client and this file check one another.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.fixtures.fake_support import (
    client_for,
    encode,
    hmac_authorization,
    md5_hex,
    page_hash,
    query_hash,
)
from worksection_async import (
    Client,
    HmacToken,
    InvalidHashError,
    PageHash,
    ProjectPage,
    QueryHash,
    SubtaskPage,
    TaskPage,
    UploadFile,
)
from worksection_async._call import Call
from worksection_async._signing import Signer
from worksection_async.testing import FakeWorksection

NOW = 1_700_000_000.0
BAD_HASH = {"status": "error", "status_code": 2, "message": "Action hash is missed or invalid"}


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


pytestmark = pytest.mark.anyio


@pytest.fixture
def fake() -> FakeWorksection:
    fake = FakeWorksection("s3cret-key", wall_clock=lambda: NOW)
    fake.add_user("owner@example.com", "Olga", "Owner", role="owner")
    project = fake.add_project("Website", id=7)
    task = fake.add_task(project, "Task", id=70)
    fake.add_task(project, "Subtask", id=71, parent=task)
    return fake


@pytest.fixture
async def http(fake: FakeWorksection) -> Any:
    async with client_for(fake) as client:
        yield client


async def test_page_hash_with_and_without_page(
    http: httpx.AsyncClient, fake: FakeWorksection
) -> None:
    """md5(page + action + key), and md5(action + key) when no page is sent."""
    query = page_hash("get_task", [("extra", "text")], fake.api_key, page="/project/7/70/")
    assert (await http.post(f"/api/admin/v2/?{query}")).json()["data"]["id"] == "70"
    query = page_hash("get_projects", [], fake.api_key)
    assert (await http.get(f"/api/admin/v2?{query}")).json()["status"] == "ok"
    query = page_hash("get_task", [], "other-key", page="/project/7/70/")
    assert (await http.post(f"/api/admin/v2/?{query}")).json() == BAD_HASH


async def test_query_hash_in_the_url_and_in_a_form_body(
    http: httpx.AsyncClient, fake: FakeWorksection
) -> None:
    """md5(raw query before &hash= + key), in the URL or in a form-encoded body."""
    pairs = [("action", "post_comment"), ("id_task", "70"), ("text", "caf\u00e9 & cr\u00e8me")]
    url = await http.post(f"/api/admin/v2/?{query_hash(pairs, fake.api_key)}")
    assert url.json()["data"]["text"] == "caf\u00e9 & cr\u00e8me"
    body = await http.post(
        "/api/admin/v2/",
        content=query_hash(pairs, fake.api_key),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert body.json()["status"] == "ok"
    assert [c.text for c in fake.comments_of(70)] == ["caf\u00e9 & cr\u00e8me"] * 2


def _orders(pairs: list[tuple[str, str]], digest: str) -> dict[str, list[tuple[str, str]]]:
    """The signed pairs in the orders known clients send them (hash = md5 of the rest)."""
    signed = [*pairs, ("hash", digest)]
    action = [p for p in pairs if p[0] == "action"]
    rest = [p for p in pairs if p[0] != "action"]
    return {
        "action-first-hash-last": signed,
        "sorted-hash-among-them": sorted(signed),
        "hash-first": [("hash", digest), *pairs],
        "hash-mid-query": [*pairs[:2], ("hash", digest), *pairs[2:]],
        "action-last": [*rest, *action, ("hash", digest)],
    }


ORDERS = list(_orders([("action", "x")], "h"))


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("where", ["query", "form"])
async def test_query_hash_in_any_position_signs_the_rest_as_sent(
    http: httpx.AsyncClient, fake: FakeWorksection, order: str, where: str
) -> None:
    """hash may stand anywhere: the other pairs, in the order sent, are what is signed."""
    pairs = [("action", "get_tasks"), ("id_project", "7"), ("extra", "text"), ("filter", "active")]
    sent = [p for p in pairs if p[0] != "action"] if order == "action-last" else pairs
    if order == "sorted-hash-among-them":
        sent = sorted(pairs)
    if order == "action-last":
        sent = [*sent, pairs[0]]
    digest = md5_hex(encode(sent) + fake.api_key)
    ordered = _orders(pairs, digest)[order]
    assert [p for p in ordered if p[0] != "hash"] == sent
    if where == "query":
        response = await http.post(f"/api/admin/v2/?{encode(ordered)}")
    else:
        response = await http.post(
            "/api/admin/v2/",
            content=encode(ordered),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    body = response.json()
    assert body["status"] == "ok", body
    assert [t["id"] for t in body["data"]] == ["70"]
    swapped = [*ordered[1:], ordered[0]] if ordered[0][0] != "hash" else ordered[::-1]
    refused = await http.post(f"/api/admin/v2/?{encode(swapped)}")
    assert refused.json() == BAD_HASH, "another order of the same pairs is another string"


async def test_two_hash_pairs_are_error_2(http: httpx.AsyncClient, fake: FakeWorksection) -> None:
    """A query with the hash twice is not signed (which one would be the signature?)."""
    signed = query_hash([("action", "get_users")], fake.api_key)
    digest = signed.rpartition("=")[2]
    assert (await http.post(f"/api/admin/v2/?{signed}")).json()["status"] == "ok"
    twice = await http.post(f"/api/admin/v2/?{signed}&hash={digest}")
    assert twice.json() == BAD_HASH


async def test_wrong_missing_or_misplaced_hashes_are_error_2(
    http: httpx.AsyncClient, fake: FakeWorksection
) -> None:
    """A tampered parameter, a wrong key, no hash, a hash not last: error 2, no change."""
    pairs = [("action", "post_comment"), ("id_task", "70"), ("text", "hi")]
    signed = query_hash(pairs, fake.api_key)
    attempts = [
        signed.replace("text=hi", "text=ho"),
        query_hash(pairs, "wrong-key"),
        encode(pairs),
        f"{signed}&extra=1",
        encode(pairs) + "&hash=",
    ]
    for query in attempts:
        response = await http.post(f"/api/admin/v2/?{query}")
        assert (response.status_code, response.json()) == (200, BAD_HASH), query
    bearer = await http.post(
        "/api/admin/v2/?action=get_users", headers={"Authorization": "Bearer nope"}
    )
    assert bearer.json() == BAD_HASH
    assert fake.comments_of(70) == []
    assert fake.stats.rejected_auth == len(attempts) + 1
    assert fake.stats.served == 0


async def test_hmac_token_within_the_skew_window(
    http: httpx.AsyncClient, fake: FakeWorksection
) -> None:
    """Authorization: Admin <t>_<hmac>: accepted within 300 s of the wall clock."""

    async def with_stamp(stamp: float, key: str = fake.api_key) -> dict[str, Any]:
        response = await http.post(
            "/api/admin/v2?action=get_task",
            content=json.dumps({"id_task": 70}),
            headers={
                "Authorization": hmac_authorization("get_task", key, int(stamp)),
                "Content-Type": "application/json; charset=utf-8",
            },
        )
        body = response.json()
        assert isinstance(body, dict)
        return body

    for offset in (0, -300, 300):
        assert (await with_stamp(NOW + offset))["data"]["id"] == "70"
    for offset in (-301, 301):
        assert await with_stamp(NOW + offset) == BAD_HASH
    assert await with_stamp(NOW, key="other") == BAD_HASH
    strict = FakeWorksection("s3cret-key", wall_clock=lambda: NOW, hmac_skew=10)
    strict.add_project("P", id=7)
    async with client_for(strict) as other:
        late = await other.post(
            "/api/admin/v2?action=get_tasks",
            json={"id_project": "7"},
            headers={"Authorization": hmac_authorization("get_tasks", "s3cret-key", int(NOW) - 11)},
        )
        assert late.json() == BAD_HASH


def _client(fake: FakeWorksection, signer: Signer, key: str | None = None) -> Client:
    return Client(
        fake.account_url,
        key or fake.api_key,
        signer=signer,
        transport=fake.transport,
        rate_limit=None,
        retry=None,
        wall_clock=lambda: NOW,
    )


SIGNERS = [pytest.param(PageHash(), id="PageHash"), pytest.param(QueryHash(), id="QueryHash")]
SIGNERS.append(pytest.param(HmacToken(), id="HmacToken"))


@pytest.mark.parametrize("signer", SIGNERS)
async def test_the_clients_signers_are_accepted(fake: FakeWorksection, signer: Signer) -> None:
    """Each client dialect reads, creates, sends long text and files, and is refused with
    a wrong key."""
    async with _client(fake, signer) as client:
        sub = await client.call("get_task", page=SubtaskPage(7, 70, 71))
        assert isinstance(sub, dict) and sub["id"] == "71"
        created = await client.call(
            "post_task", page=ProjectPage(7), title="From the client", todo=["a", "b"]
        )
        assert isinstance(created, dict)
        new_id = int(str(created["id"]))
        assert fake.tasks[new_id].text == "• a\r\n• b"
        await client.call("post_comment", page=TaskPage(7, new_id), text="y" * 9000)
        assert len(fake.comments_of(new_id)[0].text) == 9000
        call = Call.build(
            "post_comment",
            TaskPage(7, new_id),
            {"text": "with a file"},
            files=[UploadFile("attach[0]", "notes.txt", b"notes")],
        )
        await client.send(call)
        assert [f.content for f in fake.files_of_task(new_id, with_comments=True)] == [b"notes"]
    async with _client(fake, signer, key="wrong-key") as bad:
        with pytest.raises(InvalidHashError):
            await bad.call("get_task", page=TaskPage(7, 70))
    assert fake.internal_errors == []


async def test_the_clients_signatures_equal_hand_made_ones() -> None:
    """The client's three signers produce exactly what this file computes by hand."""
    key = "k3y"
    call = Call.build("get_task", TaskPage(7, 70), {"extra": "text,files", "todo": ["x y"]})
    wire = PageHash().sign(call, key, NOW)
    pairs = [("extra", "text,files"), ("todo[]", "x y")]
    assert wire.query == page_hash("get_task", pairs, key, page="/project/7/70/")
    wire = QueryHash().sign(call, key, NOW)
    assert wire.query == query_hash([("action", "get_task"), ("id_task", "70"), *pairs], key)
    wire = HmacToken().sign(call, key, NOW)
    assert dict(wire.headers)["Authorization"] == hmac_authorization("get_task", key, int(NOW))
    assert json.loads(wire.body or b"") == {"id_task": "70", "extra": "text,files", "todo": ["x y"]}
    assert (wire.path, wire.query) == ("/api/admin/v2", "action=get_task")


async def test_bearer_tokens_expire_and_refresh_rotates(
    http: httpx.AsyncClient, fake: FakeWorksection
) -> None:
    """OAuth2: authorize, token, API calls as the user, 401 when expired, rotation."""
    app = fake.add_oauth_app("app-id", "app-secret", redirect_uri="https://app.example.com/cb")
    authorize = await http.get(
        "/oauth2/authorize",
        params={
            "client_id": "app-id",
            "redirect_uri": "https://app.example.com/cb",
            "state": "xyz",
            "response_type": "code",
            "scope": "projects_read,tasks_read",
        },
    )
    location = urlsplit(authorize.headers["location"])
    code = parse_qs(location.query)["code"][0]
    assert parse_qs(location.query)["state"] == ["xyz"]
    token = (
        await http.post(
            "/oauth2/token",
            data={
                "client_id": app.client_id,
                "client_secret": app.client_secret,
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": "https://app.example.com/cb",
            },
        )
    ).json()
    assert token["token_type"] == "Bearer" and token["account_url"] == fake.account_url
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    me = await http.post("/api/oauth2?action=me", headers=headers)
    assert me.json()["data"]["email"] == "owner@example.com"
    by_param = await http.post(
        "/api/oauth2", params={"action": "get_task", "id_task": "70"}, headers={}
    )
    assert by_param.status_code == 401
    by_param = await http.post(
        "/api/oauth2",
        params={"action": "get_task", "id_task": "70", "access_token": token["access_token"]},
    )
    assert by_param.json()["data"]["id"] == "70"

    fake.expire_token(token["access_token"])
    expired = await http.post("/api/oauth2?action=me", headers=headers)
    assert expired.status_code == 401
    assert "token is expired" in expired.json()["message"]
    refreshed = (
        await http.post(
            "/oauth2/refresh",
            params={
                "client_id": app.client_id,
                "client_secret": app.client_secret,
                "grant_type": "refresh_token",
                "refresh_token": token["refresh_token"],
            },
        )
    ).json()
    assert refreshed["access_token"] != token["access_token"]
    new_headers = {"Authorization": f"Bearer {refreshed['access_token']}"}
    assert (await http.post("/api/oauth2?action=me", headers=new_headers)).status_code == 200
    again = await http.post(
        "/oauth2/refresh",
        params={
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "grant_type": "refresh_token",
            "refresh_token": token["refresh_token"],
        },
    )
    assert again.json() == {
        "error": "invalid_request",
        "errorDescription": "Token has been revoked",
    }
    assert (await http.post("/api/oauth2?action=me", headers=headers)).status_code == 401
    reused = await http.post(
        "/oauth2/token",
        params={
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "grant_type": "authorization_code",
            "code": code,
        },
    )
    assert reused.json()["errorDescription"] == "Authorization code has been revoked"


async def test_query_hash_over_the_unencoded_query_is_accepted_too(
    http: httpx.AsyncClient, fake: FakeWorksection
) -> None:
    """The Postman pre-request script hashes ``key=value`` unencoded and sends it encoded;
    the PHP SDK 3.3 hashes the encoded string: both are accepted (values with a space,
    ``,``, ``@``, ``'`` and non-ASCII text, in the URL and in a form body)."""
    text = "it's done, @olga: caf\u00e9 + cr\u00e8me"
    pairs = [("action", "post_comment"), ("id_task", "70"), ("text", text)]
    plain = "&".join(f"{k}={v}" for k, v in pairs)
    signed = f"{encode(pairs)}&hash={md5_hex(plain + fake.api_key)}"
    url = await http.post(f"/api/admin/v2/?{signed}")
    assert url.json()["status"] == "ok", url.json()
    body = await http.post(
        "/api/admin/v2/",
        content=signed,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert body.json()["status"] == "ok", body.json()
    assert [c.text for c in fake.comments_of(70)] == [text, text]
    tampered = signed.replace("70", "71", 1)
    assert (await http.post(f"/api/admin/v2/?{tampered}")).json() == BAD_HASH


async def test_authorize_redirects_to_registered_https_uris_only(
    http: httpx.AsyncClient, fake: FakeWorksection
) -> None:
    """The docs require an HTTPS redirect_uri registered for the app: http:// (loopback
    too) and unregistered URIs are refused; a strict app with none registered (as
    serve --oauth-client registers it) refuses all; a test app with none takes any
    HTTPS URI."""

    async def authorize(client_id: str, redirect: str) -> httpx.Response:
        return await http.get(
            "/oauth2/authorize",
            params={"client_id": client_id, "redirect_uri": redirect, "response_type": "code"},
        )

    refused = {"error": "invalid_client", "errorDescription": "Redirect URI is invalid"}
    fake.add_oauth_app("two", "s", redirect_uri=["https://a.test/cb", "https://b.test/cb"])
    fake.add_oauth_app("strict", "s", strict=True)
    fake.add_oauth_app("open", "s")
    for client_id, redirect in (
        ("two", "https://a.test/cb"),
        ("two", "https://b.test/cb"),
        ("open", "https://anything.test/x"),
    ):
        answer = await authorize(client_id, redirect)
        assert answer.status_code == 302 and answer.headers["location"].startswith(redirect)
    for client_id, redirect in (
        ("two", "https://c.test/cb"),
        ("two", "http://a.test/cb"),
        ("open", "http://127.0.0.1:8000/cb"),
        ("open", "http://localhost/cb"),
        ("strict", "https://a.test/cb"),
    ):
        answer = await authorize(client_id, redirect)
        assert (answer.status_code, answer.json()) == (200, refused), (client_id, redirect)


async def test_api_oauth2_refuses_form_bodies(
    http: httpx.AsyncClient, fake: FakeWorksection
) -> None:
    """/api/oauth2 reads the query string and JSON bodies; a form-encoded body is an
    "Invalid JSON" error (a live probe's answer), nothing changed."""
    token = fake.issue_token()
    headers = {"Authorization": f"Bearer {token.access_token}"}
    form = await http.post(
        "/api/oauth2?action=post_comment", data={"id_task": "70", "text": "hi"}, headers=headers
    )
    assert form.json() == {"status": "error", "status_code": 10, "message": "Invalid JSON"}
    assert fake.comments_of(70) == []
    as_json = await http.post(
        "/api/oauth2?action=post_comment", json={"id_task": "70", "text": "hi"}, headers=headers
    )
    assert as_json.json()["status"] == "ok"
    in_query = await http.post(
        "/api/oauth2", params={"action": "get_task", "id_task": "70"}, headers=headers
    )
    assert in_query.json()["data"]["id"] == "70"
