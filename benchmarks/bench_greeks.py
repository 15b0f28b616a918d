"""Greeks speed: rallylens' vectorised Black-76 vs a per-row scipy implementation.

Generates a full option chain (default 1,000 instruments: 10 expiries x 50
strikes x call/put, a vol smile and open interest) and one year of hourly
snapshots of it (8,760 x 1,000 = 8,760,000 instrument rows, the forward moving
with a random spot path and every expiry an hour closer each snapshot), then
times, in the same process and on the same arrays:

* rallylens: ``black76_greeks`` (delta, gamma, vega, theta) on the whole
  array at once, plus the GEX inputs: per row
  ``sign x gamma x open_interest x spot^2 x 0.01`` (USD per 1% move, dealers
  long calls and short puts) and its total per snapshot;
* baseline: the same per row in a Python loop with ``scipy.stats.norm.cdf`` /
  ``norm.pdf``, as an analyst would write it. On the year it is timed on a
  sample of rows and extrapolated (a full run would take tens of minutes);
  the output says so;
* for reference, the same formulas vectorised with ``scipy.special.ndtr``
  (not the baseline the target is measured against).

Prints rows per second, the ratios and the largest difference between the
implementations. Usage::

    python benchmarks/bench_greeks.py [--hours 8760] [--sample 20000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, fields

import numpy as np
from scipy.special import ndtr
from scipy.stats import norm

from rallylens.features.black76 import YEAR_DAYS, black76_greeks

EXPIRY_DAYS = np.array([1.0, 2.0, 7.0, 14.0, 30.0, 60.0, 90.0, 180.0, 270.0, 365.0])
STRIKES_PER_EXPIRY = 50
TARGET_RATIO = 100.0
TARGET_YEAR_S = 5.0
GREEKS = ("delta", "gamma", "vega", "theta", "gex_usd")
_N = "n_snapshots"


@dataclass(frozen=True)
class Rows:
    """Flat per-row inputs: one instrument at one snapshot."""

    forward: np.ndarray
    strike: np.ndarray
    years: np.ndarray
    vol: np.ndarray
    is_call: np.ndarray
    oi: np.ndarray
    spot: np.ndarray
    n_snapshots: int

    def __len__(self) -> int:
        return len(self.forward)

    def take(self, idx: np.ndarray) -> Rows:
        return Rows(
            *(
                getattr(self, f.name)[idx]
                for f in fields(Rows)
                if f.name != "n_snapshots"
            ),
            n_snapshots=0,
        )


def generate(hours: int, seed: int = 11) -> Rows:
    """A 1,000-instrument chain at ``hours`` hourly snapshots (row-major by hour)."""
    rng = np.random.default_rng(seed)
    days = np.repeat(EXPIRY_DAYS, 2 * STRIKES_PER_EXPIRY)
    grid = np.tile(np.linspace(-2.0, 2.0, STRIKES_PER_EXPIRY), len(EXPIRY_DAYS))
    log_k = np.repeat(grid, 2).reshape(-1) * 0.6 * np.sqrt(np.maximum(days, 7) / 365)
    is_call = np.tile([True, False], len(days) // 2)
    smile = 0.55 + 0.08 * log_k**2 / np.sqrt(days / 30) - 0.05 * log_k
    oi = rng.gamma(1.5, 200.0, len(days)) * np.exp(-2.0 * np.abs(log_k))
    spot = 30_000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.006, hours)))
    age_days = (np.arange(hours) % 24) / 24.0  # expiries come an hour closer
    years = np.maximum(days[None, :] - age_days[:, None], 1 / 24) / YEAR_DAYS
    forward = spot[:, None] * (1.0 + 0.05 * years)
    strike = 30_000.0 * np.exp(log_k)  # listed strikes stay put in USD
    shape = (hours, len(days))
    return Rows(
        forward=forward.ravel(),
        strike=np.broadcast_to(strike, shape).ravel(),
        years=years.ravel(),
        vol=np.broadcast_to(np.clip(smile, 0.2, 3.0), shape).ravel(),
        is_call=np.broadcast_to(is_call, shape).ravel(),
        oi=np.broadcast_to(oi, shape).ravel(),
        spot=np.repeat(spot, len(days)),
        n_snapshots=hours,
    )


def run_rallylens(rows: Rows) -> dict[str, np.ndarray]:
    g = black76_greeks(rows.forward, rows.strike, rows.years, rows.vol, rows.is_call)
    sign = np.where(rows.is_call, 1.0, -1.0)
    gex = sign * g.gamma * rows.oi * rows.spot**2 * 0.01
    if rows.n_snapshots:
        gex.reshape(rows.n_snapshots, -1).sum(axis=1)  # total GEX per snapshot
    return {
        "delta": g.delta,
        "gamma": g.gamma,
        "vega": g.vega,
        "theta": g.theta,
        "gex_usd": gex,
    }


def _row_greeks(
    f: float, k: float, t: float, vol: float, call: bool, oi: float, spot: float
) -> tuple[float, float, float, float, float]:
    sd = vol * math.sqrt(t)
    d1 = (math.log(f / k) + 0.5 * vol * vol * t) / sd
    pdf = norm.pdf(d1)
    delta = norm.cdf(d1) if call else norm.cdf(d1) - 1.0
    gamma = pdf / (f * sd)
    vega = f * pdf * math.sqrt(t)
    theta = -f * pdf * vol / (2.0 * math.sqrt(t))
    gex = (1.0 if call else -1.0) * gamma * oi * spot * spot * 0.01
    return delta, gamma, vega, theta, gex


def run_baseline(rows: Rows) -> dict[str, np.ndarray]:
    out = [
        _row_greeks(*args)
        for args in zip(
            rows.forward.tolist(),
            rows.strike.tolist(),
            rows.years.tolist(),
            rows.vol.tolist(),
            rows.is_call.tolist(),
            rows.oi.tolist(),
            rows.spot.tolist(),
            strict=True,
        )
    ]
    cols = np.array(out, dtype=np.float64).T
    return dict(zip(GREEKS, cols, strict=True))


def run_scipy_vectorised(rows: Rows) -> dict[str, np.ndarray]:
    sd = rows.vol * np.sqrt(rows.years)
    d1 = (np.log(rows.forward / rows.strike) + 0.5 * sd * sd) / sd
    pdf = np.exp(-0.5 * d1 * d1) / math.sqrt(2 * math.pi)
    delta = ndtr(d1) - np.where(rows.is_call, 0.0, 1.0)
    gamma = pdf / (rows.forward * sd)
    gex = np.where(rows.is_call, 1.0, -1.0) * gamma * rows.oi * rows.spot**2 * 0.01
    return {
        "delta": delta,
        "gamma": gamma,
        "vega": rows.forward * pdf * np.sqrt(rows.years),
        "theta": -rows.forward * pdf * rows.vol / (2 * np.sqrt(rows.years)),
        "gex_usd": gex,
    }


def best_of(
    func: Callable[[Rows], dict[str, np.ndarray]], rows: Rows, repeat: int
) -> tuple[float, dict[str, np.ndarray]]:
    times, out = [], {}
    for _ in range(repeat):
        start = time.perf_counter()
        out = func(rows)
        times.append(time.perf_counter() - start)
    return min(times), out


def max_diff(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> str:
    """Largest difference per output, relative to that output's largest size."""
    parts = []
    for name in GREEKS:
        scale = np.max(np.abs(b[name]))
        parts.append(f"{name} {np.max(np.abs(a[name] - b[name])) / scale:.1e}")
    return ", ".join(parts)


