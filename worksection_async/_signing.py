"""Signers: how a ``Call`` becomes the bytes of an HTTP request.

Every signer is a pure function of ``(call, api_key, now)``: no I/O, time passed in.
It returns a ``WireRequest`` that the transport sends unchanged, so the hash always
covers exactly the bytes that go out.

* ``PageHash`` (default, the base document): ``/api/admin/v2/``, ``page=/project/P/T/``,
  ``hash=md5(page + action + key)`` or ``md5(action + key)`` without a page.
* ``QueryHash`` (the current public docs): ``/api/admin/v2/``, ``id_project``/``id_task``,
  ``hash=md5(query string as sent + key)``.
* ``HmacToken`` (official SDK 2.1): ``/api/admin/v2``, ids in a JSON body, header
  ``Authorization: Admin <t>_<hex hmac_sha256(key, "<action>:<t>")>``.

A request whose URL would pass the API's 8 kB limit (a 20 kB comment, say) carries its
parameters in a form-encoded POST body instead of the query string.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Sequence
from typing import Protocol
from urllib.parse import quote

import attrs

from ._call import Call, JSONParam, UploadFile, WireValue
from ._json import JSONValue
from ._pages import Page, ProjectPage, SubtaskPage, TaskPage

__all__ = [
    "MAX_URL_LENGTH",
    "HmacToken",
    "PageHash",
    "QueryHash",
    "Signer",
    "WireRequest",
    "encode_pairs",
    "mask_margin",
    "mask_secrets",
    "masked_prefix",
    "md5_hex",
    "redact_hash",
]

MAX_URL_LENGTH = 8000
"""Longest URL (path and query, in bytes) a signer puts in the query string.

The API's servers refuse URLs over 8 kB with HTTP 414; longer requests use a POST body.
The account's host is not counted: keep a little headroom for it (the limit is 8192).
"""

ADMIN_PATH = "/api/admin/v2/"
HMAC_PATH = "/api/admin/v2"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
JSON_CONTENT_TYPE = "application/json; charset=utf-8"


@attrs.frozen
class WireRequest:
    """A signed request, ready to send: everything here goes out byte for byte."""

    path: str
    query: str = attrs.field(default="", repr=lambda q: redact_hash(q))
    body: bytes | None = None
    content_type: str | None = None
    headers: tuple[tuple[str, str], ...] = attrs.field(default=(), repr=False)
    form_fields: tuple[tuple[str, str], ...] = ()
    files: tuple[UploadFile, ...] = ()
    method: str = "POST"

    @property
    def target(self) -> str:
        """Path and query string as they appear on the request line."""
        return f"{self.path}?{self.query}" if self.query else self.path

    def secrets(self) -> tuple[str, ...]:
        """This request's own credentials: its ``hash`` values (query, form body,
        multipart fields) and the credential of its ``Authorization`` header (for
        ``Admin <t>_<mac>`` also the MAC alone). The transport masks them in errors."""
        found = _HASH_VALUE.findall(self.query)
        if self.body is not None and self.content_type == FORM_CONTENT_TYPE:
            found += _HASH_VALUE.findall(self.body.decode("latin-1"))
        found += [value for key, value in self.form_fields if key == "hash"]
        for name, value in self.headers:
            if name.lower() == "authorization":
                credential = value.strip().partition(" ")[2].strip()
                found.append(credential)
                mac = credential.partition("_")[2]
                if mac:
                    found.append(mac)
        return tuple(secret for secret in found if secret)


class Signer(Protocol):
    """Turns a call into a signed wire request. Implementations must be pure."""

    @property
    def name(self) -> str:
        """The dialect's name, as error messages show it."""

    def sign(self, call: Call, api_key: str, now: float) -> WireRequest:
        """The request to send for ``call``: its URL, parameters and headers, signed."""


_HASH_VALUE = re.compile(r"(?:^|&)hash=([^&]*)")

