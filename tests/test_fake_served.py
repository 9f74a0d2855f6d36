"""The fake over real HTTP: its ASGI app served by uvicorn, the official SDK, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from worksection import Client as SdkClient

from tests.fixtures.fake_support import encode, hook_receiver, query_hash
from worksection_async.testing import FakeWorksection, Fault, RateQuota
from worksection_async.testing.__main__ import build_parser, make_fake


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def fake() -> FakeWorksection:
    fake = FakeWorksection("served-key")
    owner = fake.add_user("owner@example.com", "Olga", "Owner", role="owner")
    fake.add_user("dev@example.com", "Dan", "Dev")
    project = fake.add_project("Website", id=10, members=[owner])
    fake.add_task(project, "Existing task", id=100)
    return fake


@pytest.fixture
def served(fake: FakeWorksection) -> Iterator[str]:
    """uvicorn on 127.0.0.1, a free port, in a background thread; stopped afterwards."""
    with fake.serve_in_thread() as url:
        yield url


@pytest.mark.anyio
async def test_served_over_http(fake: FakeWorksection, served: str) -> None:
    """Signed requests, 414 for a long URL, 5xx pages and dropped connections, on sockets."""
    async with httpx.AsyncClient(base_url=served) as http:
        query = query_hash([("action", "get_task"), ("id_task", "100")], fake.api_key)
        response = await http.post(f"/api/admin/v2/?{query}")
        assert response.headers["content-type"] == "application/json; charset=utf-8"
        assert response.json()["data"]["name"] == "Existing task"
        too_long = await http.get(f"/api/admin/v2/?{encode([('text', 'x' * 9000)])}")
        assert too_long.status_code == 414
        fake.faults.add(Fault.http_error(502), action="get_users")
        bad_gateway = await http.post(
            f"/api/admin/v2/?{query_hash([('action', 'get_users')], fake.api_key)}"
        )
        assert bad_gateway.status_code == 502 and "Bad Gateway" in bad_gateway.text
        fake.faults.add(Fault.drop_connection(), action="get_users")
        with pytest.raises(httpx.RemoteProtocolError):
            await http.post(f"/api/admin/v2/?{query_hash([('action', 'get_users')], fake.api_key)}")
        stats = (await http.get("/_fake/stats")).json()
    assert stats["served"] == 1 and stats["faults"] == 2
    assert fake.internal_errors == []


def _oauth_login(url: str, client_id: str, secret: str) -> dict[str, Any]:
    """The authorization-code flow against a served fake: authorize, then token."""
    redirect = "https://app.example.com/cb"
    authorize = httpx.get(
        f"{url}/oauth2/authorize",
        params={
            "client_id": client_id,
            "redirect_uri": redirect,
            "response_type": "code",
            "state": "s1",
        },
    )
    assert authorize.status_code == 302, authorize.text
    code = parse_qs(urlsplit(authorize.headers["location"]).query)["code"][0]
    token = httpx.post(
        f"{url}/oauth2/token",
        data={
            "client_id": client_id,
            "client_secret": secret,
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect,
        },
    ).json()
    assert isinstance(token, dict) and token["token_type"] == "Bearer", token
    return token


def test_served_links_use_the_served_address(fake: FakeWorksection) -> None:
    """While served in a thread, avatars and the OAuth2 account_url name the served URL;
    afterwards the account URL is the configured one again."""
    fake.add_oauth_app("thread-app", "thread-secret")
    configured = fake.account_url
    with fake.serve_in_thread() as url:
        assert fake.account_url == url != configured
        query = query_hash([("action", "get_users")], fake.api_key)
        users = httpx.post(f"{url}/api/admin/v2/?{query}").json()["data"]
        assert [u["avatar"] for u in users] == [f"{url}/images/user/0m.gif"] * 2
        token = _oauth_login(url, "thread-app", "thread-secret")
        assert token["account_url"] == url
        resource = httpx.post(
            f"{url}/oauth2/resource",
            data={
                "client_id": "thread-app",
                "client_secret": "thread-secret",
                "access_token": token["access_token"],
            },
        ).json()
        assert resource["account_url"] == url
    assert fake.account_url == configured
    assert fake.call("get_users")["data"][0]["avatar"] == f"{configured}/images/user/0m.gif"


def test_served_quota_uses_the_real_clock(fake: FakeWorksection, served: str) -> None:
    """With the default 1/s quota, two immediate requests: the second is error 20."""
    fake.set_quota(RateQuota())
    query = query_hash([("action", "get_users")], fake.api_key)
    with httpx.Client(base_url=served) as http:
        first = http.post(f"/api/admin/v2/?{query}").json()
        second = http.post(f"/api/admin/v2/?{query}").json()
    assert first["status"] == "ok"
    assert second == {"status": "error", "status_code": 20, "message": "Quota exceeded"}


def test_official_sdk_against_the_served_fake(
    fake: FakeWorksection, served: str, tmp_path: Path
) -> None:
    """worksection-api-client 2.1.2 lists, creates a task and a comment, uploads and
    downloads a file; the fake's state shows it all."""
    sdk = SdkClient(served).set_api_key(fake.api_key)
    projects = sdk.projects.list({"extra": "users"})
    assert [(p.id, p.name) for p in projects] == [("10", "Website")]
    assert [t.name for t in sdk.tasks.list(10)] == ["Existing task"]
    spec = tmp_path / "spec.txt"
    spec.write_bytes(b"the spec")
    [uploaded] = sdk.files.upload([str(spec)])
    created = sdk.tasks.create(
        10,
        "Written by the SDK",
        {
            "text": "Body",
            "todo": ["first", "second"],
            "email_user_to": "dev@example.com",
            "priority": 3,
            "files": [uploaded],
        },
    )
    task = fake.tasks[int(created.id)]
    assert (task.name, task.priority, task.text) == (
        "Written by the SDK",
        3,
        "Body\r\n• first\r\n• second",
    )
    assert fake.users[task.assignee_id].email == "dev@example.com"
    comment = sdk.comments.create(int(created.id), "A comment from the SDK")
    assert [c.text for c in fake.comments_of(task)] == ["A comment from the SDK"]
    assert comment.id == str(fake.comments_of(task)[0].id)
    assert [t.name for t in sdk.tasks.list(10)] == ["Existing task", "Written by the SDK"]
    [file] = fake.files_of_task(task)
    target = tmp_path / "back.txt"
    downloaded = sdk.files.download(file.id, str(target))
    assert (downloaded.filename, target.read_bytes()) == ("spec.txt", b"the spec")
    sdk.projects.add_members(10, ["dev@example.com"])
    assert fake.user_by_email("dev@example.com").id in fake.projects[10].member_ids  # type: ignore[union-attr]
    assert fake.stats.rejected_auth == 0 and fake.internal_errors == []


