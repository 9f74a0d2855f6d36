"""Secrets over real sockets: httpx's and httpcore's own DEBUG logs stay clean."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re

import pytest

import worksection_async as ws
from worksection_async import Client
from worksection_async.testing import FakeWorksection

pytestmark = pytest.mark.asyncio  # real sockets and threads: asyncio is enough here


@pytest.mark.parametrize("signer", [ws.PageHash(), ws.QueryHash(), ws.HmacToken()])
async def test_no_key_or_hash_in_any_log_line(
    signer: ws.Signer, caplog: pytest.LogCaptureFixture
) -> None:
    """A real HTTP exchange logged at DEBUG by every logger shows no key, hash or token."""
    fake = FakeWorksection(api_key="served-secret-key-42")
    project = fake.add_project("P")
    task = fake.add_task(project, "T")
    caplog.set_level(logging.DEBUG)
    with fake.serve_in_thread() as url:
        async with Client(url, fake.api_key, signer=signer, rate_limit=None) as client:
            await client.task(task.page).get()
            with pytest.raises(ws.InvalidTaskError) as info:
                await client.call("get_task", page=f"/project/{project.id}/999999/")
    text = caplog.text + str(info.value) + repr(info.value)
    assert any(r.name.startswith(("httpx", "httpcore")) for r in caplog.records)
    page_hash = hashlib.md5(f"{task.page}get_task{fake.api_key}".encode()).hexdigest()
    assert fake.api_key not in text
    assert page_hash not in text
    assert "Admin " not in text  # the HMAC token header value
    # No md5 (32 hex) or HMAC-SHA256 (64 hex) digest of any dialect shows anywhere.
    assert not re.search(r"[0-9a-f]{32}", text), re.search(r".{40}[0-9a-f]{32}", text)


async def test_webhook_password_never_in_httpx_log_lines(caplog: pytest.LogCaptureFixture) -> None:
    """add_webhook sends the deliveries' basic-auth password as a parameter; httpx's
    INFO line (the full request URL) shows it masked, on every signer."""
    import logging

    from worksection_async import Client, HmacToken, PageHash, QueryHash
    from worksection_async.testing import FakeWorksection

    caplog.set_level(logging.DEBUG)
    fake = FakeWorksection()
    for signer in (PageHash(), QueryHash(), HmacToken()):
        async with Client(
            fake.account_url, fake.api_key, transport=fake.transport, signer=signer
        ) as client:
            with contextlib.suppress(ws.APIError):
                await client.webhooks.add(
                    "https://hooks.example.org/ws",
                    events=["post_task"],
                    basic_auth=("bot", "pa55-w0rd-SECRET"),
                )
    text = caplog.text
    assert "https://fake.worksection.com" in text  # httpx did log the requests
    assert "pa55-w0rd-SECRET" not in text
    assert "pa55-w0rd-SECRET".lower() not in text.lower()