_HASH_PARAM = re.compile(
    r"((?:hash|http_pass)(?:=|%(?:25){0,2}3d|\\u003d|\\x3d|&#0{0,4}61;|&#x0{0,4}3d;))[^&\s\"'\\<>]*",
    re.IGNORECASE,
)


def redact_hash(text: str) -> str:
    """Mask the value of every ``hash=`` parameter (and ``http_pass=``, a webhook's
    basic-auth password) in a query string or log line (also when the ``=`` comes back
    percent-, JSON- or HTML-encoded)."""
    return _HASH_PARAM.sub(r"\1[redacted]", text)


REDACTED = "[redacted]"

_NAMED_ENTITIES = {"&": "amp", "<": "lt", ">": "gt", '"': "quot", "'": "(?:apos|#39)"}

MAX_FORM_LENGTH = 40
"""Longest encoding of one character that ``mask_secrets`` recognises (in characters):
a secret of ``n`` characters comes back in at most ``40 * n + 8`` characters."""


def _char_forms(char: str) -> str:
    """A regex for one character of a secret in any encoding it may come back in."""
    code = ord(char)
    forms = [re.escape(char), "\\\\" + re.escape(char)]  # as is, or backslash-escaped (\/)
    # Percent-encoded UTF-8, once or re-encoded up to twice more (%2561, %252561).
    forms.append("".join(f"%(?:25){{0,2}}{byte:02x}" for byte in char.encode("utf-8")))
    if code < 0x10000:
        forms.append(f"\\\\u0{{0,4}}{code:04x}")  # JSON / JavaScript \uXXXX
    else:
        high, low = divmod(code - 0x10000, 0x400)
        forms.append(f"\\\\u{0xD800 + high:04x}\\\\u{0xDC00 + low:04x}")  # a surrogate pair
    forms.append(f"\\\\u\\{{0{{0,4}}{code:x}\\}}")  # JavaScript \u{XX}
    if code < 0x100:
        forms.append(f"\\\\x{code:02x}")  # \xNN (Python, C, JavaScript)
    forms.append(f"&#0{{0,4}}{code};")  # HTML decimal entity
    forms.append(f"&#x0{{0,4}}{code:x};")  # HTML hex entity
    if char in _NAMED_ENTITIES:
        forms.append(f"&{_NAMED_ENTITIES[char]};")
    if char == " ":
        forms.append(r"\+")
    return f"(?:{'|'.join(forms)})"


SHORT_SECRET = 8  # characters: shorter secrets are masked as whole words only


@functools.lru_cache(maxsize=256)
def _secret_pattern(secret: str) -> re.Pattern[str]:
    raw = secret.encode("utf-8")
    whole = {
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode(),
        raw.hex(),
    }
    alternatives = [re.escape(form.rstrip("=")) + "=*" for form in sorted(whole)]
    alternatives.insert(0, "".join(_char_forms(char) for char in secret))
    pattern = "|".join(alternatives)
    if len(secret) < SHORT_SECRET:
        # A short secret ("a", "k3y") would match inside every word of a message and
        # garble it: it is masked where it stands alone, not inside longer words.
        pattern = f"(?<![A-Za-z0-9])(?:{pattern})(?![A-Za-z0-9])"
    return re.compile(pattern, re.IGNORECASE)


