"""``FakeWorksection``: an in-memory Worksection account that answers HTTP requests.

::

    request ─► 414 if the target is over 8 kB ─► route by path
      /api/admin/v2[/]  /api/oauth2[/]        /oauth2/{authorize,token,refresh,resource}
         │ parse params (query, form, JSON, multipart)        /_fake/stats (counters)
         │ faults: latency (on the fake's clock), 5xx page, dropped connection
         │ error 1 without an action
         │ signature (PageHash / QueryHash / HmacToken) or Bearer token ─► error 2 / HTTP 401
         │ quota (token bucket on the fake's clock) ─► error 20 / HTTP 429, nothing changed
         │ action (``_actions``) ─► envelope, or the file for ``download``
         └ faults: truncated JSON; dropped connection after applying

Requests are handled one at a time inside a short critical section (a ``threading.Lock``
that is never held across an ``await``), so concurrent requests only wait for each other
while the state changes, and a fake served by uvicorn in another thread stays consistent.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from urllib.parse import unquote

import attrs

from .._clock import Clock, MonotonicClock
from .._json import JSONObject, JSONValue
from ._actions import (
    ACTION_SCOPES,
    ACTIONS,
    ADMIN_ONLY,
    DEFAULT_DIALECT,
    DIALECT_SHAPES,
    OAUTH_ONLY,
    ApiError,
    Ctx,
    Dialect,
    FileReply,
    Shape,
    check_dialect,
    check_shape,
    page_of,
)
from ._asgi import FakeASGIApp
from ._auth import check_admin_signature
from ._base import FakeBase, FakeStats
from ._faults import FaultKind, FaultPlan
from ._http import (
    MAX_URL_BYTES,
    FakeRequest,
    FakeResponse,
    file_response,
    html_page,
    json_response,
)
from ._oauth import ALL_SCOPES, OAuthApp, OAuthServer, OAuthToken
from ._params import BodyKind, Params, parse_params
from ._populate import populate
from ._quota import (
    DEFAULT_QUOTA_STYLE,
    QuotaStyle,
    RateQuota,
    TokenBucket,
    check_quota_style,
    parse_quota,
    quota_answer,
)
from ._records import ROLE_STYLES, RoleStyle
from ._render import render_file
from ._transport import FakeTransport
from ._values import MemberRef
from ._webhooks import WebhookDelivery

__all__ = [
    "DEFAULT_ACCOUNT_URL",
    "DEFAULT_API_KEY",
    "DEFAULT_HMAC_SKEW",
    "FakeWorksection",
]

DEFAULT_API_KEY = "fake-api-key"
DEFAULT_ACCOUNT_URL = "https://fake.worksection.com"
SCOPE_ERROR = (0, "Access denied")
"""How an OAuth2 call outside its token's scopes is answered (``message_details``: the
scope needed, ``ACTION_SCOPES``). The service's answer is undocumented: this is the
fake's choice, an error envelope with HTTP 200 like every other refusal of an action."""
FORM_BODY_ERROR = (10, "Invalid JSON")
"""How ``/api/oauth2`` answers a form-encoded body: a live probe (pbv7/wsectl) got an
"invalid JSON" error; its code and exact text are the fake's choice. Parameters go in
the query string or a JSON body (multipart for uploads)."""
DEFAULT_HMAC_SKEW = 300.0
"""Seconds an ``Authorization: Admin <t>_...`` timestamp may differ from the wall clock."""

ADMIN_PATHS = frozenset({"/api/admin/v2", "/api/admin/v2/"})
OAUTH_API_PATHS = frozenset({"/api/oauth2", "/api/oauth2/"})
OAUTH_PREFIX = "/oauth2/"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
"""Where ``check_webhooks_over_http`` may connect without being told."""
STATS_PATH = "/_fake/stats"
QUOTA_PATH = "/_fake/quota"

logger = logging.getLogger("worksection_async.testing")


def _accept_any_url(url: str) -> bool:
    return True


