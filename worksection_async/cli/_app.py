"""The ``worksection`` command: click commands over the library's public API."""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, Final, NoReturn, TypeVar, cast
from urllib.parse import urlsplit

import anyio
import attrs
import click

from .. import __version__
from .._call import JSONParam, ParamValue
from .._client import Client
from .._pages import ProjectPage, parse_page
from .._signing import HmacToken, PageHash, QueryHash, Signer
from .._throttle import DEFAULT_MAX_CONCURRENCY, RateLimit
from ..models import Project, Task
from ..resources import ProjectLike
from ._checkpoint import ExportFile
from ._errors import EXIT_INTERRUPTED, EXIT_OK, CommandError, Secrets, report
from ._http import AnswerRecorder, http_client
from ._output import FORMATS, Format, RecordFormat, model_columns, parse_fields, to_record
from ._progress import Status, reporter_for
from ._sharing import SHARED_QUOTA_ENV, QuotaChoice, choose_shared_quota

__all__ = ["API_KEY_ENV", "SHARED_QUOTA_ENV", "URL_ENV", "cli", "main"]

URL_ENV: Final = "WORKSECTION_URL"
API_KEY_ENV: Final = "WORKSECTION_API_KEY"

SIGNERS: Final[dict[str, Callable[[], Signer]]] = {
    "page-hash": PageHash,
    "query-hash": QueryHash,
    "hmac": HmacToken,
}

T = TypeVar("T")


@attrs.define
class State:
    """Options shared by the commands that talk to an account, and what must not show."""

    account_url: str | None = None
    api_key_file: str | None = None
    signer: str = "page-hash"
    allow_insecure_http: bool = False
    rate: float | None = 1.0
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    shared_quota: str | None = None
    """``--shared-quota`` or the environment's; ``None``: the default (the cache file)."""
    shared_quota_source: str = "--shared-quota"
    debug: bool = False
    secrets: Secrets = attrs.Factory(Secrets)
    interrupted: str = ""
    """What to say when Ctrl-C stops the command."""
    after_failure: str = ""
    """What to add to a failure's line (an export's file, and how to go on)."""


def _state(ctx: click.Context) -> State:
    return ctx.ensure_object(State)