def test_official_sdk_oauth_refreshes_an_expired_token(fake: FakeWorksection, served: str) -> None:
    """The SDK's user actions with a Bearer token, and its refresh after HTTP 401."""
    app = fake.add_oauth_app("sdk-app", "sdk-secret", redirect_uri="https://app.example.com/cb")
    token = fake.issue_token("dev@example.com")
    sdk = SdkClient(served).set_client(
        {
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "redirect_uri": "https://app.example.com/cb",
            "token_url": f"{served}/oauth2/token",
            "refresh_url": f"{served}/oauth2/refresh",
        }
    )
    sdk.set_access_token({"access_token": token.access_token, "refresh_token": token.refresh_token})
    assert sdk.user.profile().email == "dev@example.com"
    sdk.user.start_timer(100)
    assert fake.timer_of("dev@example.com") is not None
    fake.expire_token(token)
    assert sdk.user.profile().email == "dev@example.com"
    assert sdk.get_access_token() != token.access_token
    assert token.revoked


def test_cli_arguments_build_the_fake() -> None:
    """serve's options: key, quota, burst and style, populate, skew, dialect, OAuth app."""
    args = build_parser().parse_args(
        [
            *("serve", "--port", "0", "--api-key", "KEY", "--quota", "20/s", "--burst", "5"),
            *("--populate", "2x3", "--hmac-skew", "60", "--quota-style", "http429"),
            *("--dialect", "ru-docs", "--oauth-client", "my-app:my-secret"),
            *("--shape", "get_my_timer=object", "--role-style", "postman"),
            *(
                "--oauth-redirect-uri",
                "https://a.test/cb",
                "--oauth-redirect-uri",
                "https://b.test/",
            ),
        ]
    )
    fake = make_fake(args, account_url="http://127.0.0.1:9999")
    assert fake.api_key == "KEY" and fake.hmac_skew == 60
    assert fake.quota == RateQuota(rate=20, burst=5)
    assert (fake.quota_style, fake.dialect) == ("http429", "ru-docs")
    assert fake.shapes == {"me": "list", "get_my_timer": "object"}
    assert fake.role_style == "postman"
    assert len(fake.projects) == 2 and len(fake.tasks_of(min(fake.projects))) == 3
    assert fake.account_url == "http://127.0.0.1:9999"
    assert [(a.client_id, a.client_secret) for a in fake.oauth.apps.values()] == [
        ("my-app", "my-secret")
    ]
    [app] = fake.oauth.apps.values()
    assert app.strict and app.redirect_uris == ("https://a.test/cb", "https://b.test/")
    unlimited = make_fake(build_parser().parse_args(["serve", "--quota", "off"]))
    assert unlimited.quota is None and len(unlimited.api_key) == 32
    assert unlimited.quota_style == "code20" and unlimited.dialect == "sdk-2026"
    assert unlimited.shapes == {"me": "object", "get_my_timer": "list"}
    assert unlimited.role_style == "docs"
    [generated] = unlimited.oauth.apps.values()
    assert len(generated.client_id) == 32 and len(generated.client_secret) == 64
    assert not generated.strict and generated.redirect_uris == ()
    hooked = make_fake(
        build_parser().parse_args(["serve", "--webhook", "http://127.0.0.1:9/h,u:p"])
    )
    [hook] = hooked.webhooks.values()
    assert (hook.url, hook.http_user, hook.http_pass, hook.status) == (
        "http://127.0.0.1:9/h",
        "u",
        "p",
        "active",
    )
    assert hooked.webhook_delivery.target("http://127.0.0.1:9/h") == "http"
    for bad in (
        ["--populate", "many"],
        ["--quota-style", "503"],
        ["--dialect", "php"],
        ["--shape", "me=array"],
        ["--shape", "get_users=list"],
        ["--role-style", "Owner"],
        ["--oauth-redirect-uri", "http://app.test/cb"],
        ["--oauth-client", "no-secret"],
        ["--oauth-client", ":secret"],
        ["--webhook", "ftp://hooks.example.com/"],
        ["--webhook", "http://127.0.0.1:9/,user-without-password"],
    ):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["serve", *bad])


