"""Signers: exact query strings, bodies and headers, against hashes computed here."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from urllib.parse import parse_qsl, quote

import pytest

from worksection_async import Call, HmacToken, PageHash, QueryHash, UploadFile
from worksection_async._signing import MAX_URL_LENGTH, redact_hash

KEY = "s3cret-key"
NOW = 1_700_000_000.75


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def q(text: str) -> str:
    return quote(text, safe="")


# -- PageHash ------------------------------------------------------------------------


def test_page_hash_with_page() -> None:
    """hash = md5(page + action + key), sent as action, page, params, hash."""
    call = Call.build("get_task", "/project/1/2/", {"extra": "text,files"})
    wire = PageHash().sign(call, KEY, NOW)
    expected_hash = md5("/project/1/2/" + "get_task" + KEY)
    assert wire.path == "/api/admin/v2/"
    assert wire.query == (
        f"action=get_task&page={q('/project/1/2/')}&extra={q('text,files')}&hash={expected_hash}"
    )
    assert wire.body is None
    assert wire.headers == ()


def test_page_hash_without_page() -> None:
    """Without a page the hash is md5(action + key) and no page param is sent."""
    wire = PageHash().sign(Call.build("get_projects"), KEY, NOW)
    assert wire.query == f"action=get_projects&hash={md5('get_projects' + KEY)}"


def test_page_hash_ignores_time() -> None:
    """The page dialect has no timestamp: the same call signs the same at any time."""
    call = Call.build("get_task", "/project/1/2/3/")
    assert PageHash().sign(call, KEY, 0).query == PageHash().sign(call, KEY, NOW).query


def test_page_hash_non_ascii_spaces_and_lists() -> None:
    """Values are percent-encoded (UTF-8, spaces as %20); lists repeat key[]."""
    call = Call.build(
        "post_comment", "/project/1/2/", {"text": "Привіт, світ & co", "todo": ["a b", "ç"]}
    )
    wire = PageHash().sign(call, KEY, NOW)
    pairs = parse_qsl(wire.query, keep_blank_values=True)
    assert pairs == [
        ("action", "post_comment"),
        ("page", "/project/1/2/"),
        ("text", "Привіт, світ & co"),
        ("todo[]", "a b"),
        ("todo[]", "ç"),
        ("hash", md5("/project/1/2/post_comment" + KEY)),
    ]
    assert "%20" in wire.query and "+" not in wire.query


# -- QueryHash -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("page", "ids"),
    [
        (None, ""),
        ("/project/7/", "&id_project=7"),
        ("/project/7/8/", "&id_task=8"),
        ("/project/7/8/9/", "&id_task=9"),
    ],
)
def test_query_hash_addressing(page: str | None, ids: str) -> None:
    """Pages become id_project / id_task (a subtask by its own id)."""
    wire = QueryHash().sign(Call.build("get_task", page), KEY, NOW)
    unsigned = f"action=get_task{ids}"
    assert wire.query == f"{unsigned}&hash={md5(unsigned + KEY)}"


def test_query_hash_covers_the_encoded_string_as_sent() -> None:
    """The hash is over the percent-encoded query exactly as it goes out."""
    call = Call.build(
        "post_task",
        "/project/3/",
        {"title": "Нова задача 1", "todo": ["x y", "z"], "datestart": dt.date(2021, 1, 15)},
    )
    wire = QueryHash().sign(call, KEY, NOW)
    unsigned = (
        f"action=post_task&id_project=3&title={q('Нова задача 1')}"
        f"&{q('todo[]')}={q('x y')}&{q('todo[]')}=z&datestart=15.01.2021"
    )
    assert wire.query == f"{unsigned}&hash={md5(unsigned + KEY)}"


# -- HmacToken -----------------------------------------------------------------------


def test_hmac_token_header_and_json_body() -> None:
    """Authorization: Admin <t>_<hmac_sha256(key, 'action:t')>, params as JSON."""
    call = Call.build("post_comment", "/project/1/2/3/", {"text": "héllo wörld", "todo": ["a"]})
    wire = HmacToken().sign(call, KEY, NOW)
    t = int(NOW)
    mac = hmac.new(KEY.encode(), f"post_comment:{t}".encode(), hashlib.sha256).hexdigest()
    assert wire.path == "/api/admin/v2"
    assert wire.query == "action=post_comment"
    assert dict(wire.headers) == {"Authorization": f"Admin {t}_{mac}"}
    assert wire.content_type == "application/json; charset=utf-8"
    assert wire.body is not None
    assert json.loads(wire.body) == {"id_task": "3", "text": "héllo wörld", "todo": ["a"]}


def test_hmac_token_without_page_and_fresh_per_time() -> None:
    """No page means no ids; a different time gives a different token."""
    call = Call.build("get_projects")
    first = HmacToken().sign(call, KEY, NOW)
    later = HmacToken().sign(call, KEY, NOW + 1)
    assert first.body is not None and json.loads(first.body) == {}
    assert dict(first.headers) != dict(later.headers)


# -- shared behaviour ----------------------------------------------------------------


@pytest.mark.parametrize("signer", [PageHash(), QueryHash()])
def test_long_values_go_in_the_post_body(signer: PageHash | QueryHash) -> None:
    """A 20 kB comment never makes a URL over the 8 kB limit: it goes in a form body."""
    text = "ü" * 20_000
    wire = signer.sign(Call.build("post_comment", "/project/1/2/", {"text": text}), KEY, NOW)
    assert wire.query == ""
    assert wire.content_type == "application/x-www-form-urlencoded"
    assert wire.body is not None
    body = wire.body.decode()
    assert dict(parse_qsl(body))["text"] == text
    if isinstance(signer, QueryHash):
        unsigned, _, sent_hash = body.rpartition("&hash=")
        assert sent_hash == md5(unsigned + KEY)


@pytest.mark.parametrize("signer", [PageHash(), QueryHash()])
def test_short_values_stay_in_the_query(signer: PageHash | QueryHash) -> None:
    """Below the limit the request is a POST with everything in the query string."""
    wire = signer.sign(Call.build("post_comment", "/project/1/2/", {"text": "hi"}), KEY, NOW)
    assert wire.body is None
    assert len(wire.target) < MAX_URL_LENGTH


def test_files_keep_params_in_the_url() -> None:
    """Multipart uploads keep the signed params in the URL and send files in the body."""
    upload = UploadFile("attach[0]", "a.txt", b"data", "text/plain")
    wire = QueryHash().sign(
        Call.build("post_comment", "/project/1/2/", {"text": "see file"}, files=[upload]),
        KEY,
        NOW,
    )
    assert wire.files == (upload,)
    assert wire.query.startswith("action=post_comment&id_task=2&text=see%20file&hash=")


def test_signing_is_pure() -> None:
    """The same call, key and time always give the same request."""
    call = Call.build("post_task", "/project/1/", {"title": "x"})
    for signer in (PageHash(), QueryHash(), HmacToken()):
        assert signer.sign(call, KEY, NOW) == signer.sign(call, KEY, NOW)


def test_wire_repr_hides_the_hash() -> None:
    """A signed request's repr never shows the hash or the Authorization header."""
    call = Call.build("get_task", "/project/1/2/")
    for signer in (PageHash(), QueryHash(), HmacToken()):
        wire = signer.sign(call, KEY, NOW)
        text = repr(wire)
        assert KEY not in text
        assert md5("/project/1/2/get_task" + KEY) not in text
        assert "Admin" not in text
    assert redact_hash("a=1&hash=abc123&b=2") == "a=1&hash=[redacted]&b=2"


