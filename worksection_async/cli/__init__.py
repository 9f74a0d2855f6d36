"""``worksection``: the command line (the ``cli`` extra: click and rich).

::

    export WORKSECTION_URL=https://acme.worksection.com WORKSECTION_API_KEY=...
    worksection call get_task /project/1/2/ extra=comments
    worksection tasks 1 --active --fields id,name,user_to.email --format csv
    worksection export --comments --out tasks.ndjson      # Ctrl-C, then --resume

``import worksection_async`` never imports this package, and importing it does not
import click or rich either: :func:`run` does, when the command runs.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main", "run"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (``sys.argv[1:]`` by default); the exit code."""
    try:
        from ._app import main as app_main
    except ImportError as exc:
        missing = exc.name or "a dependency"
        sys.stderr.write(
            f"worksection: the command needs the cli extra ({missing} is missing): "
            "pip install 'worksection-async[cli]'\n"
        )
        return 2
    return app_main(argv)


def run() -> None:
    """The ``worksection`` console script."""
    sys.exit(main())
