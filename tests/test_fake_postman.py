"""The official Postman examples are the fake's contract.

Every example request of ``postman-examples.json`` (61 requests, the four OAuth2 ones
included, every error example included) is replayed against a fake seeded so that the
example's ids exist (or do not, for error examples). The answer must have the example's
HTTP status and ``status``; an error must be the example's error envelope exactly; a
success body must have the same keys and JSON value types at every level (values may
differ; the items of a list are compared by their merged shape: the union of their keys,
each with the types seen).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs
import httpx
import pytest

from tests.fixtures.fake_support import client_for, encode, query_hash
from worksection_async.testing import FakeWorksection, OAuthApp, OAuthToken

_HERE = Path(__file__).resolve().parent
_CANDIDATES = (
    _HERE / "fixtures" / "postman-examples.json",
    _HERE.parents[1] / "shared" / "reference" / "postman-examples.json",
    Path("/work/shared/reference/postman-examples.json"),
)
_OAUTH_ONLY = {"me", "get_my_timer", "start_my_timer", "stop_my_timer", "delete_my_timer"}
_REDIRECT = "https://app.example.com/callback"


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _load() -> list[dict[str, Any]]:
    for path in _CANDIDATES:
        if path.exists():
            data: list[dict[str, Any]] = json.loads(path.read_text())
            return data
    raise FileNotFoundError(f"postman-examples.json not found in {_CANDIDATES}")


REQUESTS = _load()


def _body(request: dict[str, Any], example: dict[str, Any]) -> Any:
    """The example body as JSON (string bodies hold JSON text, two with trailing commas)."""
    body = example["body"]
    if not isinstance(body, str) or request["name"] == "download":
        return body
    return json.loads(re.sub(r",(\s*[\]}])", r"\1", body))


def _cases() -> list[Any]:
    cases = []
    for request in REQUESTS:
        examples = request["examples"] or [None]
        for index, example in enumerate(examples):
            label = example["name"] if example else "request"
            cases.append(pytest.param(request, index, id=f"{request['name']}-{index}-{label}"))
    return cases


def test_the_contract_covers_every_request() -> None:
    """61 requests, 106 examples; the replay below covers all of them."""
    assert len(REQUESTS) == 61
    assert sum(len(r["examples"]) for r in REQUESTS) == 106
    assert len(_cases()) == 107  # oauth2_authorize has no example: its request is replayed


# ── shapes ─────────────────────────────────────────────────────────────────────


@attrs.define
class Shape:
    """The JSON types seen at one place, object keys and list items merged."""

    types: set[str] = attrs.Factory(set)
    fields: dict[str, Shape] | None = None
    items: Shape | None = None


def _type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    assert isinstance(value, dict), value
    return "object"


def shape_of(value: Any, into: Shape | None = None) -> Shape:
    shape = into if into is not None else Shape()
    shape.types.add(_type(value))
    if isinstance(value, dict):
        if shape.fields is None:
            shape.fields = {}
        for key, item in value.items():
            shape.fields[key] = shape_of(item, shape.fields.get(key))
    elif isinstance(value, list):
        for item in value:
            shape.items = shape_of(item, shape.items)
    return shape


def differences(expected: Shape, actual: Shape, path: str = "$") -> list[str]:
    found: list[str] = []
    if expected.types != actual.types:
        found.append(f"{path}: types {sorted(actual.types)} != {sorted(expected.types)}")
    if expected.fields is not None and actual.fields is not None:
        for key in sorted(expected.fields.keys() - actual.fields.keys()):
            found.append(f"{path}.{key}: missing")
        for key in sorted(actual.fields.keys() - expected.fields.keys()):
            found.append(f"{path}.{key}: unexpected")
        for key in sorted(expected.fields.keys() & actual.fields.keys()):
            found.extend(differences(expected.fields[key], actual.fields[key], f"{path}.{key}"))
    if expected.items is not None:
        if actual.items is None:
            found.append(f"{path}[]: empty list, expected items")
        else:
            found.extend(differences(expected.items, actual.items, f"{path}[]"))
    return found


def test_shapes_notice_a_missing_key_and_a_wrong_type() -> None:
    """The comparison itself fails on a missing key, an extra key and a changed type."""
    expected = shape_of({"data": [{"id": "1", "n": 1}, {"id": "2", "n": 2, "opt": "x"}]})
    assert differences(expected, shape_of({"data": [{"id": "9", "n": 5, "opt": ""}]})) == []
    assert differences(expected, shape_of({"data": [{"id": "9", "n": 5}]})) == [
        "$.data[].opt: missing"
    ]
    assert differences(expected, shape_of({"data": [{"id": 9, "n": 5, "opt": "", "x": 1}]})) == [
        "$.data[].x: unexpected",
        "$.data[].id: types ['int'] != ['string']",
    ]
    assert differences(expected, shape_of({"data": []})) == ["$.data[]: empty list, expected items"]


# ── the account of the examples ───────────────────────────────────────────────


def postman_account() -> tuple[FakeWorksection, OAuthApp, OAuthToken]:
    """A fake holding the objects the examples talk about, with the examples' ids."""
    fake = FakeWorksection(
        "postman-key",
        account_url="https://acc1234.worksection.com",
        webhook_check=lambda url: "google.com" not in url,
        dialect="postman",  # the examples' shapes: me and get_my_timer objects
        role_style="postman",  # the examples' "Owner"
    )
    development = fake.add_team("Development", id=2977)
    fake.add_team("Singing bird", client=True, id=4186)
    fake.add_team("Marketing", id=4190)
    henry = fake.add_user(
        "henry.gardner@ws.com",
        "Henry",
        "Gardner",
        id=3993,
        team=development,
        title="developer",
        department="Dev team",
        role="owner",
        rate=25,
        phone="+15852827023",
        phone2="4 4950 234 45 90",
        phone3="1 (049) 143-235-08",
        phone4="5989 243 88 1",
        address="Apt. 902 853 Simona Common, Pollybury, SC 98466-2410",
        address2="Suite 329 958 Lashell Branch, Mayertview, SC 07180",
    )
    frank = fake.add_user(
        "frank.harper@ws.com",
        "Frank",
        "Harper",
        id=5514,
        title="QA specialist",
        department="Test team",
        role="account admin",
        rate=11,
    )
    fake.add_user("5674@5674.worksection.com", "John", "Doe", id=5674, team="Singing bird")
    kate = fake.add_user("kate.greenway@ws.com", "Kate", "Greenway", id=5686, rate=11)
    clients = fake.add_contact_folder("Clients", id=4178)
    contractors = fake.add_contact_folder("Contractors", id=4182)
    fake.add_contact(
        "Brian Dragonfly",
        "brian.dragonfly@gmail.com",
        id=5606,
        folder=clients,
        title="manager",
        phone="1 345 234 23 67",
        phone2="486 09 77",
        phone3="(8984) 345 65 02",
        phone4="389 87 35",
        address="Apt. 406 855 Renner Trail, Rowemouth, IN 42165",
        address2="59064 Robby Prairie, North Abel, NE 93368",
    )
    fake.add_contact("Steve Powerhold", id=5614, folder=contractors, phone="1265 458 32 12")
    fake.add_contact("Mike Shaw", "mike.shaw@gmail.com", id=5658)
    fake.add_project_folder("Design", id=4302)

    status = fake.add_tag_group("Project status", scope="project", type="status", id=97)
    for title, tag_id in (
        ("Backlog", 105114),
        ("In progress", 105098),
        ("Paused", 105106),
        ("Canceled", 105110),
        ("Completed", 105102),
    ):
        fake.add_tag(status, title, id=tag_id)
    common = fake.add_tag_group("Common labels", scope="project", id=98)
    fake.add_tag(common, "inner", id=105554)
    fake.add_tag(common, "wiki", id=105570)
    fake.add_tag(common, "app")
    fake.add_tag_group("Internal labels", scope="project", access="private", id=99)
    finance = fake.add_tag_group("Finance", scope="project", id=103)
    for title, tag_id in (("paid", 105118), ("bill", 105122), ("contract", 105126)):
        fake.add_tag(finance, title, id=tag_id)
    workflow = fake.add_tag_group("Basic workflow", type="status", id=100)
    for title, tag_id in (
        ("To-do", 72565),
        ("In progress", 72569),
        ("Need approval", 72573),
        ("Done", 72577),
    ):
        fake.add_tag(workflow, title, id=tag_id)
    labels = fake.add_tag_group("General labels", id=101)
    for title in ("deployed", "feature", "doing"):
        fake.add_tag(labels, title)
    fake.add_tag_group("Task results", access="private", id=102)
    fake.add_tag_group("Sales", type="status", id=104)
    fake.add_tag_group("Development", id=110)

    perf = fake.add_project(
        "Performance improvement",
        id=6622,
        company="Development",
        author=henry,
        manager=kate,
        text="Inner project for company KPI improvement",
        date_added="2021-01-01 10:18",
        date_start="2021-01-01",
        date_end="2021-07-01",
        options={"allow_close": 1, "allow_give": 1, "require_term": 1, "timer_only": 1},
        max_time=1200,
        max_money=20400,
        tags=[105554, 105570],
        members=[frank],
    )
    fake.add_project("Prototyping", id=8506, status="pending", author=kate, options={})
    fake.add_project("Brand launch", id=8482, author=henry)
    fake.add_project("Owl brand launch draft", id=8526, author=henry)
    fake.add_project("Partner site", id=8522, author=henry)
    fake.add_project("Owl brand", id=8530, author=henry)
    owl = fake.add_project("Owl brand launch", id=8562, author=henry, manager=henry)
    docs = fake.add_project("Documents", id=6724, author=henry)

    worksection = fake.add_task(
        perf, "Worksection implementation", id=330090, author=henry, assignee="ANY"
    )
    revision = fake.add_task(
        perf,
        "Workflow revision",
        id=330142,
        author=henry,
        assignee=frank,
        status="done",
        date_closed="2021-01-02 12:43",
    )
    fake.add_task(perf, "Team meetup", id=331430, author=henry, assignee=henry)
    release = fake.add_task(perf, "Release", id=331460, status="done")
    fake.add_task(perf, "Release notes", id=331470, parent=release, status="done")
    fake.add_task(perf, "Worksection docs", id=331502, author=henry)
    fake.add_task(perf, "Goals", id=331786, priority=1, assignee="ANY")
    fake.add_task(perf, "Template creation", id=332150, author=henry)
    first = fake.add_comment(worksection, "", id=19078, author=frank)
    second = fake.add_comment(worksection, "Added one more file needed", id=19086, author=henry)
    fake.add_file("Text file.docx", b"x" * 1113, id=17350, comment=first, author=frank)
    fake.add_file("Spreadsheet file.xlsx", b"x" * 426, id=17354, comment=first, author=frank)
    fake.add_file("Image file.png", b"x" * 5125, id=17362, comment=second, author=henry)
    fake.add_cost(
        revision,
        minutes=410,
        money=75.17,
        comment="Developed new workflow scheme for dev team",
        is_timer=True,
        author=frank,
        id=3610,
    )
    fake.add_cost(worksection, minutes=202, author=henry, id=3686)
    fake.add_cost(worksection, minutes=60, author=henry, id=3690)
    fake.add_cost(worksection, minutes=90, author=henry, id=3706)
    fake.add_timer(worksection, frank, running_for=673, id=2918)
    fake.add_timer(worksection, henry, running_for=4365, id=2914)

    development_task = fake.add_task(
        owl,
        "Development",
        id=331894,
        priority=7,
        author=henry,
        assignee=henry,
        text="Business logic programming",
        date_added="2021-01-07 10:01",
        date_start="2021-01-16",
        date_end="2021-02-16",
        time_start="08:00",
        time_end="18:00",
        max_time=352,
        max_money=5280,
        subscribers=[henry, frank],
    )
    sprint = fake.add_task(
        owl,
        "Sprint 1",
        id=331910,
        parent=development_task,
        author=henry,
        assignee=henry,
        subscribers=[henry],
    )
    fake.add_task(
        owl,
        "Subsprint 1.1",
        id=331914,
        parent=sprint,
        author=henry,
        assignee=henry,
        subscribers=[henry],
    )
    prototyping = fake.add_task(
        owl,
        "Prototyping",
        id=331902,
        author=henry,
        assignee=kate,
        date_start="2021-01-10",
        date_end="2021-01-15",
        subscribers=[henry, kate],
    )
    testing = fake.add_task(
        owl,
        "Testing",
        id=331906,
        author=henry,
        assignee=frank,
        date_start="2021-02-17",
        date_end="2021-02-24",
        subscribers=[henry, frank],
    )
    fake.add_relation(prototyping, development_task)
    fake.add_relation(development_task, testing)
    fake.add_file("Development requirements.doc", b"d" * 271, id=17694, task=development_task)
    fake.add_file("Development progress.xlsx", b"p" * 106, id=17698, task=development_task)
    for comment_id, text, who in (
        (19950, "Updated development requirements", henry),
        (19954, "Need your help with first section", frank),
        (19962, "And what about development environment?", frank),
        (19974, "As usual", henry),
        (19978, "Thanks, first section done", frank),
    ):
        fake.add_comment(development_task, text, id=comment_id, author=who)

    fake.add_file("Text file.docx", b"t" * 1113, id=16246, project=docs, author=henry)
    fake.add_file("Image file.jpeg", b"i" * 734, id=16242, project=docs, author=frank)
    fake.add_file("Txt file.txt", _download_text().encode(), id=18026, project=perf)
    fake.add_webhook(
        "https://eoaerhysr9s04hw.m.pipedream.net",
        ["post_task", "post_comment", "post_project"],
        projects=[perf],
        id=122,
    )
    fake.add_webhook(
        "https://eogt7ju5yih2iks.m.pipedream.net",
        ["update_task", "update_comment", "delete_task", "delete_comment", "close_task"],
        status="paused",
        id=123,
    )
    app = fake.add_oauth_app("postman-client", "postman-secret", redirect_uri=_REDIRECT)
    return fake, app, fake.issue_token(henry)