def test_cli_serve_prints_the_url_and_key() -> None:
    """python -m worksection_async.testing serve prints where to connect and serves; its
    links use the address it serves; an OAuth2 client logs in over HTTP."""
    command = [sys.executable, "-m", "worksection_async.testing", "serve", "--port", "0"]
    command += ["--api-key", "cli-key", "--quota", "off", "--populate", "1x2"]
    command += ["--oauth-client", "cli-app:cli-secret"]
    command += ["--oauth-redirect-uri", "https://app.example.com/cb"]
    with subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    ) as process:
        try:
            assert process.stdout is not None
            first = process.stdout.readline()
            assert first.startswith("FakeWorksection serving at http://127.0.0.1:")
            url = first.split(" at ", 1)[1].strip()
            lines = [process.stdout.readline() for _ in range(6)]
            assert any("cli-key" in line for line in lines)
            assert any("OAuth2 app:  cli-app:cli-secret" in line for line in lines)
            assert any("redirects:   https://app.example.com/cb" in line for line in lines)
            query = query_hash([("action", "get_all_tasks")], "cli-key")
            response = httpx.post(f"{url}/api/admin/v2/?{query}")
            assert len(response.json()["data"]) == 2
            query = query_hash([("action", "get_users")], "cli-key")
            users = httpx.post(f"{url}/api/admin/v2/?{query}").json()["data"]
            assert {u["avatar"].partition("/images/")[0] for u in users} == {url}
            token = _oauth_login(url, "cli-app", "cli-secret")
            assert token["account_url"] == url
            me = httpx.post(
                f"{url}/api/oauth2?action=me",
                headers={"Authorization": f"Bearer {token['access_token']}"},
            ).json()["data"]
            assert me["role"] == "owner" and me["avatar"].startswith(f"{url}/images/")
        finally:
            process.terminate()
            process.wait(timeout=10)


