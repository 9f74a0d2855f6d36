"""OAuth2: the authorization-code flow and the ``BearerToken`` signer for ``/api/oauth2``.

::

    app = OAuth2App(client_id, client_secret, redirect_uri="https://my.app/callback")
    url = app.authorization_url(state="xyz", scopes=["projects_read", "tasks_read"])
    # ... the user approves, Worksection redirects with ?code=...
    tokens = await app.exchange_code(code)
    signer = BearerToken(tokens, app=app, on_refresh=save_tokens)
    async with Client(tokens.account_url, signer=signer) as client:
        me = await client.call("me")

An access token lives 24 hours. When the API answers HTTP 401 "token is expired", the
client refreshes once (concurrent calls share that one refresh: the refresh token
rotates, so a second refresh with the old one would fail) and resends the call.
``on_refresh`` receives the new tokens so they can be persisted.

The client secret goes only into the token and refresh requests, in a POST body: never
into the browser's authorization URL, never into a query string. Those requests never
follow a redirect (the secret would go wherever the server points), end within
``TOKEN_TIMEOUT`` seconds, read at most ``MAX_TOKEN_RESPONSE_SIZE`` bytes, and any answer
that is not a readable token response is an ``OAuth2Error("invalid_response", ...)``.
"""

from __future__ import annotations

import inspect
import json
import math
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Final
from urllib.parse import urlencode

import anyio
import attrs
import httpx

from ._call import Call
from ._exceptions import WorksectionError
from ._json import JSONValue
from ._limits import AnswerTooLarge, parse_json, read_limited, redirect_target
from ._signing import (
    JSON_CONTENT_TYPE,
    WireRequest,
    encode_pairs,
    mask_secrets,
    masked_prefix,
    page_ids,
)

__all__ = [
    "DEFAULT_SCOPES",
    "OAUTH_SERVER",
    "BearerToken",
    "OAuth2App",
    "OAuth2Error",
    "OAuth2Tokens",
]

OAUTH_SERVER = "https://worksection.com"
"""Where ``/oauth2/authorize``, ``/oauth2/token`` and ``/oauth2/refresh`` live."""

OAUTH_PATH = "/api/oauth2"

DEFAULT_SCOPES: tuple[str, ...] = (
    "projects_read",
    "tasks_read",
    "comments_read",
    "files_read",
    "users_read",
    "contacts_read",
)
"""Read-only scopes, as the official SDK asks for when none are given."""

TOKEN_TIMEOUT: Final = 30.0
"""Seconds a token or refresh request may take, end to end (when the caller sets none)."""

MAX_TOKEN_RESPONSE_SIZE: Final = 1024 * 1024
"""Most bytes read from the token endpoint (its answers are a few hundred bytes)."""

MAX_ERROR_TEXT: Final = 4096
"""Most characters of the token endpoint's ``error`` and description kept (the rest is
replaced by a note saying how much)."""

MAX_EXPIRES_IN: Final = 10**9
"""Largest ``expires_in`` taken as a number of seconds (about 31 years)."""


class OAuth2Error(WorksectionError):
    """The OAuth2 server refused: ``error`` (``invalid_request``, ``invalid_client``...)
    and its description. Secrets are never part of the message."""

    def __init__(self, error: str, description: str = "") -> None:
        self.error = error
        self.description = description
        super().__init__(f"{error}: {description}" if description else error)

    def __repr__(self) -> str:
        return f"OAuth2Error({self.error!r}, {self.description!r})"


@attrs.frozen(kw_only=True)
class OAuth2Tokens:
    """An access token, its refresh token and when it expires (``time.time()`` seconds)."""

    access_token: str = attrs.field(repr=False)
    refresh_token: str = attrs.field(repr=False)
    expires_at: float | None = None
    token_type: str = "Bearer"  # noqa: S105 - a token type, not a secret
    account_url: str | None = None

    @classmethod
    def from_response(
        cls, body: JSONValue, *, now: float, secrets: Iterable[str] = ()
    ) -> OAuth2Tokens:
        """Tokens from the token endpoint's answer, or the ``OAuth2Error`` it stands for.

        ``secrets`` (the client secret, the code or refresh token sent) are masked in an
        error's description, in whatever encoding the server echoed them.
        """
        if not isinstance(body, dict):
            raise OAuth2Error("invalid_response", "the token endpoint did not answer an object")
        if "error" in body:
            error = body["error"]
            description = body.get("errorDescription") or body.get("error_description") or ""
            if not isinstance(error, str) or not isinstance(description, str):
                raise OAuth2Error("invalid_response", "the token endpoint sent an unreadable error")
            secrets = tuple(secrets)
            raise OAuth2Error(
                masked_prefix(error, secrets, MAX_ERROR_TEXT),
                masked_prefix(description, secrets, MAX_ERROR_TEXT),
            )
        access, refresh = body.get("access_token"), body.get("refresh_token")
        if not isinstance(access, str) or not isinstance(refresh, str):
            raise OAuth2Error("invalid_response", "the token endpoint sent no tokens")
        expires_in = body.get("expires_in")
        account_url = body.get("account_url")
        token_type = body.get("token_type")
        return cls(
            access_token=access,
            refresh_token=refresh,
            expires_at=_expiry(expires_in, now),
            token_type=token_type if isinstance(token_type, str) and token_type else "Bearer",
            account_url=account_url if isinstance(account_url, str) else None,
        )


