"""The examples read the library's environment names and fail with a sentence."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_examples_use_the_library_names() -> None:
    for name in ("bot.py", "service.py"):
        text = (ROOT / "examples" / name).read_text(encoding="utf-8")
        assert "WORKSECTION_KEY" not in text
        assert "Client.from_env" in text


def test_service_without_hook_password_says_so() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WORKSECTION_", "HOOK_"))}
    env |= {"WORKSECTION_URL": "https://acme.worksection.com", "WORKSECTION_API_KEY": "k3y"}
    done = subprocess.run(  # noqa: S603
        [sys.executable, str(ROOT / "examples" / "service.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "HOOK_PASSWORD" in done.stderr
    assert "Traceback" not in done.stderr
