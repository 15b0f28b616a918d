"""``rallylens serve``: loopback by default, the global store, clear errors."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from rallylens.cli._serve import serve_cmd
from rallylens.cli.app import _Context


def invoke(store: Path, *args: str) -> Result:
    return CliRunner().invoke(serve_cmd, list(args), obj=_Context(str(store)))


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Calls of uvicorn.run (which is replaced: nothing listens)."""
    import uvicorn

    calls: list[dict[str, Any]] = []

    def fake_run(app: Any, **kwargs: Any) -> None:
        calls.append({"app": app, **kwargs})

    monkeypatch.setattr(uvicorn, "run", fake_run)
    return calls


def test_serves_the_global_store_on_loopback(
    synthetic_store: Path, runs: list[dict[str, Any]]
) -> None:
    result = invoke(synthetic_store)
    assert result.exit_code == 0, result.output
    (call,) = runs
    assert call["host"] == "127.0.0.1"
    assert call["port"] == 8000
    dashboard = call["app"].state.dashboard
    assert dashboard.store_path == synthetic_store
    assert dashboard.timeframe == "1d"
    assert "http://127.0.0.1:8000/" in result.output


def test_options(synthetic_store: Path, runs: list[dict[str, Any]]) -> None:
    result = invoke(synthetic_store, "--port", "8123", "--timeframe", "4h")
    assert result.exit_code == 0, result.output
    assert runs[0]["port"] == 8123
    assert runs[0]["app"].state.dashboard.timeframe == "4h"


def test_other_hosts_are_warned_about(
    synthetic_store: Path, runs: list[dict[str, Any]]
) -> None:
    result = invoke(synthetic_store, "--host", "0.0.0.0")
    assert result.exit_code == 0
    assert "anyone who can reach this address" in result.output
    assert runs[0]["host"] == "0.0.0.0"


def test_missing_store_is_one_clear_error(
    tmp_path: Path, runs: list[dict[str, Any]]
) -> None:
    result = invoke(tmp_path / "none.duckdb")
    assert result.exit_code == 1
    assert "StoreError: no store at" in result.output
    assert not runs


def test_missing_web_extra_says_what_to_install(
    synthetic_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    result = invoke(synthetic_store)
    assert result.exit_code == 1
    assert "ConfigError" in result.output
    assert "pip install 'rallylens[web]'" in result.output


def test_bad_port_is_a_usage_error(synthetic_store: Path) -> None:
    assert invoke(synthetic_store, "--port", "0").exit_code == 2
