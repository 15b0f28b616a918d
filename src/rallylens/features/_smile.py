"""Per-expiry smile of a chain: ATM IV, 25-delta skew, constant maturities.

Private to :mod:`rallylens.features.gamma`; the formulas are in the Notes of
:func:`rallylens.features.gamma.chain_metrics`.
"""

from __future__ import annotations

from typing import Any, Final

import polars as pl

from rallylens.features._chain_columns import (
    ATM_IV,
    BF25,
    C25,
    CALL,
    CALL_OI,
    CALL_VOL,
    DAYS,
    DC,
    DP,
    FORWARD,
    GEX,
    IV,
    MAX_PAIN,
    NET_GEX,
    OI,
    P25,
    PUT_OI,
    PUT_VOL,
    RR25,
    YEARS,
    K,
    W,
)
from rallylens.features._gex import max_pain
from rallylens.features.black76 import YEAR_DAYS, black76_greeks
from rallylens.schemas import EXPIRY, STRIKE, TS, UNDERLYING_PRICE

_DELTA_25: Final = 0.25


def expiry_metrics(rows: pl.DataFrame, cells: pl.DataFrame) -> pl.DataFrame:
    """Per (ts, expiry): days, forward, ATM IV, 25-delta skew, GEX, OI, max pain."""
    call = pl.col(CALL)
    base = (
        rows.group_by(TS, EXPIRY)
        .agg(
            pl.col(YEARS).max(),
            pl.col(UNDERLYING_PRICE)
            .filter(pl.col(UNDERLYING_PRICE) > 0)
            .median()
            .alias(FORWARD),
            pl.col(GEX).sum().alias(NET_GEX),
            pl.col(OI).filter(call).sum().alias(CALL_OI),
            pl.col(OI).filter(~call).sum().alias(PUT_OI),
        )
        .sort(TS, EXPIRY)
    )
    keys = [TS, EXPIRY]
    smile = _smile(cells, base)
    atm = _interp_at(smile, keys, STRIKE, K, IV, 0.0).rename({IV: ATM_IV})
    c25 = _interp_at(smile, keys, STRIKE, DC, IV, _DELTA_25).rename({IV: C25})
    p25 = _interp_at(smile, keys, STRIKE, DP, IV, -_DELTA_25, last=True)
    out = base
    for part in (atm, c25, p25.rename({IV: P25}), max_pain(cells, keys)):
        out = out.join(part, on=keys, how="left", maintain_order="left")
    return out.select(
        TS,
        EXPIRY,
        (pl.col(YEARS) * YEAR_DAYS).alias(DAYS),
        FORWARD,
        ATM_IV,
        (pl.col(C25) - pl.col(P25)).alias(RR25),
        ((pl.col(C25) + pl.col(P25)) / 2 - pl.col(ATM_IV)).alias(BF25),
        NET_GEX,
        CALL_OI,
        PUT_OI,
        MAX_PAIN,
        C25,
        P25,
        YEARS,
    )


def _smile(cells: pl.DataFrame, base: pl.DataFrame) -> pl.DataFrame:
    """Per (ts, expiry, strike): OTM-side vol, log-moneyness, call and put delta."""
    k = pl.col(STRIKE)
    smile = (
        cells.join(base.select(TS, EXPIRY, YEARS, FORWARD), on=[TS, EXPIRY])
        .with_columns(
            pl.when(k >= pl.col(FORWARD))
            .then(pl.coalesce(CALL_VOL, PUT_VOL))
            .otherwise(pl.coalesce(PUT_VOL, CALL_VOL))
            .alias(IV),
            (k / pl.col(FORWARD)).log().alias(K),
        )
        .filter(pl.col(IV).is_not_null() & (pl.col(YEARS) > 0) & (k > 0))
        .filter(pl.col(FORWARD) > 0)
    )
    fwd, strike = smile[FORWARD].to_numpy(), smile[STRIKE].to_numpy()
    years, vol = smile[YEARS].to_numpy(), smile[IV].to_numpy()
    return smile.with_columns(
        pl.Series(DC, black76_greeks(fwd, strike, years, vol, True).delta),
        pl.Series(DP, black76_greeks(fwd, strike, years, vol, False).delta),
    )


