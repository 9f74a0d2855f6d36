"""``python -m worksection_async.testing``: run the fake Worksection.

::

    python -m worksection_async.testing serve --port 8080 --api-key KEY --quota 1/s \\
        --quota-style http429 --oauth-client my-app:my-secret \\
        --oauth-redirect-uri https://my.app/cb --populate 20x100

``serve`` needs the ``server`` extra (uvicorn). It prints the URL, the API key and the
OAuth2 app (``--oauth-client ID:SECRET``, or a generated pair) to use, then serves until
interrupted; links in its answers (avatars, the OAuth2 ``account_url``) use the address
it serves, or ``--public-url``. ``add_webhook`` checks hook URLs over HTTP on loopback
addresses only, plus hosts named with ``--allow-webhook-host``. Counters are at
``GET <url>/_fake/stats``.
"""

from __future__ import annotations

import argparse
import re
import secrets
import socket
import sys
from collections.abc import Sequence
from typing import get_args
from urllib.parse import urlsplit

from ..resources._render import WebhookEvent
from ._actions import DEFAULT_DIALECT, DIALECTS, Shape, check_shape
from ._quota import DEFAULT_QUOTA_STYLE, QUOTA_STYLES, RateQuota, parse_quota
from ._records import ROLE_STYLES
from ._server import DEFAULT_ACCOUNT_URL, DEFAULT_HMAC_SKEW, FakeWorksection

__all__ = ["main"]

_POPULATE = re.compile(r"(\d+)x(\d+)")
_ALL_EVENTS = get_args(WebhookEvent)


def _populate_spec(text: str) -> tuple[int, int]:
    match = _POPULATE.fullmatch(text.strip().lower())
    if match is None:
        raise argparse.ArgumentTypeError(f"expected PROJECTSxTASKS like 20x100, got {text!r}")
    return int(match.group(1)), int(match.group(2))