def report(label: str, rows: Rows, args: argparse.Namespace) -> float:
    """Time the three implementations on ``rows``; return rallylens' seconds."""
    n = len(rows)
    ours_s, ours = best_of(run_rallylens, rows, args.repeat)
    vec_s, vec = best_of(run_scipy_vectorised, rows, args.repeat)
    if n <= args.sample:
        sample, note = rows, "full run"
        idx = np.arange(n)
    else:
        idx = np.random.default_rng(5).choice(n, args.sample, replace=False)
        sample, note = rows.take(idx), f"timed on {args.sample:,} rows, extrapolated"
    base_s, base = best_of(run_baseline, sample, 1)
    base_rate = len(sample) / base_s
    base_full_s = n / base_rate
    ours_at = {k: v[idx] for k, v in ours.items()}
    print(f"\n{label}: {n:,} instrument rows")
    print(f"  rallylens black76 + GEX   {ours_s:9.3f} s  {n / ours_s:14,.0f} rows/s")
    print(
        f"  scipy.stats.norm per row  {base_full_s:9.3f} s  {base_rate:14,.0f} rows/s"
        f"  ({note})"
    )
    print(f"  scipy.special vectorised  {vec_s:9.3f} s  {n / vec_s:14,.0f} rows/s")
    print(f"  ratio vs per-row baseline: {base_full_s / ours_s:,.0f}x")
    print(f"  ratio vs vectorised scipy: {vec_s / ours_s:.2f}x")
    print(f"  max diff / max size vs baseline:   {max_diff(ours_at, base)}")
    print(f"  max diff / max size vs vectorised: {max_diff(ours, vec)}")
    ratio = base_full_s / ours_s
    if ratio < TARGET_RATIO:
        print(f"  below the {TARGET_RATIO:.0f}x target")
    return ours_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=int, default=8_760)
    parser.add_argument("--sample", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    report("one full chain", generate(1), args)
    year_s = report(
        f"{args.hours:,} hourly chain snapshots", generate(args.hours), args
    )
    verdict = "within" if year_s < TARGET_YEAR_S else "over"
    print(f"\nyear of hourly chains: {year_s:.2f} s ({verdict} {TARGET_YEAR_S:.0f} s)")


if __name__ == "__main__":
    main()
