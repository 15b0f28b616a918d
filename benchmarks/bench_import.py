"""Import speed: rallylens' Binance-klines import vs pandas.read_csv + a plain insert.

Generates a large Binance bulk-archive kline file (12 columns, no header),
then times, in the same process and on the same file:

* rallylens: detect + parse + validate + idempotent upsert into a fresh store
  (``parse_file`` and ``write_series``, what ``rallylens import`` runs);
* baseline: ``pandas.read_csv`` and a plain ``INSERT INTO ... SELECT * FROM df``
  into a DuckDB table without keys or checks.

Prints rows per second for both and their ratio. Usage::

    python benchmarks/bench_import.py [--rows 2000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from rallylens.sources import parse_file
from rallylens.sources.binance import KLINE_COLUMNS
from rallylens.store import Store, write_series


def generate(path: Path, rows: int, seed: int = 7) -> None:
    rng = np.random.default_rng(seed)
    open_ms = 1_577_836_800_000 + np.arange(rows, dtype=np.int64) * 60_000
    close = 30_000 * np.exp(np.cumsum(rng.normal(0, 0.001, rows)))
    open_ = np.concatenate([[close[0]], close[:-1]])
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.001, rows))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.001, rows))
    volume = rng.uniform(1, 100, rows)
    taker = volume * rng.uniform(0.3, 0.7, rows)
    frame = pd.DataFrame(
        {
            "open_time": open_ms,
            "open": open_.round(2),
            "high": high.round(2),
            "low": low.round(2),
            "close": close.round(2),
            "volume": volume.round(5),
            "close_time": open_ms + 59_999,
            "quote_volume": (volume * close).round(6),
            "count": rng.integers(100, 5000, rows),
            "taker_buy_volume": taker.round(5),
            "taker_buy_quote_volume": (taker * close).round(6),
            "ignore": 0,
        }
    )
    frame.to_csv(path, header=False, index=False)


def run_rallylens(csv: Path, workdir: Path) -> int:
    store_path = workdir / f"rl-{time.perf_counter_ns()}.duckdb"
    with Store(store_path) as store:
        _, _, parsed = parse_file(csv)
        report = write_series(store, parsed.series)
    return report.inserted


def run_baseline(csv: Path, workdir: Path) -> int:
    frame = pd.read_csv(csv, header=None, names=list(KLINE_COLUMNS))
    con = duckdb.connect(str(workdir / f"pd-{time.perf_counter_ns()}.duckdb"))
    con.execute(
        "CREATE TABLE klines (open_time BIGINT, open DOUBLE, high DOUBLE, low DOUBLE, "
        "close DOUBLE, volume DOUBLE, close_time BIGINT, quote_volume DOUBLE, "
        "count BIGINT, taker_buy_volume DOUBLE, taker_buy_quote_volume DOUBLE, "
        "ignore BIGINT)"
    ).fetchall()
    con.register("frame", frame)
    con.execute("INSERT INTO klines SELECT * FROM frame").fetchall()
    con.close()
    return len(frame)


def best_of(
    func: Callable[[Path, Path], int], csv: Path, workdir: Path, repeat: int
) -> tuple[float, int]:
    times, rows = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        rows = func(csv, workdir)
        times.append(time.perf_counter() - start)
    return min(times), rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        folder = workdir / "data" / "spot" / "monthly" / "klines" / "BTCUSDT" / "1m"
        folder.mkdir(parents=True)
        csv = folder / "BTCUSDT-1m-2020-01.csv"
        generate(csv, args.rows)
        ours, n_ours = best_of(run_rallylens, csv, workdir, args.repeat)
        base, n_base = best_of(run_baseline, csv, workdir, args.repeat)
    assert n_ours == n_base == args.rows, (n_ours, n_base)
    print(f"file: {args.rows:,} Binance kline rows ({csv.name}), best of {args.repeat}")
    print(f"rallylens import      {ours:7.3f} s  {args.rows / ours:12,.0f} rows/s")
    print(f"pandas + plain insert {base:7.3f} s  {args.rows / base:12,.0f} rows/s")
    print(f"ratio (rallylens / baseline throughput): {base / ours:.2f}x")


if __name__ == "__main__":
    main()
