"""``Client.from_env``: one set of environment names, and clear errors naming them."""

from __future__ import annotations

import pytest

from worksection_async import Client
from worksection_async.shared import SharedQuota

URL = "https://acme.worksection.com"


def test_reads_url_and_key() -> None:
    client = Client.from_env({"WORKSECTION_URL": URL, "WORKSECTION_API_KEY": "k3y"})
    assert str(client.account_url).rstrip("/") == URL
    assert client.quota.configured_rate == pytest.approx(0.97)  # 3 % margin


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"WORKSECTION_API_KEY": "k3y"}, "WORKSECTION_URL is not set"),
        ({"WORKSECTION_URL": " ", "WORKSECTION_API_KEY": "k3y"}, "WORKSECTION_URL is empty"),
        ({"WORKSECTION_URL": URL}, "WORKSECTION_API_KEY is not set"),
        ({"WORKSECTION_URL": URL, "WORKSECTION_API_KEY": ""}, "WORKSECTION_API_KEY is empty"),
    ],
)
def test_missing_or_empty_variable_is_named(environ: dict[str, str], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        Client.from_env(environ)


def test_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKSECTION_URL", URL)
    monkeypatch.setenv("WORKSECTION_API_KEY", "k3y")
    monkeypatch.setenv("WORKSECTION_RATE", "2.5")
    assert Client.from_env().quota.configured_rate == pytest.approx(2.5 * 0.97)


def test_rate_off_turns_the_quota_off() -> None:
    env = {"WORKSECTION_URL": URL, "WORKSECTION_API_KEY": "k3y", "WORKSECTION_RATE": "off"}
    assert Client.from_env(env).quota.configured_rate is None


@pytest.mark.parametrize("rate", ["fast", "-1", "inf", "nan"])
def test_bad_rate_is_named_and_not_echoed(rate: str) -> None:
    env = {"WORKSECTION_URL": URL, "WORKSECTION_API_KEY": "k3y", "WORKSECTION_RATE": rate}
    with pytest.raises(ValueError, match="WORKSECTION_RATE") as info:
        Client.from_env(env)
    assert "k3y" not in str(info.value)


def test_shared_quota_from_url_or_off(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    real = SharedQuota.from_url

    def from_url(url: str, **kwargs: object) -> SharedQuota:
        seen.append(url)
        return real(url)

    monkeypatch.setattr(SharedQuota, "from_url", from_url)
    env = {"WORKSECTION_URL": URL, "WORKSECTION_API_KEY": "k3y"}
    Client.from_env({**env, "WORKSECTION_SHARED_QUOTA": "off"})
    assert seen == []
    Client.from_env({**env, "WORKSECTION_SHARED_QUOTA": "redis://127.0.0.1:1/0"})
    assert seen == ["redis://127.0.0.1:1/0"]


def test_options_win_over_the_environment() -> None:
    env = {"WORKSECTION_URL": URL, "WORKSECTION_API_KEY": "k3y", "WORKSECTION_RATE": "bad"}
    assert Client.from_env(env, rate_limit=None).quota.configured_rate is None


def test_the_command_reads_worksection_rate(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command line takes the same names: a bad WORKSECTION_RATE is a usage error
    before any request (the account is a closed port)."""
    from worksection_async.cli import main

    monkeypatch.setenv("WORKSECTION_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("WORKSECTION_API_KEY", "k3y")
    monkeypatch.setenv("WORKSECTION_RATE", "fast")
    assert main(["projects"]) == 2
    assert "WORKSECTION_RATE" in capsys.readouterr().err