def _expiry(expires_in: JSONValue, now: float) -> float | None:
    """``now + expires_in``; absent is ``None``, anything but a sane count of seconds is
    an ``OAuth2Error`` (``10**400`` would overflow a float)."""
    if expires_in is None:
        return None
    if (
        isinstance(expires_in, bool)
        or not isinstance(expires_in, (int, float))
        or not 0 <= expires_in <= MAX_EXPIRES_IN
        or not math.isfinite(expires_in)
    ):
        shown = repr(expires_in) if not isinstance(expires_in, (list, dict)) else "a container"
        raise OAuth2Error(
            "invalid_response", f"expires_in is not a number of seconds: {shown[:40]}"
        )
    return now + float(expires_in)


@attrs.frozen(kw_only=True)
class OAuth2App:
    """A registered OAuth2 application (client id and secret, redirect URI)."""

    client_id: str
    client_secret: str = attrs.field(repr=False)
    redirect_uri: str | None = None
    server_url: str = OAUTH_SERVER

    def authorization_url(self, *, state: str, scopes: Iterable[str] = DEFAULT_SCOPES) -> str:
        """Where to send the user's browser. The client secret is not part of it."""
        if not state:
            raise ValueError("state must be a non-empty, unguessable string (CSRF protection)")
        params = {"client_id": self.client_id, "response_type": "code", "state": state}
        if self.redirect_uri:
            params["redirect_uri"] = self.redirect_uri
        scope_list = list(scopes)
        if not scope_list:
            raise ValueError("scopes must name at least one scope")
        params["scope"] = ",".join(scope_list)
        return f"{self.server_url.rstrip('/')}/oauth2/authorize?{urlencode(params)}"

    async def exchange_code(
        self, code: str, *, http_client: httpx.AsyncClient | None = None
    ) -> OAuth2Tokens:
        """Trade an authorization code (valid 10 minutes) for tokens."""
        if not code:
            raise ValueError("code must not be empty")
        form = {"grant_type": "authorization_code", "code": code}
        if self.redirect_uri:
            form["redirect_uri"] = self.redirect_uri
        return await self._post("token", form, http_client)

    async def refresh(
        self, refresh_token: str, *, http_client: httpx.AsyncClient | None = None
    ) -> OAuth2Tokens:
        """New tokens for a refresh token; the old pair stops working (rotation)."""
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return await self._post("refresh", form, http_client)

    async def _post(
        self,
        endpoint: str,
        form: dict[str, str],
        http_client: httpx.AsyncClient | None,
        *,
        total_timeout: float | None = TOKEN_TIMEOUT,
        max_response_size: int | None = MAX_TOKEN_RESPONSE_SIZE,
    ) -> OAuth2Tokens:
        url = f"{self.server_url.rstrip('/')}/oauth2/{endpoint}"
        data = {"client_id": self.client_id, "client_secret": self.client_secret, **form}
        secrets = (self.client_secret, *form.values())
        if http_client is None:
            async with httpx.AsyncClient(timeout=TOKEN_TIMEOUT) as http:
                return await self._exchange(
                    http, url, data, total_timeout, max_response_size, secrets
                )
        return await self._exchange(
            http_client, url, data, total_timeout, max_response_size, secrets
        )

    @staticmethod
    async def _exchange(
        http: httpx.AsyncClient,
        url: str,
        data: dict[str, str],
        total_timeout: float | None,
        max_response_size: int | None,
        secrets: tuple[str, ...],
    ) -> OAuth2Tokens:
        request = http.build_request("POST", url, data=data)
        response: httpx.Response | None = None
        try:
            with anyio.move_on_after(total_timeout):
                response = await http.send(request, stream=True, follow_redirects=False)
                if response.is_redirect:
                    raise OAuth2Error(
                        "invalid_response",
                        f"HTTP {response.status_code} redirect to "
                        f"{mask_secrets(redirect_target(response), secrets)}, not followed: "
                        f"the client secret is only sent to the token endpoint",
                    )
                try:
                    content = await read_limited(response, max_response_size)
                except AnswerTooLarge as exc:
                    raise OAuth2Error(
                        "invalid_response",
                        f"HTTP {response.status_code}, over {max_response_size} bytes",
                    ) from exc
                try:
                    body = parse_json(content)
                except ValueError as exc:
                    raise OAuth2Error(
                        "invalid_response", f"HTTP {response.status_code}, not JSON"
                    ) from exc
                return OAuth2Tokens.from_response(body, now=time.time(), secrets=secrets)
            raise OAuth2Error("transport_error", f"no answer within {total_timeout} s")
        except httpx.HTTPError as exc:
            raise OAuth2Error("transport_error", type(exc).__name__) from exc
        finally:
            if response is not None:
                with anyio.CancelScope(shield=True):
                    await response.aclose()