def test_cli_serve_public_url_goes_into_links() -> None:
    """serve --public-url: links name the address clients use, not the one bound (so
    --host 0.0.0.0 never writes http://0.0.0.0:PORT into answers)."""
    public = "https://ws.example.test:8443"
    command = [sys.executable, "-m", "worksection_async.testing", "serve", "--port", "0"]
    command += ["--api-key", "pub-key", "--quota", "off", "--public-url", public + "/"]
    with subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    ) as process:
        try:
            assert process.stdout is not None
            first = process.stdout.readline()
            assert first.startswith("FakeWorksection serving at http://127.0.0.1:"), first
            url = first.split(" at ", 1)[1].strip()
            assert f"account URL: {public}" in process.stdout.readline()
            query = query_hash([("action", "get_users")], "pub-key")
            users = httpx.post(f"{url}/api/admin/v2/?{query}").json()["data"]
            assert {u["avatar"].partition("/images/")[0] for u in users} == {public}
        finally:
            process.terminate()
            process.wait(timeout=10)
    for bad in ("ftp://x.test", "https://x.test/path", "not a url", "https://x.test/?q=1"):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["serve", "--public-url", bad])


def test_cli_serve_checks_webhook_urls_on_loopback_only() -> None:
    """Under serve, add_webhook checks the URL answers 200 {"status":"OK"} (else error
    11, as in the Postman example), and delivers to hooks that pass; a URL on a host
    that is not loopback is refused at once, never contacted, unless named with
    --allow-webhook-host."""
    command = [sys.executable, "-m", "worksection_async.testing", "serve", "--port", "0"]
    command += ["--api-key", "hook-key", "--quota", "off", "--populate", "1x1"]
    with (
        hook_receiver() as (receiver, seen),
        subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        ) as process,
    ):
        try:
            assert process.stdout is not None
            url = process.stdout.readline().split(" at ", 1)[1].strip()

            def call(action: str, **params: str) -> dict[str, Any]:
                query = query_hash([("action", action), *params.items()], "hook-key")
                answer = httpx.post(f"{url}/api/admin/v2/?{query}", timeout=30)
                body = answer.json()
                assert isinstance(body, dict)
                return body

            added = call("add_webhook", url=f"{receiver}/ok", events="post_task")
            assert added["status"] == "ok", added
            for bad in (f"{receiver}/broken", "https://hooks.example.com/ws"):
                refused = call("add_webhook", url=bad, events="post_task")
                assert refused == {
                    "status": "error",
                    "status_code": 11,
                    "message": "Url should respond 200 HTTP_CODE and JSON {status:OK}",
                    "message_details": bad,
                }
            [project] = call("get_projects")["data"]
            assert call("post_task", id_project=project["id"], title="New")["status"] == "ok"
            assert seen == ["/ok", "/broken", "/ok"]  # the check, the check, the delivery
            hooks = [h["url"] for h in call("get_webhooks")["data"]]
            assert f"{receiver}/ok" in hooks and f"{receiver}/broken" not in hooks
        finally:
            process.terminate()
            process.wait(timeout=10)
    allowed = make_fake(
        build_parser().parse_args(["serve", "--allow-webhook-host", "hooks.example.com"])
    )
    assert allowed.webhook_delivery.target("https://hooks.example.com/ws") == "http"
    assert allowed.webhook_check("https://hooks.example.com/ws")
    assert not allowed.webhook_check("https://hooks.example.com.evil.test/ws")
    assert not allowed.webhook_check("https://elsewhere.test/ws")
    assert allowed.webhook_check("http://localhost:8000/hook")
    assert allowed.webhook_check("http://[::1]/hook")
