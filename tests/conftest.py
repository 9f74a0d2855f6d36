"""Shared fixtures: anyio backends, a recording clock, a respx-backed client factory."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio.lowlevel
import httpx
import pytest
import respx

from worksection_async import Client


def _preload_lazy_plugin_modules() -> None:
    """Import the modules that plugin packages load lazily mid-test, now, at a shallow
    stack.

    pytest rewrites the asserts of plugin packages (Hypothesis, anyio) on import, and
    CPython 3.11.7 can fail ``ast.parse`` with "SystemError: AST constructor recursion
    depth mismatch" when that import happens deep inside a running test (seen once in
    tests/test_fake_fuzz.py, importing hypothesis.internal.conjecture.optimiser).
    """
    import hypothesis.internal.conjecture

    for module in pkgutil.walk_packages(
        hypothesis.internal.conjecture.__path__, "hypothesis.internal.conjecture."
    ):
        importlib.import_module(module.name)
    for name in (
        "hypothesis.database",
        "hypothesis.internal.observability",
        "hypothesis.internal.constants_ast",
        "hypothesis.strategies._internal.lazy",
        "hypothesis.strategies._internal.utils",
        "hypothesis.vendor.pretty",
        "anyio._core._fileio",  # behind anyio.open_file / anyio.Path
    ):
        importlib.import_module(name)


_preload_lazy_plugin_modules()

ACCOUNT = "https://acme.worksection.com"
API_KEY = "test-api-key-0123456789abcdef"


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Core tests run on both of anyio's backends."""
    return str(request.param)


class RecordingClock:
    """A clock whose sleeps return at once, advance virtual time and are recorded."""

    def __init__(self) -> None:
        self.t = 0.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds
        await anyio.lowlevel.checkpoint()


@pytest.fixture
def clock() -> RecordingClock:
    return RecordingClock()


@pytest.fixture
def router() -> respx.MockRouter:
    """A respx router for the test account; unmatched requests fail the test."""
    return respx.MockRouter(base_url=ACCOUNT, assert_all_called=False)


def ok(data: Any = None, **top: Any) -> httpx.Response:
    body: dict[str, Any] = {"status": "ok"}
    if data is not None:
        body["data"] = data
    body.update(top)
    return httpx.Response(200, json=body)


def error(code: int, message: str, details: Any = None) -> httpx.Response:
    body: dict[str, Any] = {"status": "error", "status_code": code, "message": message}
    if details is not None:
        body["message_details"] = details
    return httpx.Response(200, json=body)


@pytest.fixture
def make_client(router: respx.MockRouter, clock: RecordingClock) -> Callable[..., Client]:
    """Build a Client whose HTTP goes to the respx router and whose waits are recorded."""

    def factory(**kwargs: Any) -> Client:
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("rate_limit", None)  # unit tests of one layer: no quota waits
        return Client(
            ACCOUNT, API_KEY, transport=httpx.MockTransport(router.async_handler), **kwargs
        )

    return factory


@pytest.fixture
async def client(make_client: Callable[..., Client]) -> AsyncIterator[Client]:
    async with make_client() as c:
        yield c
