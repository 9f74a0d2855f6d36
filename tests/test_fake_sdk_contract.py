"""Contract: the official SDK (``worksection-api-client`` 2.1.2) against ``serve``.

The test starts ``python -m worksection_async.testing serve`` (uvicorn on 127.0.0.1,
a free port, an OAuth2 app given with ``--oauth-client``) and drives every action the
SDK exposes over HTTP, with the admin API key (``Authorization: Admin``) and with an
OAuth2 token got through the SDK's own authorization-code flow (every scope; ``me`` and
``get_my_timer`` in each of the fake's dialects). The SDK's HTTP
object is swapped for one that records each answer as it came off the wire; every
answer must be a success, and each one that carries an object is structured with this
project's models (``RESPONSE_MODELS``) without losing a key.

The SDK cannot read two documented answers (reference §10), which stay out of its own
results but not of this check: ``costs.total`` is called without ``extra=projects``
(the SDK iterates the object keyed by project id as a list and fails), and
``members.schedule`` turns the object keyed by member id into one schedule with id 0
(its raw answer is still structured here).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from worksection import Client as SdkClient
from worksection.http import Http, HttpResponse

from tests.fixtures.fake_support import hook_receiver
from tests.test_models_postman import _count_keys, _extras, _walk
from worksection_async.models import RESPONSE_MODELS, structure_response
from worksection_async.testing._oauth import ALL_SCOPES

CLIENT_ID, CLIENT_SECRET = "sdk-contract-app", "sdk-contract-secret"
REDIRECT = "https://app.example.com/callback"
TASK_EXTRAS = "text,html,files,comments,relations,subtasks,subscribers"


class RecordingHttp(Http):
    """The SDK's HTTP layer, keeping every (action, status, body) it received."""

    def __init__(self, log: list[tuple[str, int, bytes]]) -> None:
        super().__init__()
        self.log = log

    def send(
        self,
        url: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> HttpResponse:
        response = super().send(url, method=method, body=body, headers=headers)
        parts = urlsplit(url)
        if parts.path.startswith("/oauth2/"):
            action = "oauth2_" + parts.path.rsplit("/", 1)[1]
        else:
            action = parse_qs(parts.query)["action"][0]
        self.log.append((action, response.status, response.body))
        return response


@contextmanager
def served(dialect: str) -> Iterator[tuple[str, str]]:
    """``serve`` in a subprocess on a free port; yields its URL and API key."""
    command = [sys.executable, "-m", "worksection_async.testing", "serve", "--port", "0"]
    command += ["--api-key", "sdk-contract-key", "--quota", "off", "--populate", "2x6"]
    command += ["--oauth-client", f"{CLIENT_ID}:{CLIENT_SECRET}", "--dialect", dialect]
    command += ["--oauth-redirect-uri", REDIRECT]
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
            yield first.split(" at ", 1)[1].strip(), "sdk-contract-key"
        finally:
            process.terminate()
            process.wait(timeout=10)


def _login(sdk: SdkClient, url: str, log: list[tuple[str, int, bytes]]) -> None:
    """The SDK's authorization-code flow: its authorize URL, the redirect, its token call;
    then one refresh through the SDK's OAuth object."""
    oauth = sdk.get_oauth()
    oauth._http = RecordingHttp(log)
    authorize = httpx.get(oauth.get_authorization_url("state-1"))
    assert authorize.status_code == 302, authorize.text
    query = parse_qs(urlsplit(authorize.headers["location"]).query)
    assert query["state"] == ["state-1"]
    token = oauth.fetch_access_token_by_auth_code(query["code"][0])
    assert token["account_url"] == url
    token = oauth.fetch_access_token_by_refresh_token(token["refresh_token"])
    sdk.set_access_token(token)


def _drive(sdk: SdkClient, mode: str, tmp_path: Path, hook_url: str) -> None:
    """Every SDK method once (admin-only ones with the key, user ones with a token)."""
    users = sdk.members.list()
    owner = next(u for u in users if u.role.lower() == "owner")
    other = next(u for u in users if u.email != owner.email)
    sdk.members.groups()
    sdk.members.create(f"{mode}.new@example.com", {"first_name": "New", "role": "user"})
    sdk.members.create_group(f"{mode} contractors", {"client": 1})
    sdk.members.schedule({"users": [other.email], "datestart": "01.01.2024"})
    sdk.members.update_schedule({other.email: {"01.07.2025": "vacation"}})

    sdk.contacts.list()
    sdk.contacts.groups()
    sdk.contacts.create(f"{mode}@example.org", "Carl Client", {"group": "Clients"})
    sdk.contacts.create_group(f"{mode} partners")

    projects = sdk.projects.list({"extra": "text,options,users"})
    pid = int(projects[0].id)
    sdk.projects.get(pid, {"extra": "text,html,options,users,custom_fields"})
    created = sdk.projects.create(
        f"{mode} contract work",
        {
            "email_manager": owner.email,
            "members": [other.email],
            "datestart": "01.07.2025",
            "dateend": "30.09.2025",
            "max_time": 100,
            "extra": "options",
            "options.allow_close": 1,
        },
    )
    new_pid = int(created.id)
    sdk.projects.update(new_pid, {"title": f"{mode} contract work 2", "extra": "options"})
    sdk.projects.close(new_pid)
    sdk.projects.activate(new_pid)
    sdk.projects.add_members(new_pid, [other.email])
    sdk.projects.remove_members(new_pid, [other.email])
    sdk.projects.groups()
    sdk.projects.create_group(f"{mode} outsource")
    project_tags = sdk.projects.tags()
    sdk.projects.create_tags("Common labels", f"{mode}-paid")
    sdk.projects.update_tags(new_pid, [int(project_tags[0].id)], [])
    sdk.projects.tag_groups()
    sdk.projects.create_tag_group(f"{mode} budget", "private")
    sdk.projects.custom_fields()

    spec = tmp_path / "spec.txt"
    spec.write_bytes(b"the spec")
    [uploaded] = sdk.files.upload([str(spec)])
    tasks = sdk.tasks.list(pid, {"extra": TASK_EXTRAS})
    sdk.tasks.list(0, {"extra": "text,files,comments,relations,subtasks"})
    tid = int(tasks[0].id)
    sdk.tasks.get(tid, {"extra": f"{TASK_EXTRAS},custom_fields"})
    task = sdk.tasks.create(
        pid,
        f"{mode}: from the SDK",
        {
            "text": "Body",
            "todo": ["first", "second"],
            "email_user_to": other.email,
            "priority": 3,
            "datestart": "01.07.2025",
            "dateend": "05.07.2025",
            "files": [uploaded],
            "extra": "text",
        },
    )
    new_tid = int(task.id)
    sub = sdk.tasks.create(pid, f"{mode}: sub", {"id_parent": new_tid})
    sdk.tasks.update(new_tid, {"priority": 5, "dateend": "06.07.2025", "title": f"{mode}: 2"})
    sdk.tasks.search({"id_project": pid, "status": "active", "extra": "text"})
    sdk.tasks.subscribe(new_tid, other.email)
    sdk.tasks.unsubscribe(new_tid, other.email)
    task_tags = sdk.tasks.tags({"type": "label"})
    sdk.tasks.create_tags("General labels", f"{mode}-sdk")
    sdk.tasks.update_tags(new_tid, [int(task_tags[0].id)], [])
    sdk.tasks.tag_groups()
    sdk.tasks.create_tag_group(f"{mode} labels", "public")
    sdk.tasks.custom_fields()

    sdk.comments.create(new_tid, "A comment from the SDK", {"mention": other.email})
    sdk.comments.list(new_tid, {"extra": "files"})
    sdk.comments.list(tid, {"extra": "files"})

    sdk.costs.list({"id_project": pid})
    sdk.costs.total({"id_project": pid})
    author = {"email_user_from": owner.email} if mode == "admin" else {}
    cost_id = sdk.costs.create(new_tid, {"time": "1:30", "date": "01.07.2025", **author})
    sdk.costs.update(int(cost_id), {"time": "2", "comment": "More"})
    sdk.costs.delete(int(cost_id))

    sdk.tasks.complete(int(sub.id))
    sdk.tasks.complete(new_tid)
    sdk.tasks.reopen(new_tid)

    sdk.events.list("1d")
    sdk.events.list("1d", pid)
    files = sdk.files.list({"id_task": new_tid})
    sdk.files.list({"id_project": pid})
    downloaded = sdk.files.download(int(files[0].id), str(tmp_path / "back.txt"))
    assert downloaded.filename == "spec.txt"
    assert (tmp_path / "back.txt").read_bytes() == b"the spec"

    sdk.webhook.list()
    hook = sdk.webhook.create(hook_url, ["post_task"], {"projects": pid})
    sdk.webhook.delete(int(hook))

    if mode == "admin":
        running = sdk.timers.all()
        sdk.timers.stop(int(running[0].id))
    else:
        assert sdk.user.profile().email == owner.email
        if sdk.user.timer() is not None:
            sdk.user.discard_timer()
        sdk.user.start_timer(tid)
        assert sdk.user.timer() is not None
        sdk.user.stop_timer("Done for today")
        sdk.user.start_timer(tid)
        sdk.user.discard_timer()
        assert sdk.user.timer() is None


SDK_ACTIONS = {
    *("get_users", "get_user_groups", "add_user", "add_user_group", "get_users_schedule"),
    *("update_users_schedule", "get_contacts", "get_contact_groups", "add_contact"),
    *("add_contact_group", "get_projects", "get_project", "post_project", "update_project"),
    *("close_project", "activate_project", "add_project_members", "delete_project_members"),
    *("get_project_groups", "add_project_group", "get_project_tags", "add_project_tags"),
    *("update_project_tags", "get_project_tag_groups", "add_project_tag_groups"),
    *("get_project_custom_fields", "upload_files", "get_tasks", "get_all_tasks", "get_task"),
    *("post_task", "update_task", "search_tasks", "subscribe", "unsubscribe", "get_task_tags"),
    *("add_task_tags", "update_task_tags", "get_task_tag_groups", "add_task_tag_groups"),
    *("get_task_custom_fields", "post_comment", "get_comments", "get_costs", "get_costs_total"),
    *("add_costs", "update_costs", "delete_costs", "complete_task", "reopen_task"),
    *("get_events", "get_files", "get_webhooks", "add_webhook", "delete_webhook"),
}
ONLY = {
    "admin": {"get_timers", "stop_timer"},
    "oauth": {"oauth2_token", "oauth2_refresh", "me", "get_my_timer", "start_my_timer"},
}
ONLY["oauth"] |= {"stop_my_timer", "delete_my_timer"}


def _check_lossless(action: str, body: Any) -> None:
    """The answer structured with this project's model: every key accounted for."""
    spec = RESPONSE_MODELS[action]
    result = structure_response(action, body)
    if spec.source == "body":
        payload = {k: v for k, v in body.items() if k != "status"}
    else:
        payload = body["data"]
        if spec.shape == "many" and isinstance(payload, dict):  # keyed by id
            payload = list(payload.values())
    if result is None:
        assert payload in ([], {}, None), f"{action}: a payload became None"
        return
    if spec.shape == "one" and isinstance(payload, list):  # a one-element list
        [payload] = payload
    if spec.shape == "many":
        assert isinstance(result, list) and all(type(r) is spec.model for r in result)
    accounted = _walk(payload, result, action)
    assert accounted == _count_keys(payload), f"{action}: keys lost"
    assert list(_extras(result, action)) == [], f"{action}: keys outside the model"


@pytest.mark.parametrize(
    ("mode", "dialect"),
    [("admin", "sdk-2026"), ("oauth", "sdk-2026"), ("oauth", "postman"), ("oauth", "ru-docs")],
)
def test_the_official_sdk_against_serve(mode: str, dialect: str, tmp_path: Path) -> None:
    """Every SDK action over HTTP: successes only, each answer read by our models (me
    and get_my_timer in both of the fake's dialects)."""
    with served(dialect) as (url, api_key):
        with hook_receiver() as (receiver, seen):  # serve checks the hook's URL
            _run(url, api_key, mode, tmp_path, f"{receiver}/ok/sdk")
        assert seen[0] == "/ok/sdk"


def _run(url: str, api_key: str, mode: str, tmp_path: Path, hook_url: str) -> None:
    log: list[tuple[str, int, bytes]] = []
    sdk = SdkClient(url)
    sdk._http = RecordingHttp(log)
    if mode == "admin":
        sdk.set_api_key(api_key)
    else:
        sdk.set_client(
            {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "redirect_uri": REDIRECT,
                "scope": list(ALL_SCOPES),  # every action is driven: every scope
                "auth_url": f"{url}/oauth2/authorize",
                "token_url": f"{url}/oauth2/token",
                "refresh_url": f"{url}/oauth2/refresh",
            }
        )
        _login(sdk, url, log)
    _drive(sdk, mode, tmp_path, hook_url)

    assert {action for action, _, _ in log} == SDK_ACTIONS | ONLY[mode]
    structured = 0
    for action, status, raw in log:
        assert status == 200, (action, raw[:200])
        body = json.loads(raw)
        assert body.get("status", "ok") == "ok", (action, body)
        if action in RESPONSE_MODELS:
            _check_lossless(action, body)
            structured += 1
    assert structured >= 40
    stats = httpx.get(f"{url}/_fake/stats").json()
    assert stats["rejected_auth"] == 0 and stats["errors"] == {}