RefreshHook = Callable[[OAuth2Tokens], Awaitable[None] | None]


class BearerToken:
    """Signs calls for ``/api/oauth2`` with ``Authorization: Bearer <access token>``.

    Pages become ``id_project`` / ``id_task``; parameters go in a JSON body (form bodies
    are refused by ``/api/oauth2``). With ``app`` the token is refreshed on HTTP 401
    "token is expired"; ``on_refresh(tokens)`` (sync or async) is told the new tokens.
    """

    def __init__(
        self,
        tokens: OAuth2Tokens | str,
        *,
        app: OAuth2App | None = None,
        on_refresh: RefreshHook | None = None,
    ) -> None:
        if isinstance(tokens, str):
            tokens = OAuth2Tokens(access_token=tokens, refresh_token="")
        if not tokens.access_token:
            raise ValueError("the access token must not be empty")
        self._tokens = tokens
        self._app = app
        self._on_refresh = on_refresh
        self._lock = anyio.Lock()
        self.refreshes = 0

    @property
    def name(self) -> str:
        """``BearerToken``: the dialect's name in messages."""
        return "BearerToken"

    @property
    def tokens(self) -> OAuth2Tokens:
        """The tokens in use now (the refreshed ones after a refresh)."""
        return self._tokens

    @property
    def can_refresh(self) -> bool:
        """Whether an expired access token can be refreshed (an app and a refresh token)."""
        return self._app is not None and bool(self._tokens.refresh_token)

    def sign(self, call: Call, api_key: str, now: float) -> WireRequest:
        """Sign a request with the current access token (``Authorization: Bearer``)."""
        del api_key, now  # the token is the credential
        return self.sign_with(call, self._tokens.access_token)

    @staticmethod
    def sign_with(call: Call, access_token: str) -> WireRequest:
        """Sign a request with the given access token."""
        body: dict[str, JSONValue] = dict(page_ids(call.page))
        for key, value in call.params:
            if isinstance(value, str):
                body[key] = value
            elif isinstance(value, tuple):
                body[key] = list(value)
            else:
                body[key] = value.value
        return WireRequest(
            path=OAUTH_PATH,
            query=encode_pairs([("action", call.action)]),
            body=json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(),
            content_type=JSON_CONTENT_TYPE,
            headers=(("Authorization", f"Bearer {access_token}"),),
        )

    async def refresh(
        self,
        failed_token: str,
        http_client: httpx.AsyncClient,
        *,
        total_timeout: float | None = TOKEN_TIMEOUT,
    ) -> None:
        """Refresh once for everyone who failed with ``failed_token``.

        ``total_timeout`` bounds the refresh request end to end (the client passes its
        own); its answer is read up to ``MAX_TOKEN_RESPONSE_SIZE`` bytes.
        """
        if self._app is None:
            raise OAuth2Error("no_app", "BearerToken(app=...) is needed to refresh tokens")
        async with self._lock:
            if self._tokens.access_token != failed_token:
                return  # another call refreshed while we waited
            form = {"grant_type": "refresh_token", "refresh_token": self._tokens.refresh_token}
            tokens = await self._app._post(
                "refresh", form, http_client, total_timeout=total_timeout
            )
            self._tokens = tokens
            self.refreshes += 1
            if self._on_refresh is not None:
                result = self._on_refresh(tokens)
                if inspect.isawaitable(result):
                    await result

    def __repr__(self) -> str:
        return f"BearerToken(refreshable={self.can_refresh})"