class FakeWorksection(FakeBase):
    """A fake Worksection account: state, the 63 actions, signatures, quota and faults.

    ``api_key`` is the admin key requests must be signed with; ``quota`` (``None``: no
    limit) is a ``RateQuota`` or text like ``"1/s"``, counted on ``clock`` (give a
    ``ManualClock`` in tests; the default is the real monotonic clock); ``wall_clock``
    dates records and checks HMAC timestamps (``hmac_skew`` seconds either way);
    ``seed`` seeds the probabilistic faults; ``webhook_check(url)`` decides whether
    ``add_webhook`` sees the URL answer (in-process the fake connects to nothing unless
    told: ``webhook_delivery``; ``check_webhooks_over_http`` does what ``serve`` does,
    a real check of loopback URLs, error 11 for any other host not named).

    Where the official sources disagree, choose:

    * ``quota_style``, how a request over the quota is answered: ``"code20"`` (default,
      the base document: HTTP 200, error 20 "Quota exceeded"), ``"too_many_requests"``
      (the current docs' wording: HTTP 200, error 20 "Too many requests") or
      ``"http429"`` (HTTP 429 with ``Retry-After``, what community clients wait for);
    * ``dialect``, the shapes of ``me`` and ``get_my_timer``: ``"sdk-2026"`` (default,
      what the newest official client reads: ``me`` an object in ``data``,
      ``get_my_timer`` a one-element list), ``"postman"`` (both objects) or ``"ru-docs"``
      (both one-element lists); ``set_shape(action, "object" | "list")`` sets one alone;
    * ``role_style``, how roles are spelled: ``"docs"`` (default, ``owner``, as the
      documentation and the official 2026 SDKs) or ``"postman"`` (``Owner``).

    OAuth2: register apps with ``add_oauth_app`` (``serve --oauth-client ID:SECRET``
    with ``--oauth-redirect-uri``, or the pair ``serve`` generates and prints);
    ``/oauth2/authorize``, ``token``, ``refresh`` and ``resource`` then work over HTTP,
    and ``issue_token`` skips the login in tests. ``authorize`` redirects to an HTTPS
    URI registered for the app only (the docs; loopback ``http://`` too is refused). A
    token acts as its user within its scopes (``ACTION_SCOPES``: ``tasks_read`` reads
    tasks, ``tasks_write`` changes them, ``get_webhooks`` needs ``administrative``...);
    outside them the call is ``SCOPE_ERROR``, error 0 "Access denied" naming the scope
    (the service's answer is undocumented: the fake's choice). ``/api/oauth2`` reads the
    query string and JSON (or multipart) bodies; a form body is ``FORM_BODY_ERROR``,
    error 10 "Invalid JSON" (a live probe saw "invalid JSON"; code and text are the
    fake's choice).

    Held to the documented formats (error 10 naming the field, nothing changed):
    request dates are ``DD.MM.YYYY`` only (ISO ``2025-06-30`` is refused; in ``filter``
    literals too; ``update_users_schedule`` takes both, as documented); flags
    (``is_timer``, ``is_rate``, ``client``, ``options.*``) are ``1``/``0``;
    ``filter``, ``status``, ``type``, ``access`` and ``role`` take their documented
    values (``status=active`` is ``filter=active`` on the task lists, as in older docs);
    the ``filter`` grammar is the documented one (lowercase ``and``/``or``, values in
    single quotes); a task listing over 10,000 records is "Too many tasks (10000 max)".
    A ``page`` of the wrong kind is an error: a task link to a project action is
    3 "Page is invalid", a project link to a task action 8 "Task is required"; a subtask
    is linked below its top-level task (``/project/P/T/S/``), never as ``/project/P/S/``
    (5). Unknown parameters are ignored, as the service does. ``hash`` may stand
    anywhere in a ``QueryHash`` query; the other pairs are signed as sent. The task
    lists' ``filter`` takes ``active`` (documented), ``all`` and ``done`` (pbv7 saw the
    live service take both; it warns ``done`` may come back incomplete, the fake lists
    every closed task).

    Known leniencies (the live service may refuse what the fake accepts):

    * every signing dialect is accepted on both admin paths, and an HMAC timestamp
      within ``hmac_skew`` (300 s) of the wall clock; the real skew is unknown;
    * a ``QueryHash`` may be computed over the encoded query as sent (the PHP SDK 3.3)
      or over the same pairs unencoded (the official Postman pre-request script and
      three community clients): official sources disagree, both are accepted;
    * the per-action scope mapping is the fake's reading of the scope names (only
      ``get_webhooks`` -> ``administrative`` is documented); a user's own rights inside
      the scopes (a guest's, a reader's) are not modelled;
    * ``authorize`` approves at once, as ``oauth.login_user`` (default the owner), and
      an app registered in a test without a redirect URI (``add_oauth_app()``; not
      ``serve --oauth-client``, which is strict) redirects to any HTTPS URI;
    * in-process (not under ``serve``), ``add_webhook`` takes any ``http(s)`` URL unless
      ``webhook_check``/``webhook_delivery`` says otherwise;
    * an id that is not a number is answered like an unknown id (4, 5, "Timer not
      found"...), not as a type error;
    * unknown ``extra`` values are ignored (a community client reports ``extra=tags``
      passes); ``filter=archived`` is read as ``archive`` (the docs' text says both);
    * ``add_user``'s ``group``, ``add_contact``'s ``group`` and ``post_project``'s
      ``company`` create a team or folder they do not find;
    * ``complete_task``/``reopen_task`` take subtask links (the page era had
      ``complete_subtask``/``reopen_subtask`` for them);
    * ``add_costs`` with the admin key and no ``email_user_from`` books the owner (the
      docs call it required; the official example succeeds without it);
    * one quota for the whole account: every key, token and client address shares it.
    """

    def __init__(
        self,
        api_key: str = DEFAULT_API_KEY,
        *,
        account_url: str = DEFAULT_ACCOUNT_URL,
        quota: str | RateQuota | None = None,
        clock: Clock | None = None,
        wall_clock: Callable[[], float] = time.time,
        seed: int = 0,
        hmac_skew: float = DEFAULT_HMAC_SKEW,
        webhook_check: Callable[[str], bool] = _accept_any_url,
        quota_style: QuotaStyle = DEFAULT_QUOTA_STYLE,
        dialect: Dialect = DEFAULT_DIALECT,
        role_style: RoleStyle = "docs",
    ) -> None:
        super().__init__(account_url=account_url, wall_clock=wall_clock)
        if not api_key:
            raise ValueError("api_key must not be empty")
        self.api_key = api_key
        self.clock: Clock = clock if clock is not None else MonotonicClock()
        self.seed = seed
        self.hmac_skew = float(hmac_skew)
        self.webhook_check = webhook_check
        self.quota_style = quota_style
        self.shapes: dict[str, Shape] = {}
        """``me``/``get_my_timer`` -> ``"object"`` or ``"list"`` (set by ``dialect``)."""
        self.dialect = dialect
        self.role_style = check_role_style(role_style)
        self.stats = FakeStats()
        self.faults = FaultPlan(seed)
        self.oauth = OAuthServer(self)
        self.internal_errors: list[Exception] = []
        """Exceptions the fake raised itself (answered as HTTP 500); tests assert it stays empty."""
        self._quota: RateQuota | None = None
        self._bucket: TokenBucket | None = None
        self._lock = threading.Lock()
        self._transport: FakeTransport | None = None
        self._asgi: FakeASGIApp | None = None
        self.set_quota(quota)

    @classmethod
    def populated(
        cls,
        projects: int = 20,
        tasks_per_project: int = 100,
        seed: int = 1,
        **kwargs: object,
    ) -> FakeWorksection:
        """A realistic, reproducible account (see ``populate``); ``kwargs`` go to ``__init__``."""
        fake = cls(seed=seed, **kwargs)  # type: ignore[arg-type]
        populate(fake, projects=projects, tasks_per_project=tasks_per_project, seed=seed)
        return fake

    def __repr__(self) -> str:
        return (
            f"FakeWorksection(account_url={self.account_url!r}, quota={self._quota}, "
            f"projects={len(self.projects)}, tasks={len(self.tasks)})"
        )

    # ── configuration ────────────────────────────────────────────────────────

    @property
    def quota(self) -> RateQuota | None:
        """The account's quota (``None``: unlimited)."""
        return self._quota

    def set_quota(self, quota: str | RateQuota | None) -> None:
        """Change the quota (``None``: unlimited); the bucket starts full again."""
        parsed = parse_quota(quota)
        self._quota = parsed
        self._bucket = TokenBucket(parsed) if parsed is not None else None

    @property
    def quota_style(self) -> QuotaStyle:
        """How a request over the quota is answered (``QUOTA_STYLES``); settable."""
        return self._quota_style

    @quota_style.setter
    def quota_style(self, style: QuotaStyle) -> None:
        self._quota_style = check_quota_style(style)

    @property
    def dialect(self) -> Dialect:
        """The dialect last set (``DIALECTS``); setting it sets both ``shapes``."""
        return self._dialect

    @dialect.setter
    def dialect(self, dialect: Dialect) -> None:
        self._dialect = check_dialect(dialect)
        self.shapes = dict(DIALECT_SHAPES[self._dialect])

    def set_shape(self, action: str, shape: Shape) -> None:
        """Answer ``action`` (``me`` or ``get_my_timer``) with an object or a one-element
        list, whatever the dialect says."""
        self.shapes[action] = check_shape(action, shape)

    def quota_tokens(self) -> float | None:
        """Requests the quota would let through right now (``None``: unlimited)."""
        if self._bucket is None:
            return None
        with self._lock:
            return self._bucket.tokens(self.clock.now())

    # ── OAuth helpers ────────────────────────────────────────────────────────

    def add_oauth_app(
        self,
        client_id: str | None = None,
        client_secret: str | None = None,
        *,
        redirect_uri: str | Sequence[str] | None = None,
        strict: bool = False,
    ) -> OAuthApp:
        """Register an OAuth2 app (random credentials unless given).

        ``authorize`` redirects to HTTPS URIs only, and to one of ``redirect_uri`` (one
        or several) when given; with none given, to any (``strict``: to none).
        """
        return self.oauth.add_app(
            client_id, client_secret, redirect_uri=redirect_uri, strict=strict
        )

    def issue_token(
        self,
        user: MemberRef | None = None,
        *,
        scopes: tuple[str, ...] = ALL_SCOPES,
    ) -> OAuthToken:
        """An OAuth2 access token for ``user`` (default the owner) for ``/api/oauth2``."""
        return self.oauth.issue_token(user, scopes=scopes)

    def expire_token(self, token: OAuthToken | str) -> None:
        """Expire an access token now (API calls get HTTP 401 "Access token is expired")."""
        self.oauth.expire(token)

    # ── the two ways in ──────────────────────────────────────────────────────

    @property
    def transport(self) -> FakeTransport:
        """An ``httpx.AsyncBaseTransport`` answering in-process, without sockets."""
        if self._transport is None:
            self._transport = FakeTransport(self)
        return self._transport

    @property
    def asgi_app(self) -> FakeASGIApp:
        """An ASGI 3 application (serve it with uvicorn: ``python -m ... serve``)."""
        if self._asgi is None:
            self._asgi = FakeASGIApp(self)
        return self._asgi

    _webhook_delivery: WebhookDelivery | None = None

    @property
    def webhook_delivery(self) -> WebhookDelivery:
        """Where webhooks are delivered: ``route(url, asgi_app)``, ``allow_http(url)``.

        Until one is set, the fake delivers nothing and checks no URL (``_webhooks``).
        """
        if self._webhook_delivery is None:
            self._webhook_delivery = WebhookDelivery(self)
        return self._webhook_delivery

    def check_webhooks_over_http(self, hosts: Iterable[str] = ()) -> None:
        """Check ``add_webhook`` URLs as the service does, over real HTTP (``serve`` does this).

        A new hook's URL must answer HTTP 200 with ``{"status":"OK"}``, else error 11;
        hooks that pass get their deliveries. Only loopback addresses (``127.0.0.1``,
        ``localhost``, ``[::1]``) and the ``hosts`` named here are ever contacted: a
        URL on any other host is refused with error 11 at once, without a request.
        """
        names = [*LOOPBACK_HOSTS, *(h.strip().lower() for h in hosts if h.strip())]
        for name in names:
            shown = f"[{name}]" if ":" in name and not name.startswith("[") else name
            for scheme in ("http", "https"):
                for end in (":", "/"):
                    self.webhook_delivery.allow_http(f"{scheme}://{shown}{end}")
        delivery = self.webhook_delivery
        self.webhook_check = lambda url: delivery.target(url) == "http"

    @contextmanager
    def serve_in_thread(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
        """Serve ``asgi_app`` with uvicorn in a background thread; yields the base URL.

        Needs the ``server`` extra (uvicorn). ``port=0`` picks a free port. While it
        serves, ``account_url`` is the served URL (avatars and the OAuth2
        ``account_url`` link there); it is restored afterwards.
        """
        import uvicorn

        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
        bound_port = sock.getsockname()[1]
        shown = f"[{host}]" if ":" in host else host
        url = f"http://{shown}:{bound_port}"
        previous_url, self.account_url = self.account_url, url
        config = uvicorn.Config(
            self.asgi_app,
            log_level="warning",
            access_log=False,
            lifespan="on",
            h11_max_incomplete_event_size=1 << 20,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="fake-worksection", daemon=True
        )
        thread.start()
        try:
            deadline = time.monotonic() + 10.0
            while not server.started:
                if not thread.is_alive() or time.monotonic() > deadline:
                    raise RuntimeError("uvicorn did not start")
                time.sleep(0.005)
            yield url
        finally:
            server.should_exit = True
            thread.join(timeout=10.0)
            sock.close()
            self.account_url = previous_url

    # ── direct calls (no HTTP, no signature, no quota, not counted) ──────────

    def call(
        self,
        action: str,
        *,
        page: str | None = None,
        as_user: MemberRef | None = None,
        **params: JSONValue,
    ) -> JSONObject:
        """Run an action directly and return its envelope (``download``: the file's entry).

        For seeding through the real actions (events are recorded as for a request)
        and for inspecting answers; ``as_user`` acts as that member, as an OAuth2 token
        of theirs would (needed for ``me`` and the ``*_my_timer`` actions).
        """
        handler = ACTIONS.get(action)
        if handler is None:
            raise ValueError(f"unknown action {action!r}")
        parsed = Params()
        for key, value in params.items():
            parsed.add(key, value)
        if page is not None:
            parsed.add("page", page)
        with self._lock:
            user = self.member(as_user) if as_user is not None else self.owner
            try:
                ctx = self._context(action, parsed, user, oauth=as_user is not None)
                reply = handler(ctx)
            except ApiError as error:
                return error.envelope()
        if isinstance(reply, FileReply):
            return {"status": "ok", "data": render_file(self, reply.file)}
        return reply

    def _context(self, action: str, params: Params, user: MemberRef, *, oauth: bool) -> Ctx:
        ctx = Ctx(
            account=self,
            params=params,
            user=self.member(user),
            oauth=oauth,
            webhook_check=self.webhook_check,
            action=action,
            shapes=self.shapes,
        )
        page = params.filled("page")
        if page is not None:
            ctx.page_project, ctx.page_task, ctx.page_file_id = page_of(self, action, page)
        return ctx

    # ── HTTP ─────────────────────────────────────────────────────────────────

    async def handle(self, request: FakeRequest) -> FakeResponse:
        """Answer one HTTP request (the transport and the ASGI app both come here).

        ``GET /_fake/stats`` answers the counters as JSON and is not counted itself;
        ``PUT /_fake/quota`` with a quota as its body (``4/s``, ``none``) changes the
        quota of a served fake from another process, as ``set_quota`` does.
        """
        if request.raw_path == QUOTA_PATH.encode() and request.method == "PUT":
            return self._put_quota(request.body)
        if request.raw_path == STATS_PATH.encode():
            with self._lock:
                stats = self.stats.as_dict()
            stats["quota"] = str(self._quota) if self._quota is not None else None
            stats["quota_style"] = self._quota_style
            return json_response(stats)
        with self._lock:
            self.stats.requests += 1
            self.stats.in_flight += 1
            self.stats.max_in_flight = max(self.stats.max_in_flight, self.stats.in_flight)
        try:
            return await self._route(request)
        except Exception as exc:  # a bug in the fake: never a traceback on the wire
            logger.exception("FakeWorksection failed on %s %r", request.method, request.raw_path)
            self.internal_errors.append(exc)
            return html_page(500)
        finally:
            with self._lock:
                self.stats.in_flight -= 1

    def _put_quota(self, body: bytes) -> FakeResponse:
        text = body.decode("utf-8", "replace").strip()
        try:
            self.set_quota(None if text.lower() in ("", "none") else text)
        except ValueError as exc:
            return json_response({"status": "error", "message": str(exc)}, status=400)
        return json_response({"status": "ok", "quota": str(self._quota) if self._quota else None})

    async def _route(self, request: FakeRequest) -> FakeResponse:
        if len(request.target) > MAX_URL_BYTES:
            return html_page(414)
        path = unquote(request.raw_path.decode("latin-1"))
        if path in ADMIN_PATHS or path in OAUTH_API_PATHS:
            return await self._api(request, oauth=path in OAUTH_API_PATHS)
        if path.startswith(OAUTH_PREFIX):
            params, _ = self._parse(request)
            with self._lock:
                return self.oauth.handle(path[len(OAUTH_PREFIX) :].strip("/"), params)
        return html_page(404)

    def _parse(self, request: FakeRequest) -> tuple[Params, BodyKind]:
        return parse_params(
            request.raw_query.decode("latin-1"),
            request.header("content-type") or "",
            request.body,
        )

    async def _api(self, request: FakeRequest, *, oauth: bool) -> FakeResponse:
        params, body_kind = self._parse(request)
        action = params.filled("action") or ""
        decision = self.faults.decide(action)
        if decision.delay > 0:
            await self.clock.sleep(decision.delay)
        failure = decision.failure
        if failure is not None and not failure.applies:
            with self._lock:
                self.stats.faults += 1
            if failure.kind is FaultKind.DROP_CONNECTION:
                return FakeResponse(0, drop=True)
            return html_page(failure.status)
        with self._lock:
            response = self._dispatch(request, params, body_kind, action, oauth=oauth)
            if failure is not None:  # applied, then the connection drops
                self.stats.faults += 1
                response = FakeResponse(0, drop=True)
        if self._webhook_delivery is not None:  # what was applied is delivered, dropped or not
            response = await self._webhook_delivery.after_request(action, response)
        if decision.truncate and response.is_json:
            body = response.body[: max(1, len(response.body) // 2)]
            response = attrs.evolve(response, body=body)
        return response

    def _error(self, error: ApiError) -> FakeResponse:
        self.stats.errors[error.code] += 1
        return json_response(error.envelope())

    def _dispatch(
        self,
        request: FakeRequest,
        params: Params,
        body_kind: BodyKind,
        action: str,
        *,
        oauth: bool,
    ) -> FakeResponse:
        """Authenticate, charge the quota and run the action (under the lock)."""
        if not action:
            return self._error(ApiError(1, "Action is required"))
        scopes: tuple[str, ...] = ()
        if oauth:
            token = _bearer(request, params)
            found = self.oauth.user_for(token) if token else "Access token is missing"
            if isinstance(found, str):
                self.stats.rejected_auth += 1
                return json_response(
                    {"error": "invalid_token", "errorDescription": found, "message": found}, 401
                )
            user = found
            scopes = self.oauth.tokens[token].scopes
            if body_kind == "form":
                return self._error(ApiError(*FORM_BODY_ERROR))
        else:
            dialect = check_admin_signature(
                api_key=self.api_key,
                action=action,
                params=params,
                raw_query=request.raw_query,
                raw_body=request.body,
                body_kind=body_kind,
                authorization=request.header("authorization"),
                now=self.wall_time(),
                skew=self.hmac_skew,
            )
            if dialect is None:
                self.stats.rejected_auth += 1
                return self._error(ApiError(2, "Action hash is missed or invalid"))
            user = self.owner
        if self._bucket is not None and not self._bucket.take(self.clock.now()):
            self.stats.rejected_quota += 1
            self.stats.rejected_by_action[action] += 1
            code, answer = quota_answer(
                self._quota_style, self._bucket.retry_after(self.clock.now())
            )
            self.stats.errors[code] += 1
            return answer
        self.stats.served += 1
        self.stats.by_action[action] += 1
        handler = ACTIONS.get(action)
        try:
            if handler is None:
                raise ApiError(0, "Action is invalid")
            if oauth and action in ADMIN_ONLY:
                raise ApiError(0, "Action is invalid", "admin API key only")
            if not oauth and action in OAUTH_ONLY:
                raise ApiError(0, "Action is invalid", "OAuth2 access token only")
            scope = ACTION_SCOPES.get(action)
            if oauth and scope is not None and scope not in scopes:
                raise ApiError(*SCOPE_ERROR, scope)
            reply = handler(self._context(action, params, user, oauth=oauth))
        except ApiError as error:
            return self._error(error)
        if isinstance(reply, FileReply):
            return file_response(reply.file.name, reply.file.content)
        return json_response(reply)


def check_role_style(style: str) -> RoleStyle:
    """``style`` if it is one of ``ROLE_STYLES``, else ``ValueError``."""
    for known in ROLE_STYLES:
        if style == known:
            return known
    raise ValueError(f"role_style must be one of {', '.join(ROLE_STYLES)}; got {style!r}")


def _bearer(request: FakeRequest, params: Params) -> str:
    header = request.header("authorization") or ""
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return params.filled("access_token") or ""
