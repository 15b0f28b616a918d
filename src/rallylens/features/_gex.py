"""Strike-level positioning: GEX over a spot grid, gamma flip, walls, max pain.

Private to :mod:`rallylens.features.gamma`; the formulas are in the Notes of
:func:`rallylens.features.gamma.chain_metrics`.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import polars as pl
from numpy.typing import NDArray

from rallylens.features._chain_columns import CALL_OI, MAX_PAIN, PUT_OI, SPOT
from rallylens.features._chain_rows import PCT_MOVE, dealer_weight, option_gamma
from rallylens.schemas import STRIKE, TS, UNDERLYING_PRICE

FloatArray = NDArray[np.float64]

_ROW_CHUNK: Final = 4096
_NOISE: Final = 1e-10


def max_pain(table: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Per group, the strike minimising the USD intrinsic paid to holders.

    ``pain(K) = K C<(K) - CK<(K) + PK>(K) - K P>(K)`` with cumulative call OI
    ``C<`` and call OI times strike ``CK<`` up to ``K`` and put sums ``P>``,
    ``PK>`` from ``K`` up (the terms at ``K`` itself are zero).
    """
    k, c, p = pl.col(STRIKE), pl.col(CALL_OI), pl.col(PUT_OI)
    pain = (
        k * c.cum_sum().over(keys)
        - (c * k).cum_sum().over(keys)
        + (p * k).cum_sum(reverse=True).over(keys)
        - k * p.cum_sum(reverse=True).over(keys)
    )
    return (
        table.group_by([*keys, STRIKE])
        .agg(c.sum(), p.sum())
        .sort([*keys, STRIKE])
        .with_columns(pain.alias("_pain"))
        .group_by(keys)
        .agg(
            pl.when((c + p).sum() > 0)
            .then(k.get(pl.col("_pain").arg_min()))
            .alias(MAX_PAIN)
        )
    )


def gex_profile(
    rows: pl.DataFrame, positioning: str, *, grid_span: float, grid_points: int
) -> tuple[FloatArray, FloatArray]:
    """Total signed GEX re-priced at each grid spot, per snapshot (row chunks).

    Returns the spot grid and the profile, both (n_ts, grid_points). Totals
    within 1e-10 of the gross (unsigned) GEX are rounding noise and set to 0,
    so that exactly offsetting calls and puts show no flip.
    """
    mult = np.linspace(1.0 - grid_span, 1.0 + grid_span, grid_points)
    group = (rows[TS].rank("dense").to_numpy() - 1).astype(np.intp)
    n_ts = int(group.max()) + 1
    spot_ts = rows.group_by(TS).agg(pl.col(SPOT).first()).sort(TS)[SPOT].to_numpy()
    grid = spot_ts[:, None] * mult[None, :]
    weight = dealer_weight(rows, positioning)
    forward = rows[UNDERLYING_PRICE].fill_null(np.nan).to_numpy()
    profile = np.zeros((n_ts, grid_points))
    gross = np.zeros_like(profile)
    for start in range(0, rows.height, _ROW_CHUNK):
        part = slice(start, start + _ROW_CHUNK)
        gamma, _ = option_gamma(rows[part], forward[part], mult)
        gex = weight[part, None] * gamma * grid[group[part]] ** 2 * PCT_MOVE
        ids, first = np.unique(group[part], return_index=True)
        profile[ids] += np.add.reduceat(gex, first, axis=0)
        gross[ids] += np.add.reduceat(np.abs(gex), first, axis=0)
    profile[np.abs(profile) <= _NOISE * gross] = 0.0
    return grid, profile


def gamma_flips(grid: FloatArray, profile: FloatArray, spot: FloatArray) -> FloatArray:
    """Sign change of each profile nearest spot, interpolated; NaN where none."""
    lo, hi = profile[:, :-1], profile[:, 1:]
    cross = ((lo <= 0) & (hi > 0)) | ((lo >= 0) & (hi < 0))
    s_lo, s_hi = grid[:, :-1], grid[:, 1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        at = np.where(cross, s_lo - lo * (s_hi - s_lo) / (hi - lo), np.nan)
    dist = np.where(cross, np.abs(at - spot[:, None]), np.inf)
    best = np.argmin(dist, axis=1)
    out: FloatArray = np.where(cross.any(axis=1), at[np.arange(len(at)), best], np.nan)
    return out


def wall_strike(gex: str, oi: str, name: str, wall_basis: str) -> pl.Expr:
    """Strike with the largest |GEX| (or OI) of one option type, null if none."""
    size = pl.col(gex).abs() if wall_basis == "gex" else pl.col(oi)
    return pl.when(size.max() > 0).then(pl.col(STRIKE).get(size.arg_max())).alias(name)
