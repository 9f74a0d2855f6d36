"""Hypothesis fuzzes the fake's request parser and actions: garbage in, envelopes out.

Whatever the request (any action name, any parameters, query string, form, JSON,
multipart or junk bodies, valid or broken signatures), the fake answers with the
service's envelopes or HTTP statuses, never a traceback or an HTTP 500 of its own.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fixtures.fake_support import client_for, encode, query_hash
from worksection_async.testing import FakeWorksection
from worksection_async.testing._actions import ACTIONS


@pytest.fixture(scope="module", params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def fake() -> FakeWorksection:
    fake = FakeWorksection.populated(projects=3, tasks_per_project=8, seed=3)
    fake.add_oauth_app("fuzz-app", "fuzz-secret")
    return fake


KEYS = [
    "action",
    "page",
    "id_project",
    "id_task",
    "id_parent",
    "id_file",
    "id_costs",
    "id",
    "timer",
    "title",
    "text",
    "todo[]",
    "todo",
    "email_user_from",
    "email_user_to",
    "email_manager",
    "email_user",
    "members",
    "subscribe",
    "hidden",
    "mention",
    "priority",
    "datestart",
    "dateend",
    "dateclosed",
    "date",
    "max_time",
    "max_money",
    "tags",
    "plus",
    "minus",
    "group",
    "type",
    "access",
    "filter",
    "status",
    "extra",
    "period",
    "time",
    "money",
    "is_rate",
    "is_timer",
    "comment",
    "url",
    "events",
    "projects",
    "users",
    "data",
    "files",
    "options.time_today",
    "options[timer_only]",
    "client",
    "role",
    "name",
    "email",
    "code",
    "client_id",
    "client_secret",
    "grant_type",
    "refresh_token",
    "access_token",
    "redirect_uri",
    "response_type",
]

ids = st.one_of(
    st.integers(min_value=-5, max_value=10**20).map(str),
    st.sampled_from(["1000", "100000", "100001", "3000", "20000", "0", "", " 7 ", "1e3"]),
)
pages = st.one_of(
    st.sampled_from(["/project/1000/", "/project/1000/100000/", "/download/20000/", "/project/"]),
    st.builds("/project/{}/{}/{}/".format, ids, ids, ids),
)
scalar_text = st.one_of(
    st.text(max_size=40),
    ids,
    pages,
    st.sampled_from(
        [
            "alice.morgan@example.com",
            "a@b,c@d",
            "ANY",
            "NOONE",
            "31.02.2024",
            "01.01.2024",
            "text,html,files,comments,relations,subtasks,subscribers,options,users,archive",
            "active",
            "done",
            "name has 'x' and (id in (1, 2) or dateend>'01.01.2020')",
            "((((((((((((((((((((((((((((((((((((((((",
            "1h",
            "999d",
            "1:30",
            "1,5",
            "To-do,bug",
            '{"alice.morgan@example.com": {"01.01.2024": "vacation"}}',
            "https://hooks.example.org/x",
            "post_task,bogus",
        ]
    ),
)
actions = st.one_of(
    st.sampled_from(sorted(ACTIONS)), st.sampled_from(sorted(ACTIONS)), st.text(max_size=12)
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), scalar_text),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
flat_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    scalar_text,
    st.lists(scalar_text, max_size=3),
    st.dictionaries(st.sampled_from(["id", "01.01.2024", "x"]), scalar_text, max_size=2),
)
"""Cheaper than ``json_values``: the per-action test draws one for every parameter."""
pairs = st.lists(
    st.tuples(st.one_of(st.sampled_from(KEYS), st.text(max_size=10)), scalar_text), max_size=8
)


@st.composite
def requests(draw: st.DrawFn, api_key: str) -> tuple[str, str, dict[str, str], bytes]:
    """A method, a target, headers and a body, mostly well signed."""
    action = draw(actions)
    params = [("action", action), *draw(pairs)]
    path = draw(
        st.sampled_from(
            [
                *["/api/admin/v2/", "/api/admin/v2"] * 3,
                "/api/oauth2",
                "/oauth2/token",
                "/oauth2/x",
                "/",
            ]
        )
    )
    style = draw(st.sampled_from(["query", "form", "json", "multipart", "junk", "unsigned"]))
    method = draw(st.sampled_from(["POST", "GET"]))
    headers: dict[str, str] = {}
    if style == "query":
        return method, f"{path}?{query_hash(params, api_key)}", headers, b""
    if style == "form":
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        return method, path, headers, query_hash(params, api_key).encode()
    if style == "json":
        body = {key: draw(json_values) for key, _ in params[1:]}
        headers["Content-Type"] = draw(st.sampled_from(["application/json", "", "text/plain"]))
        target = f"{path}?{encode([('action', action), ('hash', draw(st.text(max_size=32)))])}"
        return method, target, headers, json.dumps(body).encode()
    if style == "multipart":
        boundary = draw(st.sampled_from(["b0und", "", '"q"']))
        chunks = []
        for key, value in params:
            filename = draw(st.sampled_from(["", '; filename="f.txt"']))
            head = f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"{filename}'
            chunks.append(f"{head}\r\n\r\n{value}\r\n".encode("utf-8", "replace"))
        headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
        return method, f"{path}?{query_hash(params[:1], api_key)}", headers, b"".join(chunks)
    if style == "junk":
        headers["Content-Type"] = draw(
            st.sampled_from(
                ["application/json", "multipart/form-data", "application/x-www-form-urlencoded"]
            )
        )
        return method, f"{path}?{encode(params)}", headers, draw(st.binary(max_size=64))
    return method, f"{path}?{encode(params)}", headers, b""


@pytest.mark.anyio
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_random_requests_never_break_the_fake(fake: FakeWorksection, data: Any) -> None:
    """Random requests get envelopes or plain HTTP statuses, never an HTTP 500."""
    method, target, headers, body = data.draw(requests(fake.api_key))
    async with client_for(fake) as http:
        request = http.build_request(method, target, headers=headers, content=body)
        response = await http.send(request)
    assert fake.internal_errors == []
    assert response.status_code in (200, 302, 401, 404, 414), response.text[:200]
    if response.status_code == 200 and response.headers.get("content-type", "").startswith(
        "application/json"
    ):
        payload = response.json()
        assert isinstance(payload, dict)
        if "status" in payload:
            assert payload["status"] in ("ok", "error")
            if payload["status"] == "error":
                assert isinstance(payload["status_code"], int)
                assert isinstance(payload["message"], str)
        else:
            assert "error" in payload or "access_token" in payload or "id" in payload


@pytest.fixture(scope="module")
def shared_fake() -> FakeWorksection:
    return FakeWorksection.populated(projects=2, tasks_per_project=5, seed=5)


@pytest.mark.parametrize("action", sorted(ACTIONS))
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(params=st.fixed_dictionaries({}, optional=dict.fromkeys(KEYS, flat_values)))
def test_every_action_survives_any_json_values(
    shared_fake: FakeWorksection, action: str, params: dict[str, Any]
) -> None:
    """Each action, given any JSON value in any parameter (as the SDK's JSON bodies can),
    answers an envelope."""
    params.pop("action", None)
    page = params.pop("page", None)
    envelope = shared_fake.call(action, page=page if isinstance(page, str) else None, **params)
    assert envelope["status"] in ("ok", "error")
    if envelope["status"] == "error":
        assert isinstance(envelope["status_code"], int)
    json.dumps(envelope)


def test_call_refuses_unknown_actions(shared_fake: FakeWorksection) -> None:
    """fake.call names the mistake instead of answering an envelope."""
    with pytest.raises(ValueError, match="unknown action"):
        shared_fake.call("no_such_action")
