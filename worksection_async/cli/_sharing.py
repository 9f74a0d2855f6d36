"""Which shared quota a command uses: by default a SQLite file in the user's cache.

Every command that talks to an account shares its quota with the other processes on
the host, through ``quota.db`` in the user's cache directory (keyed by the account's
host, as ``SharedQuota`` keys by default), so that two exports, or an export and a
program of the user's pointed at the same file, take turns instead of colliding on
error 20. ``--shared-quota URL`` (or ``WORKSECTION_SHARED_QUOTA``) picks another store
(``sqlite:///``, ``redis://``, ``rediss://``, ``unix://``, ``memory://``), ``off``
none. The default never makes a command fail: when its directory cannot be created,
the command says so once and runs unshared.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath
from typing import Final
from urllib.parse import urlsplit

import attrs

from .._env import OFF, SHARED_QUOTA_ENV  # the names and words Client.from_env reads
from ._errors import CommandError

__all__ = [
    "OFF",
    "SCHEMES",
    "SHARED_QUOTA_ENV",
    "QuotaChoice",
    "cache_dir",
    "choose_shared_quota",
    "sqlite_url",
]

SCHEMES: Final = ("sqlite", "redis", "rediss", "unix", "memory")
QUOTA_FILE: Final = "quota.db"


def cache_dir(
    environ: Mapping[str, str] | None = None,
    platform: str | None = None,
    home: PurePath | None = None,
) -> PurePath:
    """The user's cache directory for worksection: ``$XDG_CACHE_HOME/worksection``
    (an absolute path) wherever it is set; else ``~/.cache/worksection`` (Linux and
    other Unixes), ``~/Library/Caches/worksection`` (macOS),
    ``%LOCALAPPDATA%\\worksection\\Cache`` (Windows). ``RuntimeError`` if the home
    directory is unknown and needed."""
    env = os.environ if environ is None else environ
    system = sys.platform if platform is None else platform
    flavour: type[PurePath] = PureWindowsPath if system == "win32" else PurePosixPath
    xdg = env.get("XDG_CACHE_HOME", "")
    if xdg and flavour(xdg).is_absolute():
        return flavour(xdg) / "worksection"
    if system == "win32":
        local = env.get("LOCALAPPDATA", "")
        if local and flavour(local).is_absolute():
            return flavour(local) / "worksection" / "Cache"
        return flavour(_home(home)) / "AppData" / "Local" / "worksection" / "Cache"
    if system == "darwin":
        return flavour(_home(home)) / "Library" / "Caches" / "worksection"
    return flavour(_home(home)) / ".cache" / "worksection"


def _home(home: PurePath | None) -> PurePath:
    return Path.home() if home is None else home


def sqlite_url(path: PurePath) -> str:
    """``sqlite:///`` and the absolute ``path`` (``sqlite:///home/me/q.db``,
    ``sqlite:///C:/Users/me/q.db``)."""
    return "sqlite:///" + path.as_posix().lstrip("/")


@attrs.frozen
class QuotaChoice:
    """The shared quota a command uses: ``url`` (``None``: unshared); ``default``:
    it is the cache file, not one the user picked; ``warning``: why the default
    could not be used (said once on stderr)."""

    url: str | None
    default: bool = False
    warning: str = ""


def choose_shared_quota(
    value: str | None,
    *,
    rate_limited: bool,
    source: str = "--shared-quota",
    environ: Mapping[str, str] | None = None,
    platform: str | None = None,
    home: PurePath | None = None,
    create: bool = True,
) -> QuotaChoice:
    """The quota for ``value`` (``--shared-quota``, or the environment's, or ``None``).

    ``None`` picks the default (the cache file, its directory created with
    ``create``), unless the command has no rate limit (``--rate off``: nothing to
    share; a URL from the environment is then ignored, one from the option refused).
    ``off`` is none. A URL of another scheme is a ``CommandError`` (exit 2) naming
    ``source``.
    """
    if value is None:
        if not rate_limited:
            return QuotaChoice(None)
        return _default(environ, platform, home, create=create)
    text = value.strip()
    if text.lower() in OFF:
        return QuotaChoice(None)
    scheme = text.partition("://")[0].lower() if "://" in text else ""
    if scheme not in SCHEMES:
        shown = _without_userinfo(text)
        raise CommandError(
            f"{source} takes a sqlite:///PATH, redis://, rediss://, unix:// or "
            f"memory://NAME URL, or 'off'; got {shown!r}"
        )
    if not rate_limited:
        if source == SHARED_QUOTA_ENV:
            return QuotaChoice(None)  # a standing choice; this command limits nothing
        raise CommandError(
            f"{source} shares a rate, and --rate off sets none: give the account's "
            f"rate, or {source} off"
        )
    return QuotaChoice(text)


def _default(
    environ: Mapping[str, str] | None,
    platform: str | None,
    home: PurePath | None,
    *,
    create: bool,
) -> QuotaChoice:
    unshared = f"set {SHARED_QUOTA_ENV}=off (or --shared-quota off) to run unshared quietly"
    try:
        directory = cache_dir(environ, platform, home)
    except RuntimeError:
        return QuotaChoice(
            None,
            default=True,
            warning=f"the quota is not shared with other processes: no home directory "
            f"for its file; {unshared}, or pick one with --shared-quota",
        )
    if create:
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            return QuotaChoice(
                None,
                default=True,
                warning=f"the quota is not shared with other processes: cannot create "
                f"{directory}: {reason}; {unshared}, or pick another with --shared-quota",
            )
    return QuotaChoice(sqlite_url(directory / QUOTA_FILE), default=True)


def _without_userinfo(url: str) -> str:
    """``url`` with any ``user:password@`` masked (it is shown in a message)."""
    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        return "<not a URL>"
    if "@" in netloc:
        return url.replace(netloc.rpartition("@")[0] + "@", "***@", 1)
    return url
