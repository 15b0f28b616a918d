"""Per-option rows of a chain: checks, years, vols, spot and dealer gamma (GEX).

The first stage of :func:`rallylens.features.gamma.chain_metrics`: one row per
option with the Black-76 gamma and the signed GEX under a positioning.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import polars as pl
from numpy.typing import NDArray

from rallylens.exceptions import InsufficientDataError, SchemaError
from rallylens.features._chain_columns import (
    BACKED,
    CALL,
    GEX,
    LEFT_OUT,
    OI,
    SOURCE,
    SPOT,
    VOL,
    YEARS,
)
from rallylens.features.black76 import (
    black76_greeks,
    coin_to_usd,
    implied_vol,
    year_fraction,
)
from rallylens.schemas import (
    EXPIRY,
    INDEX_PRICE,
    MARK_IV,
    MARK_PRICE,
    OPTION_OI,
    OPTION_TYPE,
    STRIKE,
    TS,
    UNDERLYING_PRICE,
)

FloatArray = NDArray[np.float64]

# sign of the dealers' gamma per (call, put) contract of open interest
_SIGNS: Final[dict[str, tuple[float, float]]] = {
    "dealer_long_calls_short_puts": (1.0, -1.0),
    "dealer_short_all": (-1.0, -1.0),
    "dealer_long_all": (1.0, 1.0),
}
PCT_MOVE: Final = 0.01  # GEX is per 1% move of spot


def check_columns(chain: pl.DataFrame) -> None:
    """Raise SchemaError naming missing columns or unknown option types."""
    needed = [TS, EXPIRY, STRIKE, OPTION_TYPE, OPTION_OI, UNDERLYING_PRICE]
    missing = [c for c in needed if c not in chain.columns]
    if MARK_IV not in chain.columns and MARK_PRICE not in chain.columns:
        missing.append(f"{MARK_IV} (or {MARK_PRICE})")
    if missing:
        raise SchemaError(
            f"option chain frame: missing columns {missing}; pass rows of "
            "schema OPTIONS_CHAIN"
        )
    odd = set(chain[OPTION_TYPE].unique().to_list()) - {"call", "put"}
    if odd:
        raise SchemaError(
            f"option chain frame: option_type must be 'call' or 'put', got "
            f"{sorted(map(str, odd))}"
        )


def _optional(chain: pl.DataFrame, name: str) -> pl.Expr:
    """The column as Float64, or nulls when the frame lacks it."""
    if name in chain.columns:
        return pl.col(name).cast(pl.Float64)
    return pl.lit(None, dtype=pl.Float64).alias(name)


def prepare_rows(
    chain: pl.DataFrame, positioning: str, spot: float | None
) -> pl.DataFrame:
    """Rows sorted by ts with years, vol, spot, gamma-derived GEX per option."""
    rows = chain.select(
        TS,
        EXPIRY,
        pl.col(STRIKE).cast(pl.Float64),
        (pl.col(OPTION_TYPE) == "call").alias(CALL),
        pl.col(OPTION_OI).cast(pl.Float64).fill_null(0.0).fill_nan(0.0).alias(OI),
        *(_optional(chain, c) for c in (MARK_IV, MARK_PRICE, UNDERLYING_PRICE)),
        _optional(chain, INDEX_PRICE),
    ).sort(TS, EXPIRY, STRIKE, CALL)
    years = year_fraction(
        rows[TS].dt.epoch("us").to_numpy(), rows[EXPIRY].dt.epoch("us").to_numpy()
    )
    vol, backed = _row_vols(rows, years)
    rows = rows.with_columns(
        pl.Series(YEARS, years),
        pl.Series(VOL, vol, nan_to_null=True),
        pl.Series(BACKED, backed),
    )
    rows = rows.join(_spot_by_ts(rows, spot), on=TS, how="left", maintain_order="left")
    forward = rows[UNDERLYING_PRICE].fill_null(np.nan).to_numpy()
    gamma, ok = option_gamma(rows, forward, 1.0)
    gex = (
        dealer_weight(rows, positioning) * gamma * rows[SPOT].to_numpy() ** 2 * PCT_MOVE
    )
    left_out = (rows[OI].to_numpy() > 0) & ~ok
    return rows.with_columns(pl.Series(GEX, gex), pl.Series(LEFT_OUT, left_out))


def dealer_weight(rows: pl.DataFrame, positioning: str) -> FloatArray:
    """Signed dealer open interest: sign(positioning, type) * open_interest."""
    call_sign, put_sign = _SIGNS[positioning]
    sign = np.where(rows[CALL].to_numpy(), call_sign, put_sign)
    out: FloatArray = sign * rows[OI].to_numpy()
    return out


def _row_vols(
    rows: pl.DataFrame, years: FloatArray
) -> tuple[FloatArray, NDArray[np.bool_]]:
    """mark_iv where usable, else Black-76 IV of mark_price (coin) * forward."""
    mark = rows[MARK_IV].fill_null(np.nan).to_numpy()
    vol = np.where(np.isfinite(mark) & (mark > 0), mark, np.nan)
    price = rows[MARK_PRICE].fill_null(np.nan).to_numpy()
    fwd = rows[UNDERLYING_PRICE].fill_null(np.nan).to_numpy()
    todo = np.isnan(vol) & np.isfinite(price) & (years > 0)
    if todo.any():
        iv, _ = implied_vol(
            coin_to_usd(price[todo], fwd[todo]),
            fwd[todo],
            rows[STRIKE].to_numpy()[todo],
            years[todo],
            rows[CALL].to_numpy()[todo],
        )
        vol[todo] = iv
    return vol, todo & np.isfinite(vol)


def _spot_by_ts(rows: pl.DataFrame, spot: float | None) -> pl.DataFrame:
    """Spot and where it came from, per ts; raise when a snapshot has none."""
    if spot is not None:
        return rows.select(pl.col(TS).unique()).with_columns(
            pl.lit(float(spot)).alias(SPOT), pl.lit("given").alias(SOURCE)
        )
    live = rows.filter((pl.col(YEARS) > 0) & (pl.col(UNDERLYING_PRICE) > 0))
    nearest = live.filter(pl.col(EXPIRY) == pl.col(EXPIRY).min().over(TS))
    index = pl.col(INDEX_PRICE).filter(pl.col(INDEX_PRICE) > 0).median()
    out = (
        rows.group_by(TS)
        .agg(index.alias("_index"))
        .join(
            nearest.group_by(TS).agg(pl.col(UNDERLYING_PRICE).median().alias("_near")),
            on=TS,
            how="left",
        )
        .select(
            TS,
            pl.coalesce("_index", "_near").alias(SPOT),
            pl.when(pl.col("_index").is_not_null())
            .then(pl.lit("median index_price"))
            .otherwise(pl.lit("median underlying_price of the nearest expiry"))
            .alias(SOURCE),
        )
    )
    lacking = out.filter(pl.col(SPOT).is_null())[TS].to_list()
    if lacking:
        raise InsufficientDataError(
            f"no spot for snapshot(s) {lacking[:3]}: no index_price and no live "
            "underlying_price; pass spot= to chain_metrics"
        )
    return out


def option_gamma(
    rows: pl.DataFrame, forward: FloatArray, scale: Any
) -> tuple[FloatArray, NDArray[np.bool_]]:
    """Black-76 gamma per USD (0 where expired or without vol or forward), usable.

    ``forward`` is (n,) and ``scale`` broadcasts against ``forward[:, None]``
    (a grid of spot multipliers) or is 1.0.
    """
    vol = rows[VOL].fill_null(np.nan).to_numpy()
    strike = rows[STRIKE].to_numpy()
    years = rows[YEARS].to_numpy()
    fwd = np.nan_to_num(forward, nan=-1.0)
    ok = np.isfinite(vol) & (vol > 0) & (years > 0) & (fwd > 0) & (strike > 0)
    if np.ndim(scale) > 0:
        fwd, ok = fwd[:, None] * scale, ok[:, None]
        strike, years, vol = strike[:, None], years[:, None], vol[:, None]
    g = black76_greeks(
        np.where(ok, fwd, 1.0),
        np.where(ok, strike, 1.0),
        np.where(ok, years, 1.0),
        np.where(ok, vol, 0.5),
        True,
    ).gamma
    out: FloatArray = np.where(ok, g, 0.0)
    return out, ok
