"""Which model each action answers with, and where in the answer it sits.

Most actions put their payload in ``data``; a few answer at the top level
(``add_costs``/``add_webhook`` → ``{"status": "ok", "id": N}``, ``get_costs`` →
``data`` + ``total``, ``get_costs_total`` → ``total`` + ``projects``), and the OAuth2
server answers without an envelope. :data:`RESPONSE_MODELS` records this for every
action that answers with an object; :func:`structure_response` applies it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal

import attrs

from .._json import JSONValue
from ._converter import structure, structure_list, structure_one
from ._costs import CostReport, CostTotals, MyTimer, Timer
from ._custom_fields import CustomField
from ._errors import StructureError
from ._events import Event, Webhook
from ._files import File, Upload
from ._members import Contact, ContactGroup, User, UserGroup, UserSchedule
from ._oauth import Created, OAuthUser, TokenResponse
from ._projects import Project, ProjectGroup
from ._tags import Tag, TagGroup
from ._tasks import Comment, Task
from ._values import show

__all__ = ["RESPONSE_MODELS", "ResponseModel", "structure_response"]


@attrs.frozen(kw_only=True)
class ResponseModel:
    """How to read one action's answer.

    ``source`` is ``"data"`` (the payload is the envelope's ``data``) or ``"body"`` (the
    payload is the whole answer without ``status``). ``shape`` is ``"one"`` (an object;
    a one-element list is accepted, see :func:`structure_one`) or ``"many"`` (a list;
    an object keyed by id gives its values).
    """

    model: type
    shape: Literal["one", "many"] = "one"
    source: Literal["data", "body"] = "data"


def _one(model: type) -> ResponseModel:
    return ResponseModel(model=model, shape="one")


def _many(model: type) -> ResponseModel:
    return ResponseModel(model=model, shape="many")


def _body(model: type) -> ResponseModel:
    return ResponseModel(model=model, shape="one", source="body")


RESPONSE_MODELS: Final[Mapping[str, ResponseModel]] = {
    # members, contacts, teams (§6.1) and schedules (§6.2)
    "me": _one(User),
    "get_users": _many(User),
    "add_user": _one(User),
    "get_user_groups": _many(UserGroup),
    "add_user_group": _one(UserGroup),
    "get_contacts": _many(Contact),
    "add_contact": _one(Contact),
    "get_contact_groups": _many(ContactGroup),
    "add_contact_group": _one(ContactGroup),
    "get_users_schedule": _many(UserSchedule),
    # projects and folders (§6.3)
    "get_projects": _many(Project),
    "get_project": _one(Project),
    "post_project": _one(Project),
    "update_project": _one(Project),
    "get_project_groups": _many(ProjectGroup),
    "add_project_group": _one(ProjectGroup),
    "add_project_groups": _one(ProjectGroup),
    "get_project_custom_fields": _many(CustomField),
    "get_events": _many(Event),
    # tasks (§6.4) and comments (§6.5)
    "get_all_tasks": _many(Task),
    "get_tasks": _many(Task),
    "get_task": _one(Task),
    "post_task": _one(Task),
    "update_task": _one(Task),
    "complete_task": _one(Task),
    "search_tasks": _many(Task),
    "get_task_custom_fields": _many(CustomField),
    "get_comments": _many(Comment),
    "post_comment": _one(Comment),
    # tags (§6.6)
    "get_task_tags": _many(Tag),
    "add_task_tags": _many(Tag),
    "get_task_tag_groups": _many(TagGroup),
    "add_task_tag_groups": _many(TagGroup),
    "get_project_tags": _many(Tag),
    "add_project_tags": _many(Tag),
    "get_project_tag_groups": _many(TagGroup),
    "add_project_tag_groups": _many(TagGroup),
    # costs (§6.7) and timers (§6.8)
    "get_costs": _body(CostReport),
    "get_costs_total": _body(CostTotals),
    "add_costs": _body(Created),
    "get_timers": _many(Timer),
    "get_my_timer": _one(MyTimer),
    # files (§6.9) and webhooks (§6.10)
    "get_files": _many(File),
    "upload_files": _many(Upload),
    "get_webhooks": _many(Webhook),
    "add_webhook": _body(Created),
    # OAuth2 server (§3.4): no envelope
    "oauth2_token": _body(TokenResponse),
    "oauth2_refresh": _body(TokenResponse),
    "oauth2_resource": _body(OAuthUser),
}
"""Every action that answers with an object, mapped to its model.

Actions missing here answer ``{"status": "ok"}`` only (``subscribe``,
``close_project``, ``update_task_tags``, ``update_costs``, ``start_my_timer``...), or
raw bytes (``download``).
"""


def structure_response(action: str, answer: Mapping[str, JSONValue]) -> object:
    """Structure a decoded success answer of ``action`` into its model(s).

    Returns a model, a list of models, or ``None`` for an answer without payload
    (``complete_task`` answers with or without ``data``; ``get_my_timer`` without a
    running timer). Raises ``KeyError`` for an action without a model and
    :class:`StructureError` when the answer does not fit.

    Resource methods know their model statically and call :func:`structure`
    directly; this is for the raw ``client.call()`` escape hatch and for tests.
    """
    spec = RESPONSE_MODELS[action]
    if not isinstance(answer, Mapping):
        raise StructureError(f"cannot structure {action}: expected an object, got {show(answer)}")
    if spec.source == "body":
        return structure({k: v for k, v in answer.items() if k != "status"}, spec.model)
    data = answer.get("data")
    if spec.shape == "many":
        return structure_list(data, spec.model)
    if data is None or data == [] or data == {}:
        return None
    return structure_one(data, spec.model)
