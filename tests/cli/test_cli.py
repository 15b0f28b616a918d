"""The ``rallylens`` command line: import and store info, run through CliRunner."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from rallylens.cli import cli

T0 = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No user config file or RALLYLENS_STORE leaks into the tests."""
    monkeypatch.setenv("RALLYLENS_CONFIG", str(tmp_path / "no-config.toml"))
    monkeypatch.delenv("RALLYLENS_STORE", raising=False)


def _run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def _hourly_file(path: Path, hours: list[int]) -> Path:
    lines = ["date,open,high,low,close,volume"]
    for h in hours:
        ts = (T0 + timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%SZ")
        lines.append(f"{ts},{100 + h},{101 + h},{99 + h},{100.5 + h},{h + 1}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def test_import_json(tmp_path: Path) -> None:
    store = tmp_path / "s.duckdb"
    path = _hourly_file(tmp_path / "binance" / "BTC_USDT-1h.csv", [0, 1, 2, 3])
    result = _run("--store", store, "import", path, "--json")
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert row["file"] == str(path)
    assert row["status"] == "imported"
    assert row["preset"] == "freqtrade"
    assert row["series"] == "binance:BTC/USDT:ohlcv:1h"
    assert (row["rows"], row["inserted"], row["conflicting"]) == (4, 4, 0)
    assert row["first_ts"] == "2024-01-01T00:00:00Z"
    assert row["last_ts"] == "2024-01-01T03:00:00Z"
    assert row["error"] is None

    again = _run("--store", store, "import", path, "--json")
    assert again.exit_code == 0
    (row,) = json.loads(again.stdout)
    assert (row["status"], row["inserted"]) == ("skipped", 0)


def test_import_table_output(tmp_path: Path) -> None:
    store = tmp_path / "s.duckdb"
    path = _hourly_file(tmp_path / "binance" / "BTC_USDT-1h.csv", [0, 1, 2])
    result = _run("--store", store, "import", path)
    assert result.exit_code == 0
    assert "1 files: 1 imported; 3 new rows" in result.stdout


def test_dry_run_creates_no_series(tmp_path: Path) -> None:
    store = tmp_path / "s.duckdb"
    path = _hourly_file(tmp_path / "binance" / "BTC_USDT-1h.csv", [0, 1, 2])
    result = _run("--store", store, "import", path, "--dry-run", "--json")
    assert result.exit_code == 0
    (row,) = json.loads(result.stdout)
    assert (row["status"], row["rows"], row["inserted"]) == ("checked", 3, 0)
    info = _run("--store", store, "store", "info", "--json")
    assert json.loads(info.stdout) == []


@pytest.mark.parametrize(
    ("hours", "gaps", "largest"),
    [
        ([0, 1, 2, 6, 7], 3, 3),  # 03:00, 04:00, 05:00 missing
        ([0, 2, 3, 6, 7], 3, 2),  # 01:00 missing, then 04:00 and 05:00
        ([0, 1, 2, 3, 4], 0, 0),
    ],
)
def test_store_info_json_counts_gaps(
    tmp_path: Path, hours: list[int], gaps: int, largest: int
) -> None:
    store = tmp_path / "s.duckdb"
    path = _hourly_file(tmp_path / "binance" / "BTC_USDT-1h.csv", hours)
    assert _run("--store", store, "import", path, "--json").exit_code == 0
    result = _run("--store", store, "store", "info", "--json")
    assert result.exit_code == 0
    (info,) = json.loads(result.stdout)
    assert info["series"] == "binance:BTC/USDT:ohlcv:1h"
    assert info["asset"] == "BTC"
    assert info["first_ts"] == "2024-01-01T00:00:00Z"
    assert info["last_ts"] == f"2024-01-01T{hours[-1]:02d}:00:00Z"
    assert info["rows"] == len(hours)
    assert (info["gaps"], info["largest_gap_bars"]) == (gaps, largest)
    assert info["sources"] == [str(path.resolve())]


def test_store_info_asset_filter_and_empty_store(tmp_path: Path) -> None:
    store = tmp_path / "s.duckdb"
    empty = _run("--store", store, "store", "info")
    assert empty.exit_code == 0
    assert "is empty" in " ".join(empty.stdout.split())
    path = _hourly_file(tmp_path / "binance" / "BTC_USDT-1h.csv", [0, 1])
    _run("--store", store, "import", path, "--json")
    eth = _run("--store", store, "store", "info", "--asset", "eth", "--json")
    assert json.loads(eth.stdout) == []
    btc = _run("--store", store, "store", "info", "--asset", "btc", "--json")
    assert [s["market"] for s in json.loads(btc.stdout)] == ["BTC/USDT"]


def test_unrecognised_file_fails_with_one_error_line(tmp_path: Path) -> None:
    path = tmp_path / "mystery.csv"
    path.write_text("when,what\n2024-01-01,1\n")
    result = _run("--store", tmp_path / "s.duckdb", "import", path)
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if "ParseError" in line]
    assert len(lines) == 1, result.output
    assert f"ParseError: {path}: format not recognised" in lines[0]
    assert "Traceback" not in result.output


def test_unrecognised_file_json(tmp_path: Path) -> None:
    path = tmp_path / "mystery.csv"
    path.write_text("when,what\n2024-01-01,1\n")
    result = _run("--store", tmp_path / "s.duckdb", "import", path, "--json")
    assert result.exit_code == 1
    (row,) = json.loads(result.stdout)
    assert row["status"] == "failed"
    assert row["error"].startswith(f"ParseError: {path}: format not recognised")


def test_unknown_preset_lists_the_presets(tmp_path: Path) -> None:
    path = _hourly_file(tmp_path / "binance" / "BTC_USDT-1h.csv", [0, 1])
    result = _run("--store", tmp_path / "s.duckdb", "import", path, "--preset", "nope")
    assert result.exit_code == 1
    assert "unknown preset 'nope'" in result.output
    for name in ("binance-klines", "cryptodatadownload", "freqtrade", "generic"):
        assert name in result.output


def test_bad_mapping_file_is_one_config_error(tmp_path: Path) -> None:
    mapping = tmp_path / "bad.toml"
    mapping.write_text('[[file]]\nmatch = "x.csv"\npreset = "generic"\ncolums = {}\n')
    path = _hourly_file(tmp_path / "binance" / "BTC_USDT-1h.csv", [0, 1])
    result = _run(
        "--store", tmp_path / "s.duckdb", "import", path, "--mapping", mapping
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("ConfigError: ")
    assert "colums" in result.stderr
    assert "Traceback" not in result.output


def test_unknown_kind_is_a_usage_error_listing_kinds(tmp_path: Path) -> None:
    path = _hourly_file(tmp_path / "binance" / "BTC_USDT-1h.csv", [0, 1])
    result = CliRunner().invoke(
        cli,
        [
            "--store",
            str(tmp_path / "s.duckdb"),
            "import",
            str(path),
            "--kind",
            "candles",
        ],
    )
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.exit_code == 2, result.output
    assert "'candles' is not one of" in result.stderr
    assert "'ohlcv'" in result.stderr  # the known kinds are listed
    assert not (tmp_path / "s.duckdb").exists()


def test_missing_path_is_a_clean_error(tmp_path: Path) -> None:
    result = _run("--store", tmp_path / "s.duckdb", "import", tmp_path / "nothing.csv")
    assert result.exit_code == 1
    assert "no such file or directory" in result.stderr


def test_no_arguments_prints_usage() -> None:
    result = CliRunner().invoke(cli, [])
    assert result.exit_code == 2
    assert "Usage:" in result.output
    assert "import" in result.output


@pytest.mark.slow
def test_real_data_end_to_end(
    tmp_path: Path, shared_raw: Path, mappings_dir: Path
) -> None:
    store = tmp_path / "real.duckdb"
    args = [
        "--store",
        store,
        "import",
        shared_raw / "binance_perp_1d_taker_lazzmatazz",
        shared_raw / "kalyar_eth_dashboard" / "funding_rate_btc.csv",
        "--mapping",
        mappings_dir,
        "--json",
    ]
    first = _run(*args)
    assert first.exit_code == 0, first.output
    rows = {r["series"]: r for r in json.loads(first.stdout)}
    # PROVENANCE sections 7 and 9
    expected = {
        "binance:BTC/USDT:USDT:ohlcv:1d": 2465,
        "binance:ETH/USDT:USDT:ohlcv:1d": 2465,
        "binance:BTC/USDT:USDT:funding:settle": 3316,
    }
    assert {k: v["inserted"] for k, v in rows.items()} == expected
    assert {v["status"] for v in rows.values()} == {"imported"}

    again = _run(*args)
    assert again.exit_code == 0
    rerun = json.loads(again.stdout)
    assert [r["status"] for r in rerun] == ["skipped"] * 3
    assert sum(r["inserted"] for r in rerun) == 0

    info = json.loads(_run("--store", store, "store", "info", "--json").stdout)
    by_series = {s["series"]: s for s in info}
    assert {k: v["rows"] for k, v in by_series.items()} == expected
    assert {v["gaps"] for v in by_series.values()} == {0}  # no gaps in either
    funding = by_series["binance:BTC/USDT:USDT:funding:settle"]
    assert funding["first_ts"] == "2022-11-03T08:00:00Z"
    assert funding["last_ts"] == "2025-11-12T08:00:00Z"
    assert "percent" in funding["notes"]