def _quota_spec(text: str) -> RateQuota | None:
    if text.strip().lower() in ("", "0", "off", "none", "unlimited"):
        return None
    try:
        return parse_quota(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _shape_spec(text: str) -> tuple[str, Shape]:
    action, _, shape = text.partition("=")
    try:
        return action.strip(), check_shape(action.strip(), shape.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _redirect_spec(text: str) -> str:
    parts = urlsplit(text.strip())
    if parts.scheme != "https" or not parts.netloc:
        raise argparse.ArgumentTypeError(f"a redirect URI must be https://..., got {text!r}")
    return text.strip()


def _oauth_client_spec(text: str) -> tuple[str, str]:
    client_id, sep, secret = text.partition(":")
    if not sep or not client_id.strip() or not secret.strip():
        raise argparse.ArgumentTypeError(f"expected CLIENT_ID:SECRET, got {text!r}")
    return client_id.strip(), secret.strip()


def _public_url_spec(text: str) -> str:
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise argparse.ArgumentTypeError(f"expected a URL like https://ws.test, got {text!r}")
    if parts.path not in ("", "/"):
        raise argparse.ArgumentTypeError(f"the public URL takes no path, got {text!r}")
    return f"{parts.scheme}://{parts.netloc}"


def _webhook_spec(text: str) -> tuple[str, str, str]:
    url, _, auth = text.partition(",")
    url = url.strip()
    if not re.match(r"https?://[^/\s]+", url):
        raise argparse.ArgumentTypeError(f"expected an http(s) URL, got {url!r}")
    user, password = "", ""
    if auth:
        user, sep, password = auth.partition(":")
        if not sep or not user or not password:
            raise argparse.ArgumentTypeError("expected URL,USER:PASS (both non-empty)")
    return url, user, password


def build_parser(prog: str = "python -m worksection_async.testing") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="A fake Worksection account for tests, demos and benchmarks.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="serve a FakeWorksection over HTTP (uvicorn)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port (8080; 0 picks a free one)")
    serve.add_argument(
        "--public-url",
        type=_public_url_spec,
        default=None,
        metavar="URL",
        help="the address clients reach the fake at, written into links (avatars, the OAuth2 "
        "account_url); default http://HOST:PORT (needed with --host 0.0.0.0)",
    )
    serve.add_argument("--api-key", default=None, help="admin API key (random if not given)")
    serve.add_argument(
        "--quota",
        type=_quota_spec,
        default=RateQuota(),
        help="request quota like 1/s, 20/s, 30/m or 10/s,burst=5; 'off' for none (1/s)",
    )
    serve.add_argument("--burst", type=int, default=None, help="quota burst (overrides ,burst=)")
    serve.add_argument(
        "--quota-style",
        choices=QUOTA_STYLES,
        default=DEFAULT_QUOTA_STYLE,
        help="how a request over the quota is answered: code20 (error 20 'Quota exceeded', "
        "the default), too_many_requests (error 20 'Too many requests'), http429 (HTTP 429 "
        "with Retry-After)",
    )
    serve.add_argument(
        "--dialect",
        choices=DIALECTS,
        default=DEFAULT_DIALECT,
        help="shapes of me/get_my_timer: sdk-2026 (the default, as the newest official "
        "client reads them: me an object, get_my_timer a one-element list), postman (both "
        "objects) or ru-docs (both one-element lists)",
    )
    serve.add_argument(
        "--shape",
        type=_shape_spec,
        action="append",
        default=[],
        metavar="ACTION=SHAPE",
        help="answer me or get_my_timer with an object or a one-element list, whatever "
        "--dialect says (me=list, get_my_timer=object); repeatable",
    )
    serve.add_argument(
        "--role-style",
        choices=ROLE_STYLES,
        default="docs",
        help="roles as the docs and official SDKs spell them (docs: owner, the default) "
        "or as the Postman examples (postman: Owner)",
    )
    serve.add_argument(
        "--oauth-client",
        type=_oauth_client_spec,
        default=None,
        metavar="ID:SECRET",
        help="register this OAuth2 app for /oauth2/* (a random pair is made and printed "
        "if not given)",
    )
    serve.add_argument(
        "--oauth-redirect-uri",
        type=_redirect_spec,
        action="append",
        default=[],
        metavar="URI",
        help="a redirect URI registered for the OAuth2 app (HTTPS; repeatable); an app "
        "given with --oauth-client redirects to these only",
    )
    serve.add_argument(
        "--allow-webhook-host",
        action="append",
        default=[],
        metavar="HOST",
        help='add_webhook checks hook URLs over HTTP (200 and {"status":"OK"}, else '
        "error 11) and delivers to them, on loopback only; this host may be contacted too "
        "(repeatable)",
    )
    serve.add_argument(
        "--populate",
        type=_populate_spec,
        default=None,
        metavar="PROJECTSxTASKS",
        help="fill the account, e.g. 20x100 (empty account if not given)",
    )
    serve.add_argument("--seed", type=int, default=1, help="seed for --populate and faults (1)")
    serve.add_argument(
        "--hmac-skew",
        type=float,
        default=DEFAULT_HMAC_SKEW,
        help=f"accepted clock skew of HMAC tokens, seconds ({DEFAULT_HMAC_SKEW:g})",
    )
    serve.add_argument(
        "--webhook",
        type=_webhook_spec,
        action="append",
        default=[],
        metavar="URL[,USER:PASS]",
        help="deliver webhooks over HTTP to URL: registers an active hook for every event "
        "(with basic auth USER:PASS if given), and lets hooks added later for URLs under it "
        "be checked and delivered to (repeatable)",
    )
    serve.add_argument("--log-level", default="warning", help="uvicorn log level (warning)")

    demo = commands.add_parser(
        "demo", help="fetch every project and task of a populated fake account (make demo)"
    )
    demo.add_argument("--projects", type=int, default=20, help="projects to create (20)")
    demo.add_argument("--tasks", type=int, default=100, help="tasks per project (100)")
    demo.add_argument(
        "--real-time",
        action="store_true",
        help="wait for the 1 request/s quota in real time instead of a simulated clock",
    )
    return parser


def make_fake(args: argparse.Namespace, account_url: str = DEFAULT_ACCOUNT_URL) -> FakeWorksection:
    """The fake ``serve`` runs, from its parsed arguments, linking to ``account_url``.

    It has one OAuth2 app: ``--oauth-client`` (redirecting to ``--oauth-redirect-uri``
    only) or a random pair (redirecting to any HTTPS URI unless some are given).
    """
    quota: RateQuota | None = args.quota
    if quota is not None and args.burst is not None:
        quota = RateQuota(rate=quota.rate, burst=args.burst)
    api_key = args.api_key or secrets.token_hex(16)
    options = {
        "api_key": api_key,
        "account_url": account_url,
        "quota": quota,
        "hmac_skew": args.hmac_skew,
        "quota_style": args.quota_style,
        "dialect": args.dialect,
        "role_style": args.role_style,
    }
    if args.populate is not None:
        projects, tasks = args.populate
        fake = FakeWorksection.populated(projects, tasks, seed=args.seed, **options)
    else:
        fake = FakeWorksection(seed=args.seed, **options)
    fake.check_webhooks_over_http(args.allow_webhook_host)
    for action, shape in args.shape:
        fake.set_shape(action, shape)
    client_id, client_secret = args.oauth_client or (None, None)
    fake.add_oauth_app(
        client_id,
        client_secret,
        redirect_uri=args.oauth_redirect_uri,
        strict=args.oauth_client is not None,
    )
    for url, user, password in getattr(args, "webhook", None) or ():
        fake.webhook_delivery.allow_http(url)
        fake.add_webhook(url, _ALL_EVENTS, http_user=user, http_pass=password)
    return fake


def serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn
    except ImportError:
        print(
            "serve needs uvicorn: pip install 'worksection-async[server]'",
            file=sys.stderr,
        )
        return 2
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(2048)  # connections queue from now on, even before uvicorn takes over
    port = sock.getsockname()[1]
    host = f"[{args.host}]" if ":" in args.host else args.host
    bound = f"http://{host}:{port}"
    url = args.public_url or bound
    fake = make_fake(args, account_url=url)
    [app] = fake.oauth.apps.values()
    quota = f"{fake.quota}, answered {fake.quota_style}" if fake.quota is not None else "unlimited"
    print(f"FakeWorksection serving at {bound}", flush=True)
    print(f"  account URL: {url}", flush=True)
    print(f"  API key:     {fake.api_key}", flush=True)
    print(f"  OAuth2 app:  {app.client_id}:{app.client_secret}", flush=True)
    print(f"               {url}/oauth2/{{authorize,token,refresh,resource}}", flush=True)
    redirects = ", ".join(app.redirect_uris) or (
        "none registered (--oauth-redirect-uri)" if app.strict else "any https:// URI"
    )
    print(f"  redirects:   {redirects}", flush=True)
    print(f"  quota:       {quota}", flush=True)
    print(
        f"  account:     {len(fake.projects)} projects, {len(fake.tasks)} tasks, "
        f"{len(fake.users)} members",
        flush=True,
    )
    for hook in fake.webhooks.values():
        auth = f" (basic auth {hook.http_user}:***)" if hook.http_user else ""
        print(f"  webhook {hook.id}:  {hook.url}{auth}, every event", flush=True)
    print(f"  counters:    {url}/_fake/stats   (Ctrl-C to stop)", flush=True)
    print("To use it from a shell (the command line, Client.from_env()):", flush=True)
    print(f"  export WORKSECTION_URL={url}", flush=True)
    print(f"  export WORKSECTION_API_KEY={fake.api_key}", flush=True)
    config = uvicorn.Config(
        fake.asgi_app,
        log_level=args.log_level,
        access_log=False,
        lifespan="on",
        h11_max_incomplete_event_size=1 << 20,
    )
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:  # pragma: no cover - uvicorn handles SIGINT itself
        pass
    finally:
        sock.close()
    return 0


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Run a command; ``prog`` names the program in help and errors (``worksection``
    runs these as ``worksection fake serve`` and ``worksection demo``)."""
    parser = build_parser() if prog is None else build_parser(prog)
    args = parser.parse_args(argv)
    if args.command == "serve":
        return serve(args)
    if args.command == "demo":
        from ._demo import run_demo

        print(run_demo(args.projects, args.tasks, real_time=args.real_time), flush=True)
        return 0
    raise AssertionError(f"unhandled command {args.command!r}")  # pragma: no cover


if __name__ == "__main__":
    sys.exit(main())