def _download_text() -> str:
    request = next(r for r in REQUESTS if r["name"] == "download")
    text: str = request["examples"][0]["body"]
    return text


def _events(fake: FakeWorksection) -> None:
    fake.call("post_project", title="Prototyping 2", email_manager="henry.gardner@ws.com")
    fake.call("post_comment", id_task=330090, text="Today we have a meetup.")
    fake.call(
        "update_task",
        id_task=331786,
        priority=7,
        email_user_to="frank.harper@ws.com",
        dateend="11.01.2024",
    )
    fake.call("complete_task", id_task=330142)  # already closed: no event
    fake.call("complete_task", id_task=331430)


def _archive_all_but_owl(fake: FakeWorksection) -> None:
    for project in fake.projects.values():
        if project.id != 8562:
            project.status = "archive"
            project.date_closed = dt.datetime(2021, 3, 1, 10, 0)


def _close(task_id: int) -> Callable[[FakeWorksection], None]:
    def close(fake: FakeWorksection) -> None:
        assert fake.call("complete_task", id_task=task_id)["status"] == "ok"

    return close


def _close_project(fake: FakeWorksection) -> None:
    assert fake.call("close_project", id_project=8482)["status"] == "ok"


def _add_open_subtask(fake: FakeWorksection) -> None:
    fake.add_task(6622, "Open child", parent=331430)


