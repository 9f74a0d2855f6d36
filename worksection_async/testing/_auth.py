"""Signature checks for the admin API, written independently of the client's signers.

Three dialects are accepted on ``/api/admin/v2/`` and ``/api/admin/v2``:

* ``PageHash``: ``hash == md5(page + action + api_key)`` (``md5(action + api_key)``
  without a ``page``), where ``page`` is the parameter's (decoded) value;
* ``QueryHash``: ``hash == md5(signed + api_key)``, where ``signed`` is the raw,
  percent-encoded parameter string as sent (the URL query if ``hash`` is there, else the
  form body) with the one ``hash=...`` pair taken out wherever it stands (first, last or
  between others: clients that sort their parameters put it in the middle), the other
  pairs kept in their order and joined with ``&``; or the same pairs *decoded*
  (``key=value`` unencoded, as the official Postman pre-request script and several
  community clients hash them while sending them encoded). Official sources disagree
  (the PHP SDK 3.3 hashes the encoded string), so both are accepted;
* ``HmacToken`` (the official SDK 2.1): header ``Authorization: Admin <t>_<hex>`` with
  ``hex == hmac_sha256(api_key, "<action>:<t>")`` and ``|now - t| <= skew`` seconds.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import unquote_plus

from ._params import BodyKind, Params

__all__ = ["check_admin_signature", "hmac_ok", "page_hash_ok", "query_hash_ok"]


def _md5(data: bytes) -> str:
    # md5 is what the Worksection API mandates, not a choice made for security.
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.strip().lower().encode(), expected.encode())


def page_hash_ok(params: Params, action: str, api_key: str) -> bool:
    given = params.text("hash")
    if given is None:
        return False
    page = params.text("page") or ""
    return _same(given, _md5((page + action + api_key).encode()))


def query_hash_ok(raw: bytes, api_key: str) -> bool:
    """``raw`` holds one ``hash=<md5 of the other pairs as sent, joined by & + key>``."""
    pairs = raw.split(b"&")
    found = [i for i, pair in enumerate(pairs) if pair.partition(b"=")[0] == b"hash"]
    if len(found) != 1:
        return False
    value = pairs[found[0]][len(b"hash=") :].decode("latin-1")
    rest = pairs[: found[0]] + pairs[found[0] + 1 :]
    key = api_key.encode()
    if _same(value, _md5(b"&".join(rest) + key)):
        return True
    return _same(value, _md5(b"&".join(_decoded(pair) for pair in rest) + key))


def _decoded(pair: bytes) -> bytes:
    """``key=value`` with both sides percent- (and ``+``-) decoded, as UTF-8."""
    name, sep, value = pair.decode("latin-1").partition("=")
    text = unquote_plus(name, "utf-8", "replace") + sep + unquote_plus(value, "utf-8", "replace")
    return text.encode("utf-8")


def hmac_ok(authorization: str, action: str, api_key: str, *, now: float, skew: float) -> bool:
    """``Admin <t>_<hex hmac_sha256(key, "<action>:<t>")>`` within ``skew`` seconds of now."""
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "admin":
        return False
    stamp, _, digest = token.strip().partition("_")
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:
        return False
    if abs(now - int(stamp)) > skew:
        return False
    expected = hmac.new(api_key.encode(), f"{action}:{stamp}".encode(), hashlib.sha256)
    return _same(digest, expected.hexdigest())


def check_admin_signature(
    *,
    api_key: str,
    action: str,
    params: Params,
    raw_query: bytes,
    raw_body: bytes,
    body_kind: BodyKind,
    authorization: str | None,
    now: float,
    skew: float,
) -> str | None:
    """The name of the dialect the request is validly signed with, or ``None``."""
    if authorization is not None and authorization.strip().lower().startswith("admin"):
        return "HmacToken" if hmac_ok(authorization, action, api_key, now=now, skew=skew) else None
    if "hash" not in params:
        return None
    if page_hash_ok(params, action, api_key):
        return "PageHash"
    in_query = raw_query.startswith(b"hash=") or b"&hash=" in raw_query
    if in_query and query_hash_ok(raw_query, api_key):
        return "QueryHash"
    if body_kind == "form" and query_hash_ok(raw_body, api_key):
        return "QueryHash"
    return None
