"""A request's secrets never come back in an error, however the server encoded them.

Error pages and envelopes echo what they were sent: the query string (with ``hash=``),
the ``Authorization`` header, the API key. They may come back as is, JSON-escaped,
percent-encoded in either case, as HTML entities, base64... Every form is masked.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from urllib.parse import parse_qsl, quote

import httpx
import pytest

import worksection_async as ws
from worksection_async import Client
from worksection_async._signing import MAX_FORM_LENGTH, mask_secrets
from worksection_async._transport import MAX_ERROR_TEXT, SNIPPET_LENGTH, _snippet

from .conftest import ACCOUNT, API_KEY

pytestmark = pytest.mark.anyio

FORMS: dict[str, Callable[[str], str]] = {
    "as is": lambda s: s,
    "upper case": str.upper,
    "JSON string": lambda s: json.dumps(s)[1:-1],
    "JSON \\u escapes": lambda s: "".join(f"\\u{ord(c):04x}" for c in s),
    "JSON \\u escapes, upper hex": lambda s: "".join(f"\\u{ord(c):04X}" for c in s),
    "percent-encoded, lower hex": lambda s: "".join(f"%{b:02x}" for b in s.encode()),
    "percent-encoded, upper hex": lambda s: "".join(f"%{b:02X}" for b in s.encode()),
    "percent-encoded twice": lambda s: "".join(f"%25{b:02X}" for b in s.encode()),
    "quote()": lambda s: quote(s, safe=""),
    "HTML decimal entities": lambda s: "".join(f"&#{ord(c)};" for c in s),
    "HTML hex entities": lambda s: "".join(f"&#x{ord(c):X};" for c in s),
    "\\x escapes": lambda s: "".join(f"\\x{ord(c):02x}" for c in s),
    "JavaScript \\u{}": lambda s: "".join(f"\\u{{{ord(c):x}}}" for c in s),
    "mixed, char by char": lambda s: "".join(
        (c, f"%{ord(c):02X}", f"\\u{ord(c):04x}", f"&#{ord(c)};")[i % 4] for i, c in enumerate(s)
    ),
    "base64": lambda s: base64.b64encode(s.encode()).decode(),
    "base64, url-safe, unpadded": lambda s: (
        base64.urlsafe_b64encode(s.encode()).decode().rstrip("=")
    ),
    "hex": lambda s: s.encode().hex(),
}


def sent_hash(request: httpx.Request) -> str:
    return dict(parse_qsl(request.url.query.decode()))["hash"]


def echoing(template: Callable[[httpx.Request], httpx.Response]) -> Client:
    return Client(
        ACCOUNT, API_KEY, transport=httpx.MockTransport(template), rate_limit=None, retry=None
    )


@pytest.mark.parametrize("form", FORMS)
async def test_the_hash_is_masked_in_every_form_in_an_error_page(form: str) -> None:
    """An HTML error page echoing the request's hash in any encoding: masked."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(sent_hash(request))
        echoed = FORMS[form](sent_hash(request))
        return httpx.Response(502, text=f"<p>bad gateway for hash {echoed} (retry)</p>")

    async with echoing(handler) as client:
        with pytest.raises(ws.ProtocolError) as info:
            await client.call("get_task", page="/project/1/2/")
    text = f"{info.value} {info.value!r} {info.value.snippet}"
    assert FORMS[form](seen[0]) not in text
    assert seen[0] not in text.lower()
    assert "[redacted]" in info.value.snippet
    assert "(retry)" in info.value.snippet  # the rest of the page is kept


