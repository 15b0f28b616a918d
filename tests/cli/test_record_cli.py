"""``rallylens record liquidations`` as a process: SIGINT stores everything."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from rallylens._typing import SeriesKind
from rallylens.schemas import SeriesKey
from rallylens.store import Store, list_series, read_series
from tests.emulator import Emulator
from tests.emulator.liquidations import install_liquidation_streams

BTC = "BTC/USDT:USDT"


def test_record_until_sigint(tmp_path: Path) -> None:
    with Emulator() as emu:
        streams = install_liquidation_streams(emu, events_per_second=100, tick_s=0.02)
        config = tmp_path / "config.toml"
        config.write_text(f'[fetch]\nbase_url = "{emu.base_url}"\n')
        store = tmp_path / "s.duckdb"
        command = [
            sys.executable,
            "-c",
            "from rallylens.cli import main; main()",
            "--store",
            str(store),
            "record",
            "liquidations",
            "--venues",
            "binanceusdm,okx",
            "--symbols",
            BTC,
            "--flush-seconds",
            "0.5",
            "--json",
        ]
        env = {**os.environ, "RALLYLENS_CONFIG": str(config)}
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        deadline = time.monotonic() + 30
        wanted = {"binance": 3, "okx": 20}  # Binance sends one per second at most
        while time.monotonic() < deadline and not all(
            streams.truth(v, BTC).height > n for v, n in wanted.items()
        ):
            time.sleep(0.1)
        streams.paused = True  # the venues go quiet, so "sent" is final
        time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    report = json.loads(out)
    assert report["clean_stop"] is True
    stored = {row["series"]: row["stored"] for row in report["series"]}
    with Store(store, read_only=True) as opened:
        keys = list_series(opened)
        assert keys.height == 2
        for venue in ("binance", "okx"):
            truth = streams.truth(venue, BTC)
            (key,) = [k for k in stored if k.startswith(venue)]
            assert stored[key] == truth.height > 0
            got = read_series(
                opened, SeriesKey(venue, BTC, SeriesKind.LIQUIDATION_EVENTS, "event")
            )
            assert got.height == truth.height
    assert "recording liquidations" in err
