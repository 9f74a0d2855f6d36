"""``python -m worksection_async.cli``: the ``worksection`` command."""

from __future__ import annotations

from . import run

if __name__ == "__main__":
    run()