@pytest.mark.parametrize("form", FORMS)
async def test_the_api_key_is_masked_in_every_form(form: str) -> None:
    """The API key echoed in any encoding, in a page, a message and message_details."""
    echoed = FORMS[form](API_KEY)

    def page(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, text=f"key={echoed}!")

    def envelope(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json={
                "status": "error",
                "status_code": 2,
                "message": f"bad key {echoed}",
                "message_details": {"sent": [echoed]},
            },
        )

    for handler, error in ((page, ws.ProtocolError), (envelope, ws.InvalidHashError)):
        async with echoing(handler) as client:
            with pytest.raises(error) as info:
                await client.call("get_projects")
        text = f"{info.value} {info.value!r} {getattr(info.value, 'details', '')}"
        assert echoed not in text
        assert API_KEY not in text.lower()


@pytest.mark.parametrize("form", ["as is", "JSON \\u escapes", "percent-encoded, upper hex"])
async def test_an_hmac_credential_is_masked(form: str) -> None:
    """HmacToken's Authorization credential (and its MAC alone) echoed back: masked."""
    macs: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        credential = request.headers["authorization"].split(" ", 1)[1]
        mac = credential.split("_", 1)[1]
        macs.append(mac)
        return httpx.Response(
            500, text=f"auth {FORMS[form](credential)} mac {FORMS[form](mac)} end"
        )

    async with Client(
        ACCOUNT,
        API_KEY,
        signer=ws.HmacToken(),
        transport=httpx.MockTransport(handler),
        rate_limit=None,
    ) as client:
        with pytest.raises(ws.ProtocolError) as info:
            await client.call("get_projects")
    assert FORMS[form](macs[0]) not in info.value.snippet
    assert info.value.snippet.count("[redacted]") == 2


async def test_a_hash_cut_by_the_reading_window_does_not_leak_in_part() -> None:
    """Only the start of a long page is read: an encoded hash cut in two at the window's
    end is not recognisable, so it never reaches the snippet, even when masking earlier
    copies shortened the text."""
    hashes: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        hashes.append(sent_hash(request))
        encoded = FORMS["percent-encoded twice"](hashes[0])
        return httpx.Response(500, text=encoded * 200)

    async with echoing(handler) as client:
        with pytest.raises(ws.ProtocolError) as info:
            await client.call("get_task", page="/project/1/2/")
    snippet = info.value.snippet
    assert snippet.replace("[redacted]", "") == ""
    for start in range(len(hashes[0]) - 4):
        part = FORMS["percent-encoded twice"](hashes[0][start : start + 4])
        assert part.lower() not in snippet.lower()


def test_the_window_margin_covers_the_longest_form() -> None:
    """Every form the masker knows fits in the margin the snippet drops at its end."""
    secret = "0123456789abcdef0123456789abcdef"
    for name, encode in FORMS.items():
        encoded = encode(secret)
        assert len(encoded) <= MAX_FORM_LENGTH * len(secret) + 8, name
        assert mask_secrets(f"<{encoded}>", [secret]) == "<[redacted]>", name
    body = ("x" * (SNIPPET_LENGTH * 4 + 3) + secret).encode()
    assert secret[:6] not in _snippet(body + b"tail", (secret,))


def test_hash_parameters_are_masked_with_an_encoded_equals_sign() -> None:
    """Any hash=value (not only this request's) is masked, also as hash%3D, hash\\u003d."""
    text = 'a hash=1f2e b HASH%3D3c4d c hash%253D5e6f d "hash\\u003d7a8b" e hash&#61;9c0d'
    masked = mask_secrets(text, [])
    for value in ("1f2e", "3c4d", "5e6f", "7a8b", "9c0d"):
        assert value not in masked
    assert masked.count("[redacted]") == 5


async def test_a_key_cut_by_the_message_limit_does_not_leak_in_part() -> None:
    """An over-long error message is cut; a key straddling the cut is not shown in part."""
    message = "x" * (MAX_ERROR_TEXT - 10) + API_KEY + "y" * 1000

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"status": "error", "status_code": 0, "message": message})

    async with echoing(handler) as client:
        with pytest.raises(ws.APIError) as info:
            await client.call("get_projects")
    assert API_KEY[:8] not in info.value.message
    assert "more characters not shown" in info.value.message