def _interp_at(
    points: pl.DataFrame,
    keys: list[str],
    order: str,
    x: str,
    y: str,
    target: float,
    *,
    last: bool = False,
) -> pl.DataFrame:
    """Per group, ``y`` interpolated linearly at ``x == target``; no extrapolation.

    Neighbours in ``order`` whose ``x`` bracket ``target`` are interpolated;
    where several pairs do, the first in ``order`` is used (the last when
    ``last``). Groups without a bracketing pair are absent from the result.
    """
    xc, yc = pl.col(x), pl.col(y)
    xn, yn = pl.col("_xn"), pl.col("_yn")
    pairs = points.sort([*keys, order]).with_columns(
        xc.shift(-1).over(keys).alias("_xn"), yc.shift(-1).over(keys).alias("_yn")
    )
    exact = xc == target
    crosses = ((xc - target) * (xn - target) <= 0).fill_null(False) | exact
    value = (
        pl.when(exact).then(yc).otherwise(yc + (yn - yc) * (target - xc) / (xn - xc))
    )
    pick = pl.col(y).sort_by(order)
    found = pairs.filter(crosses).with_columns(value.alias(y))
    return found.group_by(keys).agg(pick.last() if last else pick.first())


def constant_maturity(
    by_expiry: pl.DataFrame, cm_days: tuple[int, ...]
) -> pl.DataFrame:
    """Per ts: ATM IV, rr25, bf25 at each constant maturity, plus expiry range."""
    vols = (ATM_IV, C25, P25)
    has_atm = pl.col(ATM_IV).is_not_null()
    out = by_expiry.group_by(TS).agg(
        pl.col(DAYS).filter(has_atm).min().alias("_d_min"),
        pl.col(DAYS).filter(has_atm).max().alias("_d_max"),
        (pl.col(DAYS) > 0).and_(pl.col(RR25).is_null()).sum().alias("_n_no_skew"),
    )
    for days in cm_days:
        years = days / YEAR_DAYS
        for vol in vols:
            points = by_expiry.filter(pl.col(vol).is_not_null()).with_columns(
                (pl.col(vol) ** 2 * pl.col(YEARS)).alias(W)
            )
            part = _interp_at(points, [TS], EXPIRY, YEARS, W, years).select(
                TS, (pl.col(W) / years).sqrt().alias(f"_{vol}@{days}")
            )
            out = out.join(part, on=TS, how="left")
        atm, c25, p25 = (pl.col(f"_{vol}@{days}") for vol in vols)
        out = out.with_columns(
            atm.alias(f"atm_iv_{days}d"),
            (c25 - p25).alias(f"rr25_{days}d"),
            ((c25 + p25) / 2 - atm).alias(f"bf25_{days}d"),
        )
    return out


def smile_notes(row: dict[str, Any], cm_days: tuple[int, ...]) -> list[str]:
    """Caveats on per-expiry skew and constant-maturity values left null."""
    parts = []
    if row["_n_no_skew"]:
        parts.append(
            f"{row['_n_no_skew']} expiry(ies) without 25-delta skew: their strikes "
            "do not reach 25 delta."
        )
    atm = {d: row[f"atm_iv_{d}d"] for d in cm_days}
    no_skew = [d for d in cm_days if row[f"rr25_{d}d"] is None and atm[d]]
    if no_skew:
        parts.append(f"No constant-maturity 25-delta skew at {no_skew} days.")
    missing = [d for d, iv in atm.items() if iv is None]
    if missing:
        span = (
            f"expiries span {row['_d_min']:.1f}-{row['_d_max']:.1f} days"
            if row["_d_min"] is not None
            else "no expiry has an ATM IV"
        )
        parts.append(
            f"No constant-maturity ATM IV at {missing} days ({span}; no extrapolation)."
        )
    return parts