def _drop_my_timer(fake: FakeWorksection) -> None:
    fake.timers.pop(2914)


# (request name, example index) -> what the example assumes beyond the base account.
TWEAKS: dict[tuple[str, int], Callable[[FakeWorksection], None]] = {
    ("close_project", 1): _close_project,
    ("activate_project", 0): _close_project,
    ("get_events", 0): _events,
    ("get_all_tasks", 0): _archive_all_but_owl,
    ("complete_task", 1): _close(331430),
    ("complete_task", 2): _add_open_subtask,
    ("reopen_task", 0): _close(331430),
    ("start_my_timer", 0): _drop_my_timer,
    ("stop_my_timer", 1): _drop_my_timer,
}


# ── replay ────────────────────────────────────────────────────────────────────


async def _authorize(http: httpx.AsyncClient, app: OAuthApp) -> str:
    response = await http.get(
        "/oauth2/authorize",
        params={
            "client_id": app.client_id,
            "redirect_uri": _REDIRECT,
            "state": "s",
            "response_type": "code",
        },
    )
    assert response.status_code == 302
    return parse_qs(urlsplit(response.headers["location"]).query)["code"][0]


async def _oauth_pairs(
    http: httpx.AsyncClient,
    fake: FakeWorksection,
    app: OAuthApp,
    token: OAuthToken,
    name: str,
    example: str,
    pairs: list[tuple[str, str]],
) -> list[tuple[str, str]]:
    """Substitute the Postman variables so the example's outcome is what happens."""
    values = {
        "{{client_id}}": app.client_id,
        "{{client_secret}}": app.client_secret,
        "{{redirect_url}}": _REDIRECT,
        "{{account_url}}": fake.account_url,
        "{{$randomBankAccount}}": "12345678",
        "{{refresh_token}}": token.refresh_token,
        "{{access_token}}": token.access_token,
    }
    if example == "invalid_client":
        values["{{client_secret}}"] = "wrong-secret"
    if name == "oauth2_refresh" and example == "invalid_request":
        values["{{refresh_token}}"] = "def50200not-a-token"
    if example == "not_authorized":
        values["{{access_token}}"] = "not-a-token"
    out = [(key, values.get(value, value)) for key, value in pairs]
    if name == "oauth2_token":
        code = await _authorize(http, app)
        if example == "invalid_request":
            used = await http.post("/oauth2/token", params=[*out[:-1], ("code", code)])
            assert "access_token" in used.json()
        out = [(k, code if k == "code" else v) for k, v in out]
    return out


