"""Every official Postman success body structures into its model, losing no field.

For each example of ``postman-examples.json`` (success bodies only: error envelopes
and ``download``'s file are not models), the payload is structured with
:data:`RESPONSE_MODELS`, then the JSON and the models are walked together: every key
at every level must be a model field whose value corresponds to the JSON value, or
sit in that object's ``extra``. The walk counts the keys it accounted for and the
test compares that count with an independent count of the JSON's keys, so a branch
the walker skips cannot pass silently.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest

from worksection_async import ProjectPage, SubtaskPage, TaskPage
from worksection_async.models import RESPONSE_MODELS, structure_response, unstructure
from worksection_async.models._converter import json_keys

_HERE = Path(__file__).resolve().parent
_CANDIDATES = (
    _HERE / "fixtures" / "postman-examples.json",
    _HERE.parents[1] / "shared" / "reference" / "postman-examples.json",
    Path("/work/shared/reference/postman-examples.json"),
)

# Actions whose success answer is not a model.
_NOT_MODELS = {"download": "the body is the file's bytes"}


def _examples_path() -> Path:
    for path in _CANDIDATES:
        if path.exists():
            return path
    raise FileNotFoundError(
        "postman-examples.json not found; copy the official examples to "
        f"{_CANDIDATES[0]} (looked in: {', '.join(map(str, _CANDIDATES))})"
    )


def _decode(body: Any) -> Any:
    """A body is JSON, or JSON text; two official bodies have trailing commas."""
    if not isinstance(body, str):
        return body
    try:
        return json.loads(body)
    except json.JSONDecodeError:
        pass
    try:
        return json.loads(re.sub(r",(\s*[\]}])", r"\1", body))
    except json.JSONDecodeError:
        return body  # plain text (download)


def _is_error(body: Any) -> bool:
    return isinstance(body, dict) and (body.get("status") == "error" or "error" in body)


def _success_examples() -> list[Any]:
    requests = json.loads(_examples_path().read_text(encoding="utf-8"))
    cases = []
    for request in requests:
        action = request["name"]
        for index, example in enumerate(request["examples"]):
            body = _decode(example["body"])
            if _is_error(body):
                continue
            cases.append(pytest.param(action, body, id=f"{action}-{index}-{example['name']}"))
    return cases


SUCCESS_EXAMPLES = _success_examples()


def _count_keys(value: Any) -> int:
    """Keys in a JSON value, at every nesting level."""
    if isinstance(value, dict):
        return len(value) + sum(_count_keys(v) for v in value.values())
    if isinstance(value, list):
        return sum(_count_keys(v) for v in value)
    return 0


def _seconds(text: Any) -> int:
    if isinstance(text, int):
        return text
    parts = [int(part) for part in text.split(":")]
    hours, minutes, seconds = [*parts, 0][:3]
    return hours * 3600 + minutes * 60 + seconds


def _map_key(mapping: Mapping[Any, Any], key: str) -> Any:
    """The key a JSON object key became: an int id, a date, or itself."""
    candidates: list[Any] = [key]
    if key.lstrip("-").isdigit():
        candidates.insert(0, int(key))
    with contextlib.suppress(ValueError):
        candidates.insert(0, dt.date.fromisoformat(key))
    for candidate in candidates:
        if candidate in mapping:
            return candidate
    raise AssertionError(f"key {key!r} lost from {mapping!r}")


def _walk(json_value: Any, model_value: Any, path: str) -> int:
    """Assert ``model_value`` represents ``json_value``; return the keys accounted for."""
    if isinstance(model_value, (ProjectPage, TaskPage, SubtaskPage)):
        # a comment's link "/project/P/T/#com<id>" keeps the page of its task
        assert json_value.partition("#")[0] == model_value.path, path
        return 0
    if attrs.has(type(model_value)):
        assert isinstance(json_value, dict), f"{path}: {json_value!r} is not an object"
        keys = json_keys(type(model_value))
        extra = model_value.extra
        assert set(extra) <= set(json_value), f"{path}: extra has invented keys"
        seen = 0
        for key, value in json_value.items():
            if key in keys:
                seen += 1 + _walk(value, getattr(model_value, keys[key]), f"{path}.{key}")
            else:
                assert key in extra, f"{path}.{key}: neither a field nor in extra"
                assert extra[key] == value, f"{path}.{key}: changed in extra"
                seen += 1 + _count_keys(value)
        return seen
    if model_value is None:
        assert json_value in (None, ""), f"{path}: {json_value!r} became None"
        return 0
    if isinstance(model_value, (list, tuple)):
        if isinstance(json_value, str):  # a comma list ("post_task,post_comment")
            items = [item.strip() for item in json_value.split(",") if item.strip()]
            assert [str(item) for item in model_value] == items, path
            return 0
        assert isinstance(json_value, list), f"{path}: {json_value!r} is not a list"
        assert len(json_value) == len(model_value), f"{path}: items lost"
        return sum(
            _walk(j, m, f"{path}[{i}]")
            for i, (j, m) in enumerate(zip(json_value, model_value, strict=True))
        )
    if isinstance(model_value, Mapping):
        assert isinstance(json_value, dict), f"{path}: {json_value!r} is not an object"
        assert len(json_value) == len(model_value), f"{path}: entries lost"
        return sum(
            1 + _walk(value, model_value[_map_key(model_value, key)], f"{path}.{key}")
            for key, value in json_value.items()
        )
    _assert_scalar(json_value, model_value, path)
    return 0


def _assert_scalar(json_value: Any, model_value: Any, path: str) -> None:
    if isinstance(model_value, bool):
        assert json_value in (0, 1, "0", "1", True, False), path
        assert model_value == (json_value in (1, "1", True)), path
    elif isinstance(model_value, int):
        assert model_value == int(json_value), path
    elif isinstance(model_value, Decimal):
        assert model_value == Decimal(str(json_value)), path
    elif isinstance(model_value, dt.datetime):
        assert model_value == dt.datetime.strptime(json_value, "%Y-%m-%d %H:%M"), path
    elif isinstance(model_value, dt.date):
        assert model_value == dt.datetime.strptime(json_value, "%Y-%m-%d").date(), path
    elif isinstance(model_value, dt.time):
        assert model_value == dt.datetime.strptime(json_value, "%H:%M").time(), path
    elif isinstance(model_value, dt.timedelta):
        assert model_value.total_seconds() == _seconds(json_value), path
    else:
        assert type(model_value) is type(json_value), f"{path}: {model_value!r}"
        assert model_value == json_value, path


@pytest.mark.parametrize(("action", "body"), SUCCESS_EXAMPLES)
def test_postman_success_body_structures_without_losing_a_key(action: str, body: Any) -> None:
    """Each success body becomes its model(s); each key is a field or kept in ``extra``."""
    if action in _NOT_MODELS:
        assert isinstance(body, str), "the download example is the file's text"
        return
    if action not in RESPONSE_MODELS:
        assert body == {"status": "ok"}, f"{action} answers with data but has no model"
        return
    spec = RESPONSE_MODELS[action]
    result = structure_response(action, body)
    if spec.source == "body":
        payload = {k: v for k, v in body.items() if k != "status"}
    else:
        assert set(body) <= {"status", "data"}, f"{action}: top-level keys besides data"
        payload = body["data"]
    assert result is not None
    if spec.shape == "many":
        assert isinstance(result, list)
        assert all(type(item) is spec.model for item in result)
    else:
        assert type(result) is spec.model
    accounted = _walk(payload, result, action)
    assert accounted == _count_keys(payload) > 0
    assert list(_extras(result, action)) == [], "documented keys should be fields"


def _extras(value: Any, path: str) -> Any:
    """Yield (path, extra) for every model with unknown keys, at any depth."""
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _extras(item, f"{path}[{index}]")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _extras(item, f"{path}.{key}")
    elif attrs.has(type(value)) and hasattr(value, "extra"):
        if value.extra:
            yield path, dict(value.extra)
        for field in attrs.fields(type(value)):
            if field.name != "extra":
                yield from _extras(getattr(value, field.name), f"{path}.{field.name}")


def test_every_postman_action_is_covered() -> None:
    """Each action with a success example is a model, a plain ok, or a known non-model."""
    actions = {param.values[0] for param in SUCCESS_EXAMPLES}
    assert len(actions) >= 58
    for param in SUCCESS_EXAMPLES:
        action, body = param.values
        assert action in RESPONSE_MODELS or action in _NOT_MODELS or body == {"status": "ok"}, (
            action
        )


def test_walker_detects_a_lost_key() -> None:
    """The walk fails when a key is neither a field nor in ``extra`` (it can fail)."""
    body: dict[str, Any] = {"status": "ok", "data": {"id": "1", "title": "T", "type": "folder"}}
    group = structure_response("add_project_group", body)
    dropped = attrs.evolve(group, extra={})  # type: ignore[misc]
    payload = {**body["data"], "surprise": 1}
    with pytest.raises(AssertionError, match="surprise"):
        _walk(payload, dropped, "x")
    with pytest.raises(AssertionError, match="title"):
        _walk(body["data"], attrs.evolve(group, title="other"), "x")  # type: ignore[misc]


@pytest.mark.parametrize(("action", "body"), SUCCESS_EXAMPLES)
def test_postman_body_round_trips_through_unstructure(action: str, body: Any) -> None:
    """structure -> unstructure -> structure gives equal models, through json.dumps."""
    if action not in RESPONSE_MODELS:
        return  # a plain ok or the download's bytes: no model
    spec = RESPONSE_MODELS[action]
    first = structure_response(action, body)
    assert first is not None
    data = json.loads(json.dumps(unstructure(first), allow_nan=False))
    if spec.source == "body":
        again = structure_response(action, {"status": "ok", **data})
    else:
        again = structure_response(action, {"status": "ok", "data": data})
    assert again == first
