"""``rallylens fetch`` and ``rallylens analyze`` against the local venue emulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from click.testing import CliRunner, Result

from rallylens._typing import SeriesKind
from rallylens.cli import cli
from rallylens.schemas import TS, SeriesKey
from rallylens.store import Store, read_series
from tests.emulator import Emulator, Fault
from tests.emulator.binance import BinanceData, install_binance
from tests.emulator.bybit import install_bybit
from tests.emulator.deribit import install_deribit
from tests.emulator.okx import install_okx

SPOT = SeriesKey("binance", "BTC/USDT", SeriesKind.OHLCV, "1d")
PERP = SeriesKey("binance", "BTC/USDT:USDT", SeriesKind.OHLCV, "1d")


@dataclass
class World:
    emu: Emulator
    binance: BinanceData
    store: Path
    env: dict[str, str]

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(
            cli, ["--store", str(self.store), *args], env=self.env
        )


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    with Emulator() as emu:
        binance = install_binance(emu, now=now, seed=3, history_days=400)
        install_bybit(emu, now=now, seed=4, days=400)
        install_okx(emu, now=now, seed=5)
        install_deribit(emu, now=now, seed=6)
        config = tmp_path / "config.toml"
        config.write_text(
            f'[fetch]\nbase_url = "{emu.base_url}"\nhistory_days = 300\n'
            "timeout_seconds = 5\n"
        )
        yield World(
            emu, binance, tmp_path / "s.duckdb", {"RALLYLENS_CONFIG": str(config)}
        )


def payload(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def stored(world: World, key: SeriesKey) -> pl.DataFrame:
    with Store(world.store, read_only=True) as store:
        return read_series(store, key)


def test_fetch_stores_exactly_the_venue_data(world: World) -> None:
    out = payload(world.run("fetch", "BTC", "--json"))
    statuses = {row["series"]: row["status"] for row in out["series"]}
    assert statuses and set(statuses.values()) == {"updated"}, out
    assert out["venue_errors"] == {}
    for key in (SPOT, PERP):
        truth = world.binance.truth(key)
        got = stored(world, key)
        since = got[TS].min()
        assert since <= datetime.now(UTC) - timedelta(days=299)
        assert got.equals(truth.filter(pl.col(TS) >= since)), key
    # the history limit of Binance's open interest is said, not hidden
    oi = next(
        r
        for r in out["series"]
        if "open_interest" in r["series"] and "binance" in r["series"]
    )
    assert "30" in oi["note"] or "history only" in oi["note"]


def test_second_run_fetches_only_what_is_new(world: World) -> None:
    payload(world.run("fetch", "BTC", "--json"))
    before = len(world.emu.log)
    again = payload(world.run("fetch", "BTC", "--json"))
    assert sum(r["inserted"] for r in again["series"]) <= 8  # at most a new bar each
    klines = [r for r in world.emu.log[before:] if r.path.endswith("/klines")]
    last = stored(world, SPOT)[TS].max()
    for request in klines:
        assert int(request.query["startTime"]) > int(last.timestamp() * 1000) - 1


def test_a_failing_venue_does_not_stop_the_rest(world: World) -> None:
    world.emu.inject(
        Fault("451", match="www.okx.com/api/v5/(market|public/funding|rubik)", times=50)
    )
    out = payload(world.run("fetch", "BTC", "--json"))
    by_venue: dict[str, set[str]] = {}
    for row in out["series"]:
        by_venue.setdefault(row["series"].split(":")[0], set()).add(row["status"])
    assert by_venue["okx"] == {"failed"}
    assert by_venue["binance"] == {"updated"}
    okx_note = next(r["note"] for r in out["series"] if r["series"].startswith("okx"))
    assert "refuses requests from this location" in okx_note


def test_analyze_fetches_then_judges(world: World) -> None:
    out = payload(world.run("analyze", "BTC", "--json"))
    assert out["verdict"] in {
        "bear_market_rally",
        "spot_led",
        "leveraged_long",
        "undetermined",
    }
    assert stored(world, SPOT).height >= 299
    assert out["anatomy"]["funding"]["funding_apr_mean"] is not None
    before = len(world.emu.log)
    again = CliRunner().invoke(
        cli, ["--store", str(world.store), "analyze", "BTC"], env=world.env
    )
    assert again.exit_code == 0, again.output
    assert "verdict:" in again.stdout
    assert "fetched" in again.stderr
    assert len(world.emu.log) - before < 60  # only the new ranges were asked for


def test_analyze_offline_network_falls_back_to_the_store(
    world: World, tmp_path: Path
) -> None:
    payload(world.run("fetch", "BTC", "--json", "--venue", "binance"))
    dead = tmp_path / "dead.toml"
    dead.write_text('[fetch]\nbase_url = "http://127.0.0.1:9"\ntimeout_seconds = 1\n')
    result = CliRunner().invoke(
        cli,
        ["--store", str(world.store), "analyze", "BTC"],
        env={"RALLYLENS_CONFIG": str(dead)},
    )
    assert result.exit_code == 0, result.output
    assert "failed" in result.stderr
    assert "verdict:" in result.stdout


def test_fetch_archive_downloads_verifies_and_imports(tmp_path: Path) -> None:
    from tests.emulator.archive import (
        ArchiveEmulator,
        archive_base_url,
        install_archive,
        kline_archive,
        period_labels,
    )

    now = datetime.now(UTC)
    first = (now.date().replace(day=1) - timedelta(days=70)).replace(day=1)
    this_month = now.date().replace(day=1)
    months = period_labels(first, this_month - timedelta(days=1), monthly=True)
    days = [d for d in period_labels(this_month, now.date(), monthly=False)][:-1]
    spot = kline_archive("spot", "BTCUSDT", "1d", months=months, days=days, seed=9)
    with ArchiveEmulator() as emu:
        install_archive(emu, spot.files)
        install_binance(emu, now=now.replace(minute=0, second=0, microsecond=0), seed=3)
        config = tmp_path / "config.toml"
        config.write_text(
            f'[fetch]\nbase_url = "{emu.base_url}"\n'
            f'archive_url = "{archive_base_url(emu)}"\n'
            f'archive_dir = "{tmp_path / "archive"}"\nvenues = ["binance"]\n'
        )
        env = {"RALLYLENS_CONFIG": str(config)}
        store = tmp_path / "s.duckdb"
        args = ["--store", str(store), "fetch", "BTC", "--archive", "--json"]
        args += ["--since", first.isoformat()]
        out = json.loads(CliRunner().invoke(cli, args, env=env).stdout)
        archive = out["archive"]
        assert archive["downloaded"] == len(spot.files)
        assert archive["failed"] == [] and archive["import_errors"] == []
        assert archive["imported_files"] == len(spot.files)
        with Store(store, read_only=True) as opened:
            got = read_series(opened, SPOT)
        truth = spot.truth()
        assert got.filter(pl.col(TS) <= truth[TS].max()).equals(truth)
        again = json.loads(CliRunner().invoke(cli, args, env=env).stdout)["archive"]
        assert again["downloaded"] == 0
        assert again["already_present"] == len(spot.files)
        assert again["new_rows"] == 0
