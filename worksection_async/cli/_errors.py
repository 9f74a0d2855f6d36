"""Exit codes, and failures as one line on stderr with every secret masked.

==== =============================================================================
code meaning
==== =============================================================================
0    done
1    anything else (a file that cannot be written, a bug: ``--debug`` shows where)
2    usage: a bad option or argument, missing credentials, a bad value the library
     refused before sending anything
3    the API answered an error (``APIError``, its code in the message), or the
     OAuth2 server refused
4    transport or protocol: no answer, a timeout, an answer that is not the API's
     envelope or does not fit the models
130  interrupted (Ctrl-C); whatever was written is valid
==== =============================================================================
"""

from __future__ import annotations

import errno
import re
import sys
import traceback
from collections.abc import Iterable
from typing import Final, TextIO

from .._exceptions import APIError, ProtocolError, TransportError, WorksectionError
from .._oauth import OAuth2Error
from .._signing import REDACTED, SHORT_SECRET, mask_secrets
from ..models import StructureError

__all__ = [
    "EXIT_API",
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_TRANSPORT",
    "EXIT_USAGE",
    "CommandError",
    "Secrets",
    "exit_code",
    "report",
]

EXIT_OK: Final = 0
EXIT_FAILURE: Final = 1
EXIT_USAGE: Final = 2
EXIT_API: Final = 3
EXIT_TRANSPORT: Final = 4
EXIT_INTERRUPTED: Final = 130


_HEX_RUN: Final = re.compile(r"[0-9A-Fa-f]{16,}")
_SHORTEST_CREDENTIAL: Final = 16


class CommandError(Exception):
    """A failure the command explains itself: ``message`` and the exit code."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


class Secrets:
    """What must never be printed: the API key, in every encoding, and each request's
    credentials (its ``hash``, its ``Authorization`` MAC: hex strings), as noted."""

    def __init__(self) -> None:
        self._secrets: list[str] = []
        self._request: set[str] = set()

    def add(self, secret: str) -> None:
        if secret and secret not in self._secrets:
            self._secrets.append(secret)

    def add_request_secret(self, secret: str) -> None:
        """A credential of one request (a hash, a MAC): masked wherever it appears."""
        if len(secret) >= _SHORTEST_CREDENTIAL:
            self._request.add(secret.lower())

    @property
    def values(self) -> tuple[str, ...]:
        return (*self._secrets, *sorted(self._request))

    def _mask_credentials(self, text: str) -> str:
        if not self._request:
            return text
        return _HEX_RUN.sub(self._masked_run, text)

    def _masked_run(self, match: re.Match[str]) -> str:
        run = match[0].lower()
        if run in self._request:
            return REDACTED
        for secret in self._request:  # a credential inside a longer run of hex
            if secret in run:
                run = run.replace(secret, REDACTED)
        return run if REDACTED in run else match[0]

    def mask(self, text: str) -> str:
        """``text`` with the key in any encoding, every request credential noted, and
        every ``hash=`` value masked (for messages and tracebacks)."""
        return self._mask_credentials(mask_secrets(text, self._secrets))

    def mask_data(self, text: str) -> str:
        """Output data: the key's exact text and the request credentials noted are
        masked (a cheap pass per record); the data is not rewritten otherwise."""
        for secret in self._secrets:
            if secret in text:
                if len(secret) < SHORT_SECRET:  # whole words only, or every word breaks
                    text = re.sub(
                        rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])", REDACTED, text
                    )
                else:
                    text = text.replace(secret, REDACTED)
        return self._mask_credentials(text)


def exit_code(error: BaseException) -> int:
    """The exit code for ``error`` (see the module docstring)."""
    if isinstance(error, CommandError):
        return error.code
    if isinstance(error, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(error, (APIError, OAuth2Error)):
        return EXIT_API
    if isinstance(error, (TransportError, ProtocolError, StructureError)):
        return EXIT_TRANSPORT
    if isinstance(error, WorksectionError):
        return EXIT_FAILURE
    if isinstance(error, (ValueError, TypeError)):
        return EXIT_USAGE  # the library refuses bad input with these, before sending
    return EXIT_FAILURE


def _describe(error: BaseException) -> str:
    if isinstance(error, CommandError):
        return str(error)
    if isinstance(error, APIError):
        return f"API error {error}"
    if isinstance(error, OAuth2Error):
        return f"OAuth2 error: {error}"
    if isinstance(error, TransportError):
        sent = "" if error.request_sent else " (the request was not sent)"
        return f"no answer from the server: {error}{sent}"
    if isinstance(error, ProtocolError):
        return f"unreadable answer from the server: {error}"
    if isinstance(error, StructureError):
        return f"the answer does not fit the models: {error}"
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        return f"{error.filename}: {error.strerror}"
    if isinstance(error, OSError) and error.strerror:
        return f"{error.strerror} ({errno.errorcode.get(error.errno or 0, error.errno)})"
    if isinstance(error, (ValueError, TypeError)):
        return str(error)
    return f"internal error: {type(error).__name__}: {error}"


def _one_line(text: str, limit: int = 2000) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else f"{line[:limit]} [... {len(line) - limit} more]"


_FLAG_HINTS: Final = (
    # The library's hints name its Python arguments; the command's user has flags.
    (re.compile(r"pass allow_insecure_http=True"), "pass --allow-insecure-http"),
    (
        re.compile(r"\(Client\(\.\.\., signer=\.\.\.\) with one of ([^)]*)\)"),
        "(--signer with one of page-hash, query-hash, hmac)",
    ),
)


def _as_flags(text: str) -> str:
    """A message whose hints name the Python arguments, with the command's flags."""
    for pattern, flag in _FLAG_HINTS:
        text = pattern.sub(flag, text)
    return text


def report(
    error: BaseException,
    secrets: Secrets,
    *,
    debug: bool = False,
    stream: TextIO | None = None,
    note: str = "",
) -> int:
    """Print ``error`` on one line (after its traceback with ``debug``), ``note`` at
    its end; return its exit code.

    Every line printed has the secrets masked, the traceback included.
    """
    out = stream if stream is not None else sys.stderr
    code = exit_code(error)
    if debug:
        lines: Iterable[str] = traceback.format_exception(error)
        out.write(secrets.mask("".join(lines)))
    message = _one_line(secrets.mask(_as_flags(_describe(error))))
    hint = "" if debug or code in (EXIT_USAGE, EXIT_INTERRUPTED) else " (--debug for details)"
    tail = f"; {note}" if note else ""
    out.write(f"worksection: error: {message}{hint}{tail}\n")
    out.flush()
    return code