# -- Call normalisation --------------------------------------------------------------


def test_call_renders_python_values() -> None:
    """Dates, bools, numbers and lists become the API's wire strings; None is dropped."""
    call = Call.build(
        "post_task",
        None,
        {
            "datestart": dt.date(2021, 2, 1),
            "priority": 5,
            "max_money": 12.5,
            "max_time": 3.0,
            "options.allow_close": True,
            "todo": ("a", "b"),
            "text": None,
        },
    )
    assert call.params == (
        ("datestart", "01.02.2021"),
        ("priority", "5"),
        ("max_money", "12.5"),
        ("max_time", "3"),
        ("options.allow_close", "1"),
        ("todo", ("a", "b")),
    )


@pytest.mark.parametrize(
    ("action", "params", "error"),
    [
        ("", {}, ValueError),
        ("Get Task", {}, ValueError),
        ("get_task", {"hash": "x"}, ValueError),
        ("get_task", {"bad key": "x"}, ValueError),
        ("get_task", {"when": dt.datetime(2021, 1, 1, 10, 0)}, TypeError),
        ("get_task", {"ids": [1, 2]}, TypeError),
        ("get_task", {"obj": object()}, TypeError),
    ],
)
def test_call_rejects_bad_input(action: str, params: dict[str, object], error: type) -> None:
    """Bad actions, reserved or malformed keys and unsupported values fail before sending."""
    with pytest.raises(error):
        Call.build(action, None, params)  # type: ignore[arg-type]


@pytest.mark.parametrize("signer", [PageHash(), QueryHash()])
def test_long_text_beside_files_goes_in_multipart_fields(signer: PageHash | QueryHash) -> None:
    """A 20 kB comment with an attachment: text in multipart fields, URL stays short."""
    upload = UploadFile("attach[0]", "a.txt", b"data")
    text = "é" * 20_000
    call = Call.build("post_comment", "/project/1/2/", {"text": text}, files=[upload])
    wire = signer.sign(call, KEY, NOW)
    assert len(wire.target) < 200
    assert wire.form_fields == (("text", text),)
    assert wire.files == (upload,)
    if isinstance(signer, QueryHash):
        assert (
            wire.query
            == f"action=post_comment&id_task=2&hash={md5('action=post_comment&id_task=2' + KEY)}"
        )
    else:
        assert wire.query.endswith(f"&hash={md5('/project/1/2/post_comment' + KEY)}")


def test_upload_content_must_be_resendable() -> None:
    """Bytes and seekable files are fine; a pipe-like stream is refused up front."""
    import io

    class Pipe(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def seekable(self) -> bool:
            return False

    assert UploadFile("attach[0]", "a", b"x").content == b"x"
    assert UploadFile("attach[0]", "a", io.BytesIO(b"x")).filename == "a"
    with pytest.raises(ValueError, match="cannot seek"):
        UploadFile("attach[0]", "a", Pipe())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="bytes or a binary file"):
        UploadFile("attach[0]", "a", "text")  # type: ignore[arg-type]
