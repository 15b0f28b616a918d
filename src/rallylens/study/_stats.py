"""Hit rates with bootstrap intervals, and how well single signals separate."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl

from rallylens.rallies import VERDICT
from rallylens.schemas import REGIME

__all__ = ["bootstrap_ci", "hit_rates", "separation"]

FloatArray = np.ndarray


def bootstrap_ci(
    values: FloatArray,
    statistic: Callable[[FloatArray], FloatArray],
    *,
    resamples: int = 2000,
    confidence: float = 0.90,
    seed: int = 7,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic`` over ``values``.

    Parameters
    ----------
    values : ndarray
        One value per observation (NaN-free).
    statistic : callable
        Maps a ``(resamples, n)`` array to ``resamples`` values, row-wise
        (e.g. ``lambda a: a.mean(axis=1)``).
    resamples, confidence, seed : int, float, int
        Number of resamples, two-sided level, generator seed.

    Returns
    -------
    tuple of float
        The ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles;
        NaNs for an empty sample.
    """
    n = values.size
    if n == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    draws = values[rng.integers(0, n, size=(resamples, n))]
    stats = statistic(draws)
    lo, hi = np.quantile(stats, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(lo), float(hi)


def _mean(a: FloatArray) -> FloatArray:
    return np.asarray(a.mean(axis=1))


def _median(a: FloatArray) -> FloatArray:
    return np.asarray(np.median(a, axis=1))


def _group_row(
    by: str,
    group: str,
    failed: FloatArray,
    fwd30: FloatArray,
    *,
    min_n: int,
    resamples: int,
    confidence: float,
    seed: int,
) -> dict[str, object]:
    n = failed.size

    def ci(
        values: FloatArray, stat: Callable[[FloatArray], FloatArray]
    ) -> tuple[float | None, float | None]:
        if values.size < min_n:
            return None, None
        return bootstrap_ci(
            values, stat, resamples=resamples, confidence=confidence, seed=seed
        )

    enough = n >= min_n
    rate = float(failed.mean()) if enough else None
    lo, hi = ci(failed, _mean)
    r30 = fwd30[~np.isnan(fwd30)]
    med = float(np.median(r30)) if r30.size >= min_n else None
    mlo, mhi = ci(r30, _median)
    note = "" if enough else f"too few (n={n} < {min_n})"
    return {
        "by": by,
        "group": group,
        "n": n,
        "n_failed": int(failed.sum()),
        "fail_rate": rate,
        "fail_lo": lo,
        "fail_hi": hi,
        "fwd_30d_n": int(r30.size),
        "fwd_30d_median": med,
        "fwd_30d_lo": mlo,
        "fwd_30d_hi": mhi,
        "note": note,
    }


def hit_rates(
    events: pl.DataFrame,
    *,
    failed: str,
    fwd_30d: str,
    min_n: int = 5,
    resamples: int = 2000,
    confidence: float = 0.90,
    seed: int = 7,
) -> pl.DataFrame:
    """Failure rate and 30-day forward return per verdict, per regime and overall.

    Parameters
    ----------
    events : pl.DataFrame
        Events with a known outcome: ``verdict``, ``regime``, the boolean
        column ``failed`` and the return column ``fwd_30d``.
    failed, fwd_30d : str
        Names of the outcome columns.
    min_n : int
        Below this many events a group gets no rate, only "too few".
    resamples, confidence, seed
        Bootstrap settings (percentile intervals).

    Returns
    -------
    pl.DataFrame
        ``by`` ("all", "verdict", "regime"), ``group``, ``n``, ``n_failed``,
        ``fail_rate``, ``fail_lo``, ``fail_hi``, ``fwd_30d_n``,
        ``fwd_30d_median``, ``fwd_30d_lo``, ``fwd_30d_hi``, ``note``.
    """
    kw = {"min_n": min_n, "resamples": resamples, "confidence": confidence}
    rows = []
    groups: list[tuple[str, str, pl.DataFrame]] = [("all", "all rallies", events)]
    for by, col in (("verdict", VERDICT), ("regime", REGIME)):
        for key, part in sorted(events.group_by(col), key=lambda g: str(g[0][0])):
            groups.append((by, str(key[0]), part))
    for i, (by, group, part) in enumerate(groups):
        rows.append(
            _group_row(
                by,
                group,
                part[failed].cast(pl.Float64).to_numpy(),
                part[fwd_30d].cast(pl.Float64).fill_null(np.nan).to_numpy(),
                seed=seed + i,
                **kw,  # type: ignore[arg-type]
            )
        )
    return pl.DataFrame(rows, schema=_HIT_SCHEMA)


_HIT_SCHEMA = {
    "by": pl.String,
    "group": pl.String,
    "n": pl.Int64,
    "n_failed": pl.Int64,
    "fail_rate": pl.Float64,
    "fail_lo": pl.Float64,
    "fail_hi": pl.Float64,
    "fwd_30d_n": pl.Int64,
    "fwd_30d_median": pl.Float64,
    "fwd_30d_lo": pl.Float64,
    "fwd_30d_hi": pl.Float64,
    "note": pl.String,
}


def _auc(score: FloatArray, label: FloatArray) -> float:
    """P(score of a failed event > score of a held one), ties counted half."""
    pos, neg = score[label == 1], score[label == 0]
    if pos.size == 0 or neg.size == 0:
        return float("nan")
    ranks = pl.Series(np.concatenate([pos, neg])).rank("average").to_numpy()
    u = ranks[: pos.size].sum() - pos.size * (pos.size + 1) / 2
    return float(u / (pos.size * neg.size))


def separation(
    events: pl.DataFrame, signals: list[str], *, failed: str, min_n: int = 5
) -> pl.DataFrame:
    """How well each signal alone ranks failed rallies above held ones.

    Returns
    -------
    pl.DataFrame
        ``signal``, ``n`` (events with the signal and an outcome), ``auc``
        (0.5 = no separation; below 0.5 the signal is higher for held
        rallies), ``mean_failed``, ``mean_held``; sorted by ``|auc - 0.5|``,
        signals with fewer than ``min_n`` of either class left out.
    """
    rows = []
    label = events[failed].cast(pl.Float64).to_numpy()
    for name in signals:
        values = events[name].cast(pl.Float64).fill_null(np.nan).to_numpy()
        ok = ~np.isnan(values) & ~np.isnan(label)
        v, y = values[ok], label[ok]
        if min((y == 1).sum(), (y == 0).sum()) < min_n:
            continue
        rows.append(
            {
                "signal": name,
                "n": int(ok.sum()),
                "auc": _auc(v, y),
                "mean_failed": float(v[y == 1].mean()),
                "mean_held": float(v[y == 0].mean()),
            }
        )
    schema = {"signal": pl.String, "n": pl.Int64, "auc": pl.Float64,
              "mean_failed": pl.Float64, "mean_held": pl.Float64}  # fmt: skip
    out = pl.DataFrame(rows, schema=schema)
    return out.sort((pl.col("auc") - 0.5).abs(), descending=True)
