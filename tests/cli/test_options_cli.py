"""``rallylens options`` on the real Deribit chains."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from rallylens.cli import cli
from rallylens.schemas import DVOL, TS
from rallylens.store import Store, dvol_history


def run(store: Path, *args: str) -> object:
    result = CliRunner().invoke(cli, ["--store", str(store), "options", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout) if "--json" in args else result.stdout


def test_options_at_2020_05_14_json(real_store_path: Path) -> None:
    out = run(real_store_path, "BTC", "--at", "2020-05-14", "--json")
    assert isinstance(out, dict)
    assert out["ts"].startswith("2020-05-14T05:41")
    assert out["positioning"] == "dealer_long_calls_short_puts"
    assert "estimate" in out["note"]
    strikes = [row["strike"] for row in out["by_strike"]]
    assert strikes == sorted(strikes) and len(strikes) > 20
    for row in out["by_strike"]:
        assert row["call_gex_usd"] >= 0 >= row["put_gex_usd"]
        assert row["net_gex_usd"] == pytest.approx(
            row["call_gex_usd"] + row["put_gex_usd"]
        )
    assert out["total_gex_usd"] == pytest.approx(
        sum(r["net_gex_usd"] for r in out["by_strike"])
    )
    assert out["call_wall"] in strikes and out["put_wall"] in strikes
    spot = out["spot"]
    assert 9_300 < spot < 9_400  # the index was 9,344-9,354 during the snapshot
    assert out["gamma_flip"] is None or 0.7 * spot <= out["gamma_flip"] <= 1.3 * spot
    ivs = out["cm_atm_iv"]
    assert all(0.3 < ivs[d] < 2.0 for d in ("7", "30", "90") if ivs[d] is not None)
    assert out["cm_rr25"]["30"] is not None and out["cm_bf25"]["30"] is not None
    call_oi = sum(r["call_oi"] for r in out["by_strike"])
    put_oi = sum(r["put_oi"] for r in out["by_strike"])
    assert out["put_call_oi_ratio"] == pytest.approx(put_oi / call_oi)


def test_positioning_flips_the_put_sign(real_store_path: Path) -> None:
    out = run(
        real_store_path,
        "BTC",
        "--at",
        "2020-05-14",
        "--json",
        "--positioning",
        "dealer_long_all",
    )
    assert isinstance(out, dict)
    assert all(r["put_gex_usd"] >= 0 for r in out["by_strike"])
    assert out["positioning"] == "dealer_long_all"


def test_options_table_and_missing_chain(real_store_path: Path) -> None:
    text = run(real_store_path, "BTC", "--at", "2020-05-14")
    assert "gamma flip" in str(text) and "call wall" in str(text)
    result = CliRunner().invoke(
        cli, ["--store", str(real_store_path), "options", "BTC", "--at", "2019-01-01"]
    )
    assert result.exit_code == 1
    assert "no BTC option chain taken by 2019-01-02" in result.output


def test_history_has_one_row_per_snapshot(real_store_path: Path) -> None:
    out = run(real_store_path, "BTC", "--history", "--json", "--at", "2024-12-31")
    assert isinstance(out, dict)
    stamps = [row["ts"][:16] for row in out["snapshots"]]
    assert stamps == ["2020-05-14T05:41", "2020-05-21T23:19", "2024-05-24T19:16"]
    latest = run(real_store_path, "BTC", "--json", "--at", "2020-05-21")
    assert isinstance(latest, dict)
    second = out["snapshots"][1]
    assert second["total_gex_usd"] == pytest.approx(latest["total_gex_usd"])
    assert second["gamma_flip"] == pytest.approx(latest["gamma_flip"])
    # DVOL as known at each snapshot: none before Deribit's index history in the
    # store; on 2024-05-24 19:16 the last closed daily bar is 2024-05-23's
    assert out["snapshots"][0]["dvol"] is None
    with Store(real_store_path, read_only=True) as store:
        dvol = dvol_history(store, "BTC")
    known = dvol.filter(pl.col(TS) <= datetime(2024, 5, 24, 19, 16, tzinfo=UTC))
    assert known[TS][-1] == datetime(2024, 5, 24, tzinfo=UTC)
    assert out["snapshots"][2]["dvol"] == pytest.approx(known[DVOL][-1])


def test_analyze_carries_the_chain_positioning(real_store_path: Path) -> None:
    """The rally anatomy on 2020-05-14 uses the chain snapshot of that morning."""
    chain = run(real_store_path, "BTC", "--at", "2020-05-14", "--json")
    args = ["analyze", "BTC", "--at", "2020-05-14", "--json"]
    result = CliRunner().invoke(cli, ["--store", str(real_store_path), *args])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert isinstance(chain, dict)
    options = out["anatomy"]["options"]
    assert options["dealer_gex_usd"] == pytest.approx(chain["total_gex_usd"])
    close = out["last_close"]
    assert options["vs_gamma_flip"] == pytest.approx(close / chain["gamma_flip"] - 1)
    assert options["call_wall_distance"] == pytest.approx(
        chain["call_wall"] / close - 1
    )
    assert options["rr25_last"] == pytest.approx(chain["cm_rr25"]["30"])
    # one snapshot only (none near the rally's low): no change over the rally
    assert options["rr25_change"] is None
    assert "rr25_change" in out["missing"]
