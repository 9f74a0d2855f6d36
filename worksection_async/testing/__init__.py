"""Test helpers: ``FakeWorksection`` (an in-memory Worksection) and ``ManualClock``.

``FakeWorksection`` is a stateful fake of one Worksection account. It answers the 63
actions of the API with the real envelopes and error codes, checks every signing
dialect (``PageHash``, ``QueryHash``, ``HmacToken``, OAuth2 Bearer tokens), enforces an
optional quota (error 20, or HTTP 429: see ``QUOTA_STYLES``) on a clock the test
controls, holds requests to the documented formats, and injects faults. Reach it
in-process with ``fake.transport`` (an httpx transport) or over HTTP with
``fake.asgi_app`` / ``python -m worksection_async.testing serve``. OAuth2 tokens act
within their scopes (``ACTION_SCOPES``). It delivers webhooks where
``fake.webhook_delivery`` routes them (an ASGI app in-process, or HTTP; under
``serve``, loopback hooks only unless ``--allow-webhook-host``). Where official
sources disagree the choice is selectable (``QUOTA_STYLES``, ``DIALECTS``, ``SHAPES``,
``ROLE_STYLES``); the known leniencies are listed in ``FakeWorksection``'s docstring::

    from worksection_async import Client
    from worksection_async.testing import FakeWorksection

    fake = FakeWorksection.populated(projects=2, tasks_per_project=10)
    async with Client(fake.account_url, fake.api_key, transport=fake.transport) as client:
        tasks = await client.call("get_tasks", page="/project/1000/")
    assert len(tasks) == 10
"""

from __future__ import annotations

from ._actions import (
    ACTION_SCOPES,
    DIALECTS,
    MAX_RECORDS,
    SHAPES,
    TOO_MANY_TASKS_CODE,
    Dialect,
    Shape,
)
from ._asgi import FakeASGIApp
from ._base import FakeStats
from ._clock import ManualClock
from ._faults import Fault, FaultKind, FaultPlan, FaultRule
from ._http import FakeRequest, FakeResponse
from ._oauth import OAuthApp, OAuthToken
from ._quota import DEFAULT_QUOTA, QUOTA_STYLES, QuotaStyle, RateQuota
from ._records import (
    ROLE_STYLES,
    Comment,
    Contact,
    Cost,
    CustomField,
    Event,
    File,
    Member,
    Project,
    RoleStyle,
    Tag,
    TagGroup,
    Task,
    Team,
    Timer,
    Webhook,
)
from ._server import DEFAULT_ACCOUNT_URL, DEFAULT_API_KEY, FakeWorksection
from ._transport import FakeTransport
from ._webhooks import Delivery, WebhookDelivery

__all__ = [
    "ACTION_SCOPES",
    "Comment",
    "Contact",
    "Cost",
    "CustomField",
    "DEFAULT_ACCOUNT_URL",
    "DEFAULT_API_KEY",
    "DEFAULT_QUOTA",
    "DIALECTS",
    "Delivery",
    "Dialect",
    "Event",
    "FakeASGIApp",
    "FakeRequest",
    "FakeResponse",
    "FakeStats",
    "FakeTransport",
    "FakeWorksection",
    "Fault",
    "FaultKind",
    "FaultPlan",
    "FaultRule",
    "File",
    "MAX_RECORDS",
    "ManualClock",
    "Member",
    "OAuthApp",
    "OAuthToken",
    "Project",
    "QUOTA_STYLES",
    "QuotaStyle",
    "ROLE_STYLES",
    "RateQuota",
    "RoleStyle",
    "SHAPES",
    "Shape",
    "TOO_MANY_TASKS_CODE",
    "Tag",
    "TagGroup",
    "Task",
    "Team",
    "Timer",
    "Webhook",
    "WebhookDelivery",
]
