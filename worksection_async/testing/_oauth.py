"""The OAuth2 server of the fake (``/oauth2/authorize``, ``token``, ``refresh``, ``resource``).

It issues JWT-shaped access tokens (not signed: nothing checks them but the fake), rotates
refresh tokens on refresh (the old pair stops working), and tells an API request with an
expired access token so (HTTP 401, "Access token is expired"). Errors have the service's
shape, ``{"error": ..., "errorDescription": ...}``, with HTTP 200 as in the official
examples. ``authorize`` approves at once, as ``login_user`` (the owner by default), and
redirects to ``redirect_uri`` with ``code`` and ``state``.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterable, Sequence
from urllib.parse import urlencode, urlsplit

import attrs

from .._json import JSONObject
from ._http import FakeResponse, json_response
from ._params import Params
from ._records import Member
from ._state import Account
from ._values import MemberRef

__all__ = ["ALL_SCOPES", "OAuthApp", "OAuthServer", "OAuthToken"]

ALL_SCOPES = (
    "projects_read",
    "projects_write",
    "tasks_read",
    "tasks_write",
    "costs_read",
    "costs_write",
    "tags_read",
    "tags_write",
    "comments_read",
    "comments_write",
    "files_read",
    "files_write",
    "users_read",
    "users_write",
    "contacts_read",
    "contacts_write",
    "administrative",
)
ACCESS_TOKEN_LIFETIME = 86_400.0
"""24 hours."""
REFRESH_TOKEN_LIFETIME = 30 * 86_400.0
"""A month."""
CODE_LIFETIME = 600.0
"""Ten minutes."""

_CLIENT_FAILED = ("invalid_client", "Client authentication failed")


@attrs.define(eq=False)
class OAuthApp:
    """A registered OAuth2 application.

    ``authorize`` takes an HTTPS ``redirect_uri`` only (the documentation requires it;
    loopback ``http://`` included), and only one of ``redirect_uris`` when any is
    registered. With none registered, ``strict`` (as ``serve --oauth-client`` registers
    apps) refuses every ``redirect_uri``; otherwise (``add_oauth_app`` in tests, a
    documented leniency) any HTTPS URI is taken.
    """

    client_id: str
    client_secret: str = attrs.field(repr=False)
    redirect_uri: str | None = None
    """The first registered redirect URI (``None``: none)."""
    redirect_uris: tuple[str, ...] = ()
    """Every registered redirect URI."""
    strict: bool = False

    def redirect_ok(self, uri: str) -> bool:
        """Whether ``authorize`` may redirect to ``uri`` for this app."""
        if urlsplit(uri).scheme != "https" or not urlsplit(uri).netloc:
            return False
        if self.redirect_uris:
            return uri in self.redirect_uris
        return not self.strict


@attrs.define(eq=False)
class OAuthToken:
    """An issued access token and its refresh token (``revoked`` once rotated)."""

    access_token: str = attrs.field(repr=False)
    refresh_token: str = attrs.field(repr=False)
    user_id: int
    client_id: str
    scopes: tuple[str, ...]
    expires_at: float
    refresh_expires_at: float
    revoked: bool = False

    def as_json(self, account_url: str | None) -> JSONObject:
        """The token as the token endpoint answers it."""
        out: JSONObject = {
            "token_type": "Bearer",
            "expires_in": int(ACCESS_TOKEN_LIFETIME),
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
        }
        if account_url is not None:
            out["account_url"] = account_url
        return out


@attrs.define(eq=False)
class _Code:
    client_id: str
    user_id: int
    redirect_uri: str
    scopes: tuple[str, ...]
    expires_at: float
    used: bool = False


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _error(error: str, description: str) -> FakeResponse:
    return json_response({"error": error, "errorDescription": description})


class OAuthServer:
    """Apps, codes and tokens of one fake account."""

    def __init__(self, account: Account) -> None:
        self._account = account
        self.apps: dict[str, OAuthApp] = {}
        self.tokens: dict[str, OAuthToken] = {}
        """Access token -> token."""
        self._refresh: dict[str, OAuthToken] = {}
        self._codes: dict[str, _Code] = {}
        self.login_user: Member | None = None
        """Who approves ``/oauth2/authorize`` (``None``: the account owner)."""

    # ── for tests ────────────────────────────────────────────────────────────

    def add_app(
        self,
        client_id: str | None = None,
        client_secret: str | None = None,
        *,
        redirect_uri: str | Sequence[str] | None = None,
        strict: bool = False,
    ) -> OAuthApp:
        """Register an app (random credentials unless given) with its redirect URIs."""
        uris = (redirect_uri,) if isinstance(redirect_uri, str) else tuple(redirect_uri or ())
        app = OAuthApp(
            client_id or secrets.token_hex(16),
            client_secret or secrets.token_hex(32),
            uris[0] if uris else None,
            uris,
            strict,
        )
        self.apps[app.client_id] = app
        return app

    def issue_token(
        self,
        user: MemberRef | None = None,
        *,
        client_id: str | None = None,
        scopes: Iterable[str] = ALL_SCOPES,
    ) -> OAuthToken:
        """Issue an access token for ``user`` (default the owner), as if after a login."""
        member = self._account.member(user) if user is not None else self._account.owner
        if client_id is None:
            client_id = next(iter(self.apps), None) or self.add_app().client_id
        return self._new_token(member.id, client_id, tuple(scopes))

    def expire(self, token: OAuthToken | str) -> None:
        """Make an access token expired now (its refresh token still works)."""
        found = token if isinstance(token, OAuthToken) else self.tokens.get(token)
        if found is None:
            raise ValueError("unknown access token")
        found.expires_at = self._account.wall_time() - 1

    def _new_token(self, user_id: int, client_id: str, scopes: tuple[str, ...]) -> OAuthToken:
        now = self._account.wall_time()
        header = _b64(json.dumps({"typ": "JWT", "alg": "RS256"}).encode())
        payload = _b64(
            json.dumps(
                {
                    "aud": client_id,
                    "jti": secrets.token_hex(40),
                    "iat": int(now),
                    "nbf": int(now),
                    "exp": int(now + ACCESS_TOKEN_LIFETIME),
                    "sub": str(user_id),
                    "scopes": list(scopes),
                }
            ).encode()
        )
        token = OAuthToken(
            access_token=f"{header}.{payload}.{_b64(secrets.token_bytes(256))}",
            refresh_token="def50200" + secrets.token_hex(300),
            user_id=user_id,
            client_id=client_id,
            scopes=scopes,
            expires_at=now + ACCESS_TOKEN_LIFETIME,
            refresh_expires_at=now + REFRESH_TOKEN_LIFETIME,
        )
        self.tokens[token.access_token] = token
        self._refresh[token.refresh_token] = token
        return token

    # ── API requests ─────────────────────────────────────────────────────────

    def user_for(self, access_token: str) -> Member | str:
        """The token's member, or why the token is refused."""
        token = self.tokens.get(access_token)
        if token is None or token.revoked or token.user_id not in self._account.users:
            return "Access token is invalid"
        if self._account.wall_time() >= token.expires_at:
            return "Access token is expired"
        return self._account.users[token.user_id]

    # ── endpoints ────────────────────────────────────────────────────────────

    def handle(self, endpoint: str, params: Params) -> FakeResponse:
        if endpoint == "authorize":
            return self._authorize(params)
        if endpoint == "token":
            return self._token(params)
        if endpoint == "refresh":
            return self._refresh_token(params)
        if endpoint == "resource":
            return self._resource(params)
        return _error("invalid_request", f"Unknown endpoint: {endpoint}")

    def _client(self, params: Params, *, secret: bool = True) -> OAuthApp | None:
        app = self.apps.get(params.filled("client_id") or "")
        if app is None:
            return None
        if secret and not secrets.compare_digest(
            (params.text("client_secret") or "").encode(), app.client_secret.encode()
        ):
            return None
        return app

    def _authorize(self, params: Params) -> FakeResponse:
        app = self._client(params, secret=False)
        if app is None:
            return _error(*_CLIENT_FAILED)
        redirect = params.filled("redirect_uri") or app.redirect_uri
        if redirect is None or not app.redirect_ok(redirect):
            return _error("invalid_client", "Redirect URI is invalid")
        if (params.filled("response_type") or "") != "code":
            return _error(
                "unsupported_response_type",
                "The authorization server does not support obtaining an authorization code "
                "using this method.",
            )
        raw_scopes = (params.text("scope") or "").replace(" ", ",")
        scopes = tuple(s for s in raw_scopes.split(",") if s in ALL_SCOPES) or ALL_SCOPES
        user = self.login_user or self._account.owner
        code = "def50200" + secrets.token_hex(200)
        self._codes[code] = _Code(
            app.client_id,
            user.id,
            redirect,
            scopes,
            self._account.wall_time() + CODE_LIFETIME,
        )
        query = {"code": code}
        state = params.text("state")
        if state is not None:
            query["state"] = state
        location = redirect + ("&" if "?" in redirect else "?") + urlencode(query)
        return FakeResponse(302, (("location", location), ("content-length", "0")), b"")

    def _token(self, params: Params) -> FakeResponse:
        if (params.filled("grant_type") or "") != "authorization_code":
            return _error(
                "unsupported_grant_type",
                "The authorization grant type is not supported by the authorization server.",
            )
        app = self._client(params)
        if app is None:
            return _error(*_CLIENT_FAILED)
        code_text = params.filled("code")
        if code_text is None:
            return _error(
                "invalid_request",
                'The request is missing a required parameter. Check the "code" parameter.',
            )
        code = self._codes.get(code_text)
        if code is None or code.client_id != app.client_id:
            return _error("invalid_request", "Cannot decrypt the authorization code")
        if code.used:
            return _error("invalid_request", "Authorization code has been revoked")
        if self._account.wall_time() >= code.expires_at:
            return _error("invalid_request", "Authorization code has expired")
        code.used = True
        token = self._new_token(code.user_id, app.client_id, code.scopes)
        return json_response(token.as_json(self._account.account_url))

    def _refresh_token(self, params: Params) -> FakeResponse:
        if (params.filled("grant_type") or "") != "refresh_token":
            return _error(
                "unsupported_grant_type",
                "The authorization grant type is not supported by the authorization server.",
            )
        app = self._client(params)
        if app is None:
            return _error(*_CLIENT_FAILED)
        old = self._refresh.get(params.filled("refresh_token") or "")
        if old is None or old.client_id != app.client_id:
            return _error("invalid_request", "Cannot decrypt the refresh token")
        if old.revoked:
            return _error("invalid_request", "Token has been revoked")
        if self._account.wall_time() >= old.refresh_expires_at:
            return _error("invalid_request", "Token has expired")
        old.revoked = True
        token = self._new_token(old.user_id, old.client_id, old.scopes)
        return json_response(token.as_json(None))

    def _resource(self, params: Params) -> FakeResponse:
        app = self._client(params)
        if app is None:
            return _error(*_CLIENT_FAILED)
        found = self.user_for(params.filled("access_token") or "")
        if isinstance(found, str):
            return _error("not_authorized", found)
        return json_response(
            {
                "id": str(found.id),
                "first_name": found.first_name,
                "last_name": found.last_name,
                "email": found.email,
                "account_url": self._account.account_url,
            }
        )
