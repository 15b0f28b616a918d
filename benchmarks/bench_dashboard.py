"""Dashboard latency: how fast an as-of change is answered, with and without caches.

Starts the dashboard app on a store (default ``/tmp/real2.duckdb``) with
FastAPI's TestClient, warms it up (asset list, event study, one analysis),
then times ``--n`` as-of changes of one asset at random dates. An as-of
change is what the page sends when the slider moves: ``/api/analyze``,
``/api/rallies`` and ``/api/figures`` for the new date, at once (three
threads); its latency is the time until the last answer arrived.

The cold baseline, in the same run, is what an as-of change costs without
the dashboard's caches: read the store as of the date
(``rallylens.reports.load_report_data``: panel, bars, option chains,
analysis, rallies), build the figures and serialise them. Usage::

    python benchmarks/bench_dashboard.py [STORE] [--asset BTC] [--n 40] [--cold 8]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from typing import Any

TARGET_MS = 300.0
ROUTES = ("analyze", "rallies", "figures")


def _client(store: Path, timeframe: str) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # starlette prefers httpx2 to httpx
        from fastapi.testclient import TestClient

    from rallylens.web import create_app

    return TestClient(create_app(store, timeframe=timeframe))


def _timed(call: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = call()
    return (time.perf_counter() - start) * 1000, out


def _get(client: Any, route: str, asset: str, day: date) -> float:
    ms, response = _timed(
        lambda: client.get(f"/api/{route}", params={"asset": asset, "at": str(day)})
    )
    if response.status_code != 200:
        raise SystemExit(
            f"/api/{route} at {day}: {response.status_code} {response.text}"
        )
    return float(ms)


def _as_of_change(
    client: Any, pool: ThreadPoolExecutor, asset: str, day: date
) -> tuple[float, dict[str, float]]:
    """Wall time of the three requests sent at once, and each request's time."""
    start = time.perf_counter()
    futures = {r: pool.submit(_get, client, r, asset, day) for r in ROUTES}
    each = {r: f.result() for r, f in futures.items()}
    return (time.perf_counter() - start) * 1000, each


def _cold(store: Path, asset: str, day: date, timeframe: str) -> float:
    """One as-of change without any cache: read, analyse, draw, serialise."""
    from rallylens.reports import build_figures, load_report_data
    from rallylens.web._assets import parse_at

    def run() -> int:
        data = load_report_data(
            store, asset, as_of=parse_at(str(day)), timeframe=timeframe
        )
        return sum(len(f.to_json()) for f in build_figures(data).values())

    return float(_timed(run)[0])


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _line(name: str, values: list[float]) -> str:
    return (
        f"{name:<28} median {statistics.median(values):7.1f} ms   "
        f"p95 {_pct(values, 0.95):7.1f} ms   max {max(values):7.1f} ms   "
        f"n={len(values)}"
    )


def _dates(client: Any, asset: str, n: int, seed: int) -> list[date]:
    assets = client.get("/api/assets").json()["assets"]
    info = next((a for a in assets if a["asset"] == asset), None)
    if info is None:
        raise SystemExit(f"{asset} is not in the store: {[a['asset'] for a in assets]}")
    first = date.fromisoformat(info["range"]["first_date"])
    last = date.fromisoformat(info["range"]["last_date"])
    # rallies need some history: sample the last 80% of the range
    lo = first + (last - first) * 0.2
    span = (last - lo).days
    rng = random.Random(seed)
    return [lo + timedelta(days=d) for d in rng.sample(range(span + 1), n + 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", nargs="?", default="/tmp/real2.duckdb", type=Path)
    parser.add_argument("--asset", default="BTC")
    parser.add_argument("--timeframe", default="1d", choices=["1h", "4h", "1d"])
    parser.add_argument("--n", type=int, default=40, help="as-of changes timed")
    parser.add_argument("--cold", type=int, default=8, help="cold changes timed")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    client = _client(args.store, args.timeframe)
    ms, _ = _timed(lambda: client.get("/api/assets"))
    print(f"store {args.store}, {args.asset} {args.timeframe} bars")
    print(f"warm-up: asset list (loads every asset's bars once) {ms:8.1f} ms")
    ms, study = _timed(lambda: client.get("/api/study"))
    print(f"warm-up: event study over every asset             {ms:8.1f} ms "
          f"({study.status_code})")  # fmt: skip
    days = _dates(client, args.asset, args.n, args.seed)
    with ThreadPoolExecutor(len(ROUTES)) as pool:
        _as_of_change(client, pool, args.asset, days[0])  # first figures: imports
        timed = [_as_of_change(client, pool, args.asset, d) for d in days[1:]]
        repeat = [_as_of_change(client, pool, args.asset, d)[0] for d in days[1:6]]
    changes = [t for t, _ in timed]
    card = [max(each["analyze"], each["rallies"]) for _, each in timed]
    print()
    print(_line("as-of change (3 at once)", changes))
    print(_line("  verdict card + rallies", card))
    for route in ROUTES:
        print(_line(f"  /api/{route}", [each[route] for _, each in timed]))
    print(_line("same date again (cached)", repeat))
    cold = [
        _cold(args.store, args.asset, d, args.timeframe)
        for d in days[1 : args.cold + 1]
    ]
    print(_line("cold: read + analyse + draw", cold))
    ratio = statistics.median(cold) / statistics.median(changes)
    print(f"\ncold / cached median: {ratio:.1f}x faster with the dashboard's caches")
    for name, values in (("whole as-of change", changes), ("verdict card", card)):
        met = "met" if _pct(values, 0.95) < TARGET_MS else "NOT met"
        print(f"target: {name} p95 < {TARGET_MS:.0f} ms: {met}")


if __name__ == "__main__":
    main()