def _pairs(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(q["key"], "" if q.get("value") is None else str(q["value"])) for q in items]


async def _replay(
    http: httpx.AsyncClient,
    fake: FakeWorksection,
    app: OAuthApp,
    token: OAuthToken,
    request: dict[str, Any],
    example: dict[str, Any] | None,
) -> httpx.Response:
    name = request["name"]
    if example is None:
        pairs = _pairs([q for q in request["query"] if not q["disabled"]])
    else:
        pairs = _pairs(example["request_query"])
    if request["source"] == "oauth2":
        label = example["name"] if example else "request"
        pairs = await _oauth_pairs(http, fake, app, token, name, label, pairs)
        endpoint = "/oauth2/" + name.removeprefix("oauth2_")
        return await http.request(request["method"], f"{endpoint}?{encode(pairs)}")
    action = dict(pairs)["action"]
    if action in _OAUTH_ONLY:
        return await http.post(
            f"/api/oauth2?{encode(pairs)}",
            headers={"Authorization": f"Bearer {token.access_token}"},
        )
    return await http.post(f"/api/admin/v2/?{query_hash(pairs, fake.api_key)}")


@pytest.mark.anyio
@pytest.mark.parametrize(("request_", "index"), _cases())
async def test_example(request_: dict[str, Any], index: int) -> None:
    """The fake answers the example request like the example's body."""
    fake, app, token = postman_account()
    tweak = TWEAKS.get((request_["name"], index))
    if tweak is not None:
        tweak(fake)
    example = request_["examples"][index] if request_["examples"] else None
    async with client_for(fake) as http:
        response = await _replay(http, fake, app, token, request_, example)
    assert fake.internal_errors == []
    if example is None:  # oauth2_authorize: a redirect back with a code and the state
        assert response.status_code == 302
        query = parse_qs(urlsplit(response.headers["location"]).query)
        assert query["state"] == ["12345678"]
        assert query["code"][0]
        return
    assert response.status_code == example["http_status"]
    expected = _body(request_, example)
    if request_["name"] == "download" and isinstance(expected, str):
        assert not response.headers["content-type"].startswith("application/json")
        assert "attachment" in response.headers["content-disposition"]
        assert response.content == expected.encode()
        return
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    actual = response.json()
    if "status" not in expected:  # an OAuth server answer
        if "error" in expected:
            assert actual.keys() == expected.keys()
            assert actual["error"] == expected["error"]
            assert isinstance(actual["errorDescription"], str)
            return
    elif expected["status"] == "error":
        assert actual == expected
        return
    assert differences(shape_of(expected), shape_of(actual)) == []