def mask_secrets(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each secret in ``text`` by ``[redacted]``, in any of
    the forms a server may echo it back in: as is (any letter case), JSON-, JavaScript-
    or backslash-escaped, percent-encoded (upper or lower case, repeatedly), as HTML
    entities, any mix of those character by character, base64 or hex. Then masks every
    ``hash=`` value, as ``redact_hash``."""
    for secret in secrets:
        if secret:
            text = _secret_pattern(secret).sub(REDACTED, text)
    return redact_hash(text)


def md5_hex(text: str) -> str:
    # md5 is mandated by the Worksection API, not chosen for security.
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")


@functools.lru_cache(maxsize=4096)
def _quote_cached(value: str) -> str:
    return quote(value, safe="")


def _quote(value: str) -> str:
    # Most keys and many values (actions, ids, hashes) need no escaping: skip quote().
    # Short values repeat (pages, extras, emails): they are quoted once.
    if _SAFE.issuperset(value):
        return value
    if len(value) <= 256:
        return _quote_cached(value)
    return quote(value, safe="")


Pair = tuple[str, str]


def flatten(params: Sequence[tuple[str, WireValue]]) -> list[Pair]:
    """Expand repeated parameters: ``("todo", ("a", "b"))`` -> ``todo[]=a&todo[]=b``."""
    pairs: list[Pair] = []
    for key, value in params:
        if isinstance(value, str):
            pairs.append((key, value))
        elif isinstance(value, JSONParam):
            pairs.append((key, json.dumps(value.value, ensure_ascii=False, separators=(",", ":"))))
        else:
            pairs.extend((f"{key}[]", item) for item in value)
    return pairs


def encode_pairs(pairs: Sequence[Pair]) -> str:
    """Percent-encode ``key=value`` pairs joined by ``&`` (spaces as ``%20``)."""
    return "&".join(f"{_quote(k)}={_quote(v)}" for k, v in pairs)


def page_ids(page: Page | None) -> list[Pair]:
    """The id parameters that address a page in the id-based dialects."""
    if page is None:
        return []
    if isinstance(page, ProjectPage):
        return [("id_project", str(page.project_id))]
    if isinstance(page, TaskPage):
        return [("id_task", str(page.task_id))]
    if isinstance(page, SubtaskPage):
        return [("id_task", str(page.subtask_id))]
    raise TypeError(f"not a page: {page!r}")  # pragma: no cover - typing guards this


_HASH_ROOM = len("&hash=") + 32


def _fits(path: str, encoded: str, max_url_length: int) -> bool:
    return len(path) + 1 + len(encoded) <= max_url_length


def _place(path: str, encoded: str, call: Call, max_url_length: int) -> WireRequest:
    """Put encoded params in the query string, or in a form body if the URL is too long."""
    if call.files:
        # Multipart: the signed parameters stay in the URL, the files go in the body.
        return WireRequest(path=path, query=encoded, files=call.files)
    if _fits(path, encoded, max_url_length):
        return WireRequest(path=path, query=encoded)
    return WireRequest(path=path, body=encoded.encode("ascii"), content_type=FORM_CONTENT_TYPE)


@attrs.frozen
class PageHash:
    """The base document's scheme: ``hash = md5(page + action + api_key)``.

    Sent as ``action``, ``page`` (when the call has one), the parameters and ``hash``.
    Without a page the hash is ``md5(action + api_key)``.
    """

    max_url_length: int = MAX_URL_LENGTH

    @property
    def name(self) -> str:
        """The dialect's name, as error messages show it."""
        return "PageHash"

    def sign(self, call: Call, api_key: str, now: float) -> WireRequest:
        """The request to send for ``call``: its URL, parameters and headers, signed."""
        del now  # this dialect has no timestamp
        head: list[Pair] = [("action", call.action)]
        page = call.page.path if call.page is not None else ""
        if call.page is not None:
            head.append(("page", page))
        params = flatten(call.params)
        tail = [("hash", md5_hex(page + call.action + api_key))]
        encoded = encode_pairs([*head, *params, *tail])
        if call.files and not _fits(ADMIN_PATH, encoded, self.max_url_length):
            # A long text beside an attachment: the params travel as multipart fields.
            return WireRequest(
                path=ADMIN_PATH,
                query=encode_pairs([*head, *tail]),
                form_fields=tuple(params),
                files=call.files,
            )
        return _place(ADMIN_PATH, encoded, call, self.max_url_length)


@attrs.frozen
class QueryHash:
    """The current public docs' scheme: ``hash = md5(query string + api_key)``.

    Pages become ``id_project`` / ``id_task`` (a subtask is addressed by its own id).
    The string hashed is the percent-encoded parameter string exactly as sent (action
    first), and ``&hash=...`` is appended to it, in the URL or in the POST body.
    """

    max_url_length: int = MAX_URL_LENGTH

    @property
    def name(self) -> str:
        """The dialect's name, as error messages show it."""
        return "QueryHash"

    def sign(self, call: Call, api_key: str, now: float) -> WireRequest:
        """The request to send for ``call``: its URL, parameters and headers, signed."""
        del now  # this dialect has no timestamp
        head: list[Pair] = [("action", call.action), *page_ids(call.page)]
        params = flatten(call.params)
        encoded = encode_pairs([*head, *params])
        if call.files and not _fits(ADMIN_PATH, encoded + "." * _HASH_ROOM, self.max_url_length):
            # A long text beside an attachment: the params travel as multipart fields
            # and the hash covers the query string that is sent (action and ids).
            signed = encode_pairs(head)
            return WireRequest(
                path=ADMIN_PATH,
                query=f"{signed}&hash={md5_hex(signed + api_key)}",
                form_fields=tuple(params),
                files=call.files,
            )
        signed = f"{encoded}&hash={md5_hex(encoded + api_key)}"
        return _place(ADMIN_PATH, signed, call, self.max_url_length)


JSONParams = dict[str, str | list[str]]


def hmac_token(api_key: str, action: str, timestamp: int) -> str:
    """``<t>_<hex hmac_sha256(api_key, "<action>:<t>")>`` as the official SDK 2.1 sends."""
    digest = hmac.new(
        api_key.encode("utf-8"), f"{action}:{timestamp}".encode(), hashlib.sha256
    ).hexdigest()
    return f"{timestamp}_{digest}"


@attrs.frozen
class HmacToken:
    """The official SDK 2.1 scheme: ``Authorization: Admin <t>_<hmac>``, JSON body.

    ``t`` is the Unix time in seconds; the MAC covers ``"<action>:<t>"``. Pages become
    ``id_project`` / ``id_task`` in the JSON body; the action stays in the query string.
    """

    @property
    def name(self) -> str:
        """The dialect's name, as error messages show it."""
        return "HmacToken"

    def sign(self, call: Call, api_key: str, now: float) -> WireRequest:
        """The request to send for ``call``: its URL, parameters and headers, signed."""
        headers = (("Authorization", f"Admin {hmac_token(api_key, call.action, int(now))}"),)
        query = encode_pairs([("action", call.action)])
        if call.files:
            fields = (*page_ids(call.page), *flatten(call.params))
            return WireRequest(
                path=HMAC_PATH, query=query, headers=headers, form_fields=fields, files=call.files
            )
        body: dict[str, JSONValue] = dict(page_ids(call.page))
        for key, value in call.params:
            if isinstance(value, str):
                body[key] = value
            elif isinstance(value, JSONParam):
                body[key] = value.value
            else:
                body[key] = list(value)
        payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        return WireRequest(
            path=HMAC_PATH,
            query=query,
            body=payload,
            content_type=JSON_CONTENT_TYPE,
            headers=headers,
        )


def mask_margin(secrets: Sequence[str]) -> int:
    """How long the longest encoding of one of ``secrets`` that ``mask_secrets`` knows
    can be."""
    longest = max((len(secret) for secret in secrets), default=0)
    return MAX_FORM_LENGTH * longest + 8 if longest else 0


def masked_prefix(text: str, secrets: Sequence[str], limit: int) -> str:
    """At most ``limit`` characters from the start of ``text``, secrets masked, with a
    note saying how much was left out; only the start is ever scanned.

    A secret cut in two where the scan stops cannot be recognised, so the scan goes a
    margin further (the longest form of a secret) and that margin is dropped again.
    """
    if len(text) <= limit:
        return mask_secrets(text, secrets)
    margin = mask_margin(secrets)
    masked = mask_secrets(text[: limit + margin], secrets)
    masked = masked[: max(0, len(masked) - margin)][:limit]
    return f"{masked} [... {len(text) - limit} more characters not shown]"
