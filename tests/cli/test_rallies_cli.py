"""``rallylens rallies`` and ``rallylens analyze`` on the real data set."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from rallylens.cli import cli

KINDS = {"bear_market_rally", "spot_led", "leveraged_long", "undetermined"}


def run(store: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--store", str(store), *args])


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.mark.parametrize("asset", ["BTC", "ETH"])
def test_rallies_json_rows_are_consistent(real_store_path: Path, asset: str) -> None:
    rows = as_json(
        run(real_store_path, "rallies", asset, "--since", "2018-01-01", "--json")
    )
    assert len(rows) > 20
    for row in rows:
        assert when(row["low_ts"]) >= when("2018-01-01T00:00:00Z")
        assert row["verdict"] in KINDS
        assert row["peak_price"] >= row["low_price"] > 0
        assert when(row["confirm_ts"]) >= when(row["low_ts"])
        assert row["max_gain"] == pytest.approx(
            row["peak_price"] / row["low_price"] - 1
        )
        assert row["max_gain"] >= row["threshold"] - 1e-12  # confirmed by the rule
    assert [r["low_ts"] for r in rows] == sorted(r["low_ts"] for r in rows)
    assert sum(r["status"] == "in_progress" for r in rows) <= 1


def test_rallies_finds_the_known_btc_rallies(real_store_path: Path) -> None:
    rows = as_json(
        run(real_store_path, "rallies", "BTC", "--since", "2018-01-01", "--json")
    )
    lows = [when(r["low_ts"]) for r in rows]
    for expected in (
        "2018-02-06",
        "2018-04-06",
        "2022-01-24",
        "2022-06-18",
        "2023-01-01",
    ):
        target = when(expected + "T00:00:00Z")
        nearest = min(lows, key=lambda d: abs(d - target))
        assert abs(nearest - target) <= timedelta(days=3), (expected, nearest)


def test_rallies_table_output(real_store_path: Path) -> None:
    result = run(
        real_store_path,
        "rallies",
        "BTC",
        "--since",
        "2022-01-01",
        "--until",
        "2023-01-01",
    )
    assert result.exit_code == 0, result.output
    assert "2022-06-18" in result.output
    assert "2018-02-05" not in result.output
    assert "verdict" in result.output


def test_analyze_at_2022_08_10(real_store_path: Path) -> None:
    out = as_json(
        run(real_store_path, "analyze", "BTC", "--at", "2022-08-10", "--json")
    )
    assert out["as_of"].startswith("2022-08-11T00:00:00")
    assert out["status"] == "in_progress"
    assert out["rally"]["low_ts"].startswith("2022-06-18")
    assert out["verdict"] in KINDS
    anatomy = out["anatomy"]
    # series that exist in August 2022: OI, liquidations, funding, spot, perp
    for group, signal in [
        ("leverage", "oi_change"),
        ("leverage", "short_covering_share"),
        ("liquidations", "liq_short_usd"),
        ("funding", "funding_apr_mean"),
        ("spot_vs_perp", "spot_share"),
        ("price", "max_retraced"),
        ("levels", "vwap_decline"),
    ]:
        assert anatomy[group][signal] is not None, signal
    # DVOL starts in November 2022: named as missing, with the reason
    assert anatomy["volatility"]["iv_change"] is None
    assert "dvol" in out["missing"]["iv_change"]
    assert out["levels"]["invalidation_below"] == pytest.approx(
        out["rally"]["low_price"]
    )
    assert sum(out["coverage"].values()) > 0
    assert out["headline"]


def test_analyze_at_2026_01_14_has_dvol_and_funding(real_store_path: Path) -> None:
    out = as_json(
        run(real_store_path, "analyze", "BTC", "--at", "2026-01-14", "--json")
    )
    assert out["as_of"].startswith("2026-01-15T00:00:00")
    anatomy = out["anatomy"]
    assert anatomy["volatility"]["iv_change"] is not None
    assert anatomy["funding"]["funding_apr_last"] is not None
    assert when(out["rally"]["low_ts"]) < when("2026-01-15T00:00:00Z")
    assert when(out["rally"]["as_of"]) <= when("2026-01-14T00:00:00Z")


def test_analyze_table_output(real_store_path: Path) -> None:
    result = run(real_store_path, "analyze", "BTC", "--at", "2022-08-10")
    assert result.exit_code == 0, result.output
    for text in ("verdict:", "levels to watch", "could not be computed", "anatomy"):
        assert text in result.output


def test_analyze_without_store_is_one_clear_error(tmp_path: Path) -> None:
    result = run(tmp_path / "none.duckdb", "analyze", "BTC", "--offline")
    assert result.exit_code == 1
    assert "no store at" in result.output and "rallylens import" in result.output


def test_analyze_unknown_asset(real_store_path: Path) -> None:
    result = run(real_store_path, "analyze", "NOPE", "--offline")
    assert result.exit_code == 1
    assert "NOPE" in result.output


def test_bad_at_is_a_usage_error(real_store_path: Path) -> None:
    result = run(real_store_path, "analyze", "BTC", "--at", "yesterday")
    assert result.exit_code == 2
    assert "yesterday" in result.output