def _store(name: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if value is not None and value != ():
            setattr(_state(ctx), name, value)

    return callback


def _rate(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is None:
        return
    text = value.strip().lower()
    if text in ("off", "none", "0"):
        _state(ctx).rate = None
        return
    try:
        rate = float(text)
    except ValueError:
        raise click.BadParameter(f"expected requests per second or 'off', got {value!r}") from None
    if not rate > 0 or rate == float("inf"):
        raise click.BadParameter(f"expected a positive number or 'off', got {value!r}")
    _state(ctx).rate = rate


def _shared_quota_option(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is None:
        return
    state = _state(ctx)
    state.shared_quota = value
    source = ctx.get_parameter_source(param.name or "")
    if source is click.core.ParameterSource.ENVIRONMENT:
        state.shared_quota_source = SHARED_QUOTA_ENV


def _refuse_key(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None:
        # The value is never repeated: it is the secret.
        raise click.UsageError(
            f"the API key is never taken as an argument (ps and shell history would "
            f"show it): set {API_KEY_ENV} or use --api-key-file PATH",
            ctx,
        )


def connection_options(command: Callable[..., T]) -> Callable[..., T]:
    """The options every command that talks to an account takes."""
    options = [
        click.option(
            "--account-url",
            metavar="URL",
            envvar=URL_ENV,
            show_envvar=True,
            expose_value=False,
            callback=_store("account_url"),
            help="The account's address, https://<account>.worksection.com.",
        ),
        click.option(
            "--api-key-file",
            metavar="PATH",
            expose_value=False,
            callback=_store("api_key_file"),
            help=f"Read the admin API key from this file ('-': standard input) instead "
            f"of {API_KEY_ENV}.",
        ),
        click.option(
            "--api-key",
            hidden=True,
            expose_value=False,
            callback=_refuse_key,
        ),
        click.option(
            "--signer",
            type=click.Choice(sorted(SIGNERS)),
            expose_value=False,
            callback=_store("signer"),
            help="How requests are signed (page-hash by default; try another on error 2).",
        ),
        click.option(
            "--rate",
            metavar="N|off",
            envvar="WORKSECTION_RATE",
            show_envvar=True,
            expose_value=False,
            callback=_rate,
            help="The account's quota in requests per second (1); 'off': no client-side limit.",
        ),
        click.option(
            "--max-concurrency",
            type=click.IntRange(min=1),
            expose_value=False,
            callback=_store("max_concurrency"),
            help=f"Requests in flight at most ({DEFAULT_MAX_CONCURRENCY}).",
        ),
        click.option(
            "--allow-insecure-http",
            is_flag=True,
            default=None,
            expose_value=False,
            callback=_store("allow_insecure_http"),
            help="Allow a plain http:// account URL on a host that is not loopback "
            "(requests and their replayable signatures cross the network unencrypted).",
        ),
        click.option(
            "--shared-quota",
            metavar="URL|off",
            envvar=SHARED_QUOTA_ENV,
            show_envvar=True,
            expose_value=False,
            callback=_shared_quota_option,
            help="Where the quota is shared with other processes and programs: "
            "sqlite:///PATH, redis://... (the redis extra), memory://NAME, or 'off'. "
            "Default: quota.db in the user's cache directory "
            "($XDG_CACHE_HOME/worksection, ~/.cache/worksection, ...).",
        ),
        click.option(
            "--debug",
            is_flag=True,
            default=None,
            expose_value=False,
            callback=_store("debug"),
            help="Show the traceback of a failure (secrets masked).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


# -- the client ----------------------------------------------------------------------


def _api_key(state: State) -> str:
    if state.api_key_file is not None:
        if state.api_key_file == "-":
            key = sys.stdin.readline()
        else:
            try:
                key = Path(state.api_key_file).read_text(encoding="utf-8")
            except OSError as exc:
                raise CommandError(
                    f"cannot read the API key file {state.api_key_file}: {exc.strerror}"
                ) from None
        key = key.strip()
        if not key:
            raise CommandError(f"the API key file {state.api_key_file} is empty")
        return key
    key = os.environ.get(API_KEY_ENV, "").strip()
    if not key:
        raise CommandError(
            f"no API key: set {API_KEY_ENV}, or pass --api-key-file PATH "
            "(the key is never taken as an argument)"
        )
    return key


def _warn(text: str) -> None:
    sys.stderr.write(f"worksection: warning: {text}\n")
    sys.stderr.flush()


def _shared_quota(choice: QuotaChoice, source: str) -> object | None:
    """The ``SharedQuota`` at ``choice.url``. The default file never fails the
    command: if it cannot be used, a warning, and ``None`` (unshared)."""
    if choice.url is None:
        return None
    unshared = f"set {SHARED_QUOTA_ENV}=off (or --shared-quota off) to run unshared quietly"
    try:
        shared = importlib.import_module("worksection_async.shared")
    except ImportError as exc:
        if choice.default:
            _warn(
                f"the quota is not shared with other processes: worksection_async.shared "
                f"cannot be imported ({exc}); {unshared}"
            )
            return None
        raise CommandError(
            f"{source} needs the redis extra: pip install 'worksection-async[redis]'"
        ) from None
    try:
        quota: object = shared.SharedQuota.from_url(choice.url)
    except (ValueError, TypeError) as exc:
        if choice.default:
            _warn(f"the quota is not shared with other processes: {exc}; {unshared}")
            return None
        raise
    return quota


@contextlib.asynccontextmanager
async def open_client(
    state: State, recorder: AnswerRecorder | None = None
) -> AsyncIterator[Client]:
    """A client from the options and the environment (usage errors before any
    request), on an httpx client that notes each request's credentials."""
    url = state.account_url or os.environ.get(URL_ENV, "").strip()
    if not url:
        raise CommandError(f"no account: set {URL_ENV} or pass --account-url URL")
    key = _api_key(state)
    state.secrets.add(key)
    rate_limit = RateLimit(rate=state.rate) if state.rate is not None else None
    options: dict[str, Any] = {}
    if state.shared_quota is not None:
        with contextlib.suppress(ValueError):
            password = urlsplit(state.shared_quota).password
            if password:
                state.secrets.add(password)
    choice = choose_shared_quota(
        state.shared_quota,
        rate_limited=rate_limit is not None,
        source=state.shared_quota_source,
    )
    if choice.warning:
        _warn(choice.warning)
    if choice.url is not None:
        quota = _shared_quota(choice, state.shared_quota_source)
        if quota is not None:
            options["shared_quota"] = quota
    async with http_client(state.max_concurrency, state.secrets, recorder) as http:
        client = Client(
            url,
            key,
            signer=SIGNERS[state.signer](),
            allow_insecure_http=state.allow_insecure_http,
            rate_limit=rate_limit,
            max_concurrency=state.max_concurrency,
            http_client=http,
            **options,
        )
        async with client:
            yield client


def _execute(ctx: click.Context, job: Callable[[], Awaitable[int | None]]) -> NoReturn:
    """Run ``job`` on the event loop; exit with its code, or with the failure's."""
    state = _state(ctx)
    try:
        code = anyio.run(job) or EXIT_OK
    except KeyboardInterrupt:
        note = f": {state.interrupted}" if state.interrupted else ""
        sys.stderr.write(f"worksection: interrupted{note}\n")
        code = EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (| head): stop quietly, and let nothing flush to it.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = EXIT_OK
    except Exception as exc:
        code = report(exc, state.secrets, debug=state.debug, note=state.after_failure)
    ctx.exit(code)


def _emit(state: State, text: str) -> None:
    sys.stdout.write(state.secrets.mask_data(text))


def _write_records(state: State, models: Sequence[object], layout: RecordFormat) -> None:
    records = [to_record(model) for model in models]
    _check_fields(layout, records)
    _emit(state, layout.start())
    for index, record in enumerate(records):
        _emit(state, layout.record(index, record))
    _emit(state, layout.end(len(models)))
    sys.stdout.flush()


def _check_fields(layout: RecordFormat, records: Sequence[dict[str, Any]]) -> None:
    """Refuse a ``--fields`` name that is neither one of the model's fields nor a key
    of any record (an extra field the API sent): a typo, which would print an empty
    column."""
    known = set(layout.columns) | {key for record in records for key in record}
    unknown = [path for path in layout.fields or () if path.split(".")[0] not in known]
    if unknown:
        fields = ", ".join(column for column in layout.columns if column != "extra")
        raise CommandError(  # a usage error (exit 2), found once the records are in
            f"--fields: no field {', '.join(map(repr, unknown))}; the fields are {fields}"
        )


def _layout(fmt: str, fields: str | None, cls: type) -> RecordFormat:
    try:
        selected = parse_fields(fields)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--fields") from None
    return RecordFormat(cast(Format, fmt), selected, model_columns(cls))


def _comma_list(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [part.strip() for part in text.split(",") if part.strip()]


def _project_ids(projects: Sequence[ProjectLike] | None) -> list[int] | None:
    """The ids of ``--projects`` (already checked), as the checkpoint records them."""
    if projects is None:
        return None
    ids: list[int] = []
    for project in projects:
        page = parse_page(project) if isinstance(project, str) else project
        ids.append(page if isinstance(page, int) else cast(ProjectPage, page).project_id)
    return list(dict.fromkeys(ids))


def _project(text: str) -> ProjectLike:
    """A project argument: an id, a link or a browser URL."""
    stripped = text.strip()
    return int(stripped) if stripped.isdigit() else stripped


# -- commands --------------------------------------------------------------------------


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="worksection")
def cli() -> None:
    """Worksection from a terminal: call any action, list and export tasks.

    The account is WORKSECTION_URL (or --account-url) and the admin API key
    WORKSECTION_API_KEY (or --api-key-file): never an argument.

    Exit codes: 0 done, 1 other failure, 2 usage, 3 API error, 4 transport or
    protocol error, 130 interrupted.
    """


def _parse_call_args(args: Sequence[str]) -> tuple[str | None, dict[str, ParamValue]]:
    page: str | None = None
    params: dict[str, ParamValue] = {}
    repeated: dict[str, list[str]] = {}
    for position, arg in enumerate(args):
        is_link = arg.startswith(("/", "http://", "https://"))
        if position == 0 and (is_link or "=" not in arg):
            page = arg
            continue
        key, sep, value = arg.partition("=")
        if not sep or not key:
            raise click.UsageError(
                f"expected key=value or key:=JSON after the action and page, got {arg!r}"
            )
        if key.endswith(":"):
            key = key[:-1]
            try:
                decoded = json.loads(value)
            except ValueError:
                raise click.UsageError(f"{key}:= takes JSON, got {value!r}") from None
            if isinstance(decoded, (dict, list)):
                params[key] = JSONParam(decoded)
            elif decoded is None:
                params[key] = None
            else:
                params[key] = cast(ParamValue, decoded)
            continue
        repeated.setdefault(key, []).append(value)
    for key, values in repeated.items():
        if key in params:
            raise click.UsageError(f"{key} is given both as key=value and as key:=JSON")
        params[key] = values[0] if len(values) == 1 else values
    return page, params


@cli.command(context_settings={"ignore_unknown_options": False})
@click.argument("action")
@click.argument("args", nargs=-1, metavar="[PAGE] [KEY=VALUE | KEY:=JSON]...")
@click.option("--raw", is_flag=True, help="Print the whole answer envelope as sent.")
@connection_options
@click.pass_context
def call(ctx: click.Context, action: str, args: tuple[str, ...], raw: bool) -> None:
    """Call any ACTION and print its data as JSON.

    PAGE is a link (/project/1/2/) or a browser URL. KEY=VALUE sends a text
    parameter (given twice: a list, sent as KEY[]); KEY:=JSON sends structured JSON.

    \b
      worksection call get_task /project/1/2/ extra=comments
      worksection call post_comment /project/1/2/ text='Looked at it'
      worksection call get_events period=1d
    """
    state = _state(ctx)
    page, params = _parse_call_args(args)

    async def job() -> int:
        recorder = AnswerRecorder() if raw else None
        async with open_client(state, recorder) as client:
            try:
                payload = await client.call(action, page, **params)
            finally:
                if recorder is not None and recorder.body:
                    sys.stdout.write(state.secrets.mask(_envelope(recorder.text())) + "\n")
        if not raw:
            text = json.dumps(payload, indent=2, ensure_ascii=False)
            sys.stdout.write(state.secrets.mask_data(text) + "\n")
        return EXIT_OK

    _execute(ctx, job)


def _envelope(body: str) -> str:
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except ValueError:
        return body


@cli.command()
@click.option(
    "--filter",
    "filter_",
    type=click.Choice(["active", "pending", "archive"]),
    help="Only active, pending (sleeping) or archived projects.",
)
@click.option("--extra", metavar="LIST", help="Comma list of text, html, options, users.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="ndjson", show_default=True)
@click.option("--fields", metavar="LIST", help="Comma list of fields (dotted paths).")
@connection_options
@click.pass_context
def projects(
    ctx: click.Context, filter_: str | None, extra: str | None, fmt: str, fields: str | None
) -> None:
    """List the account's projects (get_projects)."""
    state = _state(ctx)
    layout = _layout(fmt, fields, Project)

    async def job() -> int:
        async with open_client(state) as client:
            found = await client.projects.list(
                filter=cast(Any, filter_), extra=cast(Any, _comma_list(extra))
            )
        _write_records(state, found, layout)
        return EXIT_OK

    _execute(ctx, job)


@cli.command()
@click.argument("project", required=False)
@click.option("--active", is_flag=True, help="Leave out closed tasks.")
@click.option(
    "--extra",
    metavar="LIST",
    help="Comma list of text, html, files, comments, relations, subtasks (and "
    "subscribers with PROJECT, archive without).",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="ndjson", show_default=True)
@click.option("--fields", metavar="LIST", help="Comma list of fields (dotted paths).")
@connection_options
@click.pass_context
def tasks(
    ctx: click.Context,
    project: str | None,
    active: bool,
    extra: str | None,
    fmt: str,
    fields: str | None,
) -> None:
    """List the tasks of the account (get_all_tasks) or of PROJECT (get_tasks).

    PROJECT is an id, a link or a browser URL.
    """
    state = _state(ctx)
    layout = _layout(fmt, fields, Task)
    extras = cast(Any, _comma_list(extra))

    async def job() -> int:
        async with open_client(state) as client:
            if project is None:
                found = await client.tasks.list(active_only=active, extra=extras)
            else:
                found = await client.project(_project(project)).tasks(
                    active_only=active, extra=extras
                )
        _write_records(state, found, layout)
        return EXIT_OK

    _execute(ctx, job)


def _format_of(out: Path, fmt: str | None) -> Format:
    if fmt is not None:
        return cast(Format, fmt)
    suffix = out.suffix.lower()
    if suffix == ".json":
        return "json"
    if suffix == ".csv":
        return "csv"
    return "ndjson"


@cli.command()
@click.option(
    "--out",
    "-o",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The file to write; a checkpoint is kept beside it until the export is done.",
)
@click.option(
    "--projects",
    "project_args",
    multiple=True,
    metavar="LIST",
    help="Only these projects: ids or links, comma-separated or repeated.",
)
@click.option("--active", is_flag=True, help="Leave out closed tasks.")
@click.option("--comments", is_flag=True, help="Every comment of every task.")
@click.option(
    "--files", is_flag=True, help="The files of each task (and comment, with --comments)."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="ndjson, json or csv (by default from --out's suffix, else ndjson).",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Continue the interrupted export whose checkpoint is beside --out.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress on stderr.")
@connection_options
@click.pass_context
def export(
    ctx: click.Context,
    out: Path,
    project_args: tuple[str, ...],
    active: bool,
    comments: bool,
    files: bool,
    fmt: str | None,
    resume: bool,
    quiet: bool,
) -> None:
    """Export every task and subtask to a file, resumably.

    Requests: one get_all_tasks (or one get_tasks per project given), then one
    get_comments per task whose comments the listing may have cut; a listing over
    10,000 tasks is split (by project, open/closed, dateadd windows). The last line
    says how many requests were sent. Progress goes to stderr. Ctrl-C stops cleanly
    (exit 130) and leaves a valid file; --resume continues it, ending with the file an
    uninterrupted run writes.
    """
    state = _state(ctx)
    if str(out) == "-":
        raise click.BadParameter(
            "export writes a file, with a checkpoint beside it to resume from, not "
            "standard output; 'worksection tasks' prints to standard output",
            param_hint="--out",
        )
    chosen = _format_of(out, fmt)
    layout = RecordFormat(chosen, None, model_columns(Task))
    wanted: list[ProjectLike] | None = None
    if project_args:
        wanted = [_project(part) for arg in project_args for part in _comma_list(arg) or ()]
        if not wanted:
            raise click.BadParameter("names no project", param_hint="--projects")

    async def job() -> int:
        async with open_client(state) as client:
            # Bad projects are refused here, before anything is written or sent.
            await client.tasks.export(wanted, active_only=active).aclose()
            what = {
                "account": client.account_url,
                "projects": _project_ids(wanted),
                "active": active,
                "comments": comments,
                "files": files,
                "format": chosen,
            }
            file = ExportFile(out, layout, what)
            if resume and not file.checkpoint.exists():
                click.echo(
                    f"worksection: --resume: no interrupted export at {out} (no "
                    f"{file.checkpoint.name} beside it); exporting from the start",
                    err=True,
                )
            file.open(resume=resume)
            status = Status(lambda: client.quota.current_rate)
            status.records = file.records  # resumed: those already written
            reporter = reporter_for(status, quiet=quiet)
            state.interrupted = (
                f"{out} holds the tasks written so far; run the same command with "
                "--resume to continue"
            )
            try:
                source = client.tasks.export(
                    wanted,
                    active_only=active,
                    comments=comments,
                    files=files,
                    progress=reporter.requests,
                    skip=file.done,
                )
                async with contextlib.aclosing(source) as items:
                    async for task in items:
                        file.write(task.id, to_record(task), state.secrets.mask_data)
                        reporter.wrote(file.records)
                file.finish()
            except BaseException:
                try:
                    stopped = file.stop()
                except CommandError as problem:  # the end could not be written either
                    state.interrupted = state.after_failure = (
                        f"{problem}; --resume continues from the checkpoint"
                    )
                else:
                    if stopped:
                        state.interrupted = (
                            f"{file.records} tasks in {out}, valid as it stands; run the "
                            "same command with --resume to continue"
                        )
                        state.after_failure = (
                            f"{file.records} tasks in {out}; --resume continues from there"
                        )
                    else:
                        state.interrupted = f"nothing was written, and {out} was removed"
                raise
            finally:
                reporter.close()
        if not quiet:
            sys.stderr.write(
                f"worksection: export: {file.records} tasks in {out}; "
                f"{status.done} requests (planned {status.planned}) in "
                f"{status.elapsed():.1f} s\n"
            )
        return EXIT_OK

    _execute(ctx, job)


_PASS_THROUGH: Final = {
    "ignore_unknown_options": True,
    "allow_extra_args": True,
    "help_option_names": [],
}


@cli.group()
def fake() -> None:
    """The fake Worksection account (FakeWorksection), for trying things out."""


@fake.command(context_settings=_PASS_THROUGH, add_help_option=False)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def serve(ctx: click.Context, args: tuple[str, ...]) -> None:
    """Serve a fake account over HTTP (needs the server extra); --help for options."""
    from ..testing.__main__ import main as testing_main

    ctx.exit(testing_main(["serve", *args], prog="worksection fake"))


@cli.command(context_settings=_PASS_THROUGH, add_help_option=False)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def demo(ctx: click.Context, args: tuple[str, ...]) -> None:
    """Fetch every project and task of a populated fake account; --help for options."""
    from ..testing.__main__ import main as testing_main

    ctx.exit(testing_main(["demo", *args], prog="worksection"))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (``sys.argv[1:]`` by default); the exit code."""
    try:
        result = cli.main(args=argv, prog_name="worksection", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        # One line, like every other failure; the command's --help has the rest.
        context = getattr(exc, "ctx", None)
        where = context.command_path if context is not None else "worksection"
        message = " ".join(exc.format_message().split())
        sys.stderr.write(f"worksection: error: {message} (see '{where} --help')\n")
        return exc.exit_code
    except click.exceptions.Abort:
        sys.stderr.write("worksection: interrupted\n")
        return EXIT_INTERRUPTED
    except SystemExit as exc:  # argparse, under fake serve and demo
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return result if isinstance(result, int) else EXIT_OK
