"""``rallylens study`` and the failure outlook of ``rallylens analyze``."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from rallylens.cli import cli


def invoke(store: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--store", str(store), *args])
    return result.exit_code, result.stdout, result.output


def test_study_json_and_event_table(real_store_path: Path, tmp_path: Path) -> None:
    out_file = tmp_path / "events.parquet"
    code, stdout, output = invoke(
        real_store_path,
        *("study", "--assets", "BTC,ETH", "--since", "2018-01-01"),
        *("-o", str(out_file), "--json"),
    )
    assert code == 0, output
    summary = json.loads(stdout)
    events = pl.read_parquet(out_file)
    assert summary["n_events"] == events.height
    assert set(events["asset"].unique()) == {"BTC", "ETH"}
    assert events["low_ts"].dt.year().min() >= 2018
    first = events.filter(
        (pl.col("checkpoint_days") == 0)
        & (pl.col("event_status") == "ok")
        & pl.col("fwd_failed_90d").is_not_null()
    )
    overall = next(r for r in summary["hit_rates"] if r["by"] == "all")
    assert overall["n"] == first.height
    assert overall["fail_rate"] == pytest.approx(first["fwd_failed_90d"].mean())
    assert overall["fail_lo"] <= overall["fail_rate"] <= overall["fail_hi"]
    scores = summary["scores"]
    assert scores["n_scored"] > 50
    assert 0 < scores["brier"] < 1 and 0 < scores["base_brier"] < 1
    assert any("OI available for" in line for line in summary["coverage"])
    assert {d["reason"] for d in summary["dropped"]} >= {"model_warm_up"}


def test_study_table_and_bad_output(real_store_path: Path, tmp_path: Path) -> None:
    code, _, output = invoke(
        real_store_path, "study", "--assets", "SOL", "-o", str(tmp_path / "e.xlsx")
    )
    assert code == 1
    assert "use a .parquet or .csv file name" in output
    code, stdout, output = invoke(
        real_store_path, "study", "--assets", "SOL", "-o", str(tmp_path / "e.csv")
    )
    assert code == 0, output
    assert "failure within 90 days" in stdout
    assert "walk-forward model" in stdout
    assert pl.read_csv(tmp_path / "e.csv").height > 0


def test_unknown_asset_is_refused(real_store_path: Path) -> None:
    code, _, output = invoke(real_store_path, "study", "--assets", "NOPE")
    assert code == 1
    assert "none of NOPE has prices in the store" in output


def test_analyze_carries_the_failure_outlook(real_store_path: Path) -> None:
    code, stdout, output = invoke(
        real_store_path, "analyze", "BTC", "--at", "2022-08-10", "--json"
    )
    assert code == 0, output
    failure = json.loads(stdout)["failure"]
    assert 0 < failure["p_fail"] < 1
    assert failure["text"].startswith(
        f"P(fail within 90 days) = {failure['p_fail']:.2f} (walk-forward model, "
        f"n={failure['n_rallies']} past rallies"
    )
    assert len(failure["analogues"]) == 3
    for analogue in failure["analogues"]:
        # analogues are settled by the as-of time: their outcome is known
        assert analogue["failed"] in (True, False)
        assert analogue["low_ts"] < "2022-05-12"
    code, stdout, _ = invoke(
        real_store_path, "analyze", "BTC", "--at", "2022-08-10", "--no-study", "--json"
    )
    assert json.loads(stdout)["failure"] is None
