"""Per-bar inputs of every rally feature, derived from a panel frame."""

from __future__ import annotations

import polars as pl

from rallylens.schemas import (
    ASSET,
    BARS,
    BASIS_USD,
    CLOSE,
    COINBASE_PREMIUM_RATE,
    DVOL,
    ETF_NET_FLOW_USD,
    FUNDING_APR,
    HIGH,
    LIQ_LONG_USD,
    LIQ_SHORT_USD,
    LOG_RETURN,
    LOW,
    MARK_CLOSE,
    OI_BASE_EST,
    OPEN,
    OPTION_BAR_COLUMNS,
    PANEL_OI_BASE,
    PANEL_OI_USD,
    PERP_CLOSE,
    PERP_DELTA_USD,
    PERP_HIGH,
    PERP_LOW,
    PERP_OPEN,
    PERP_QUOTE_VOLUME,
    PERP_TAKER_BUY_QUOTE,
    PERP_TAKER_BUY_USD,
    PERP_TAKER_SELL_USD,
    PERP_VOLUME,
    PREMIUM_RATE,
    SPOT_CLOSE,
    SPOT_DELTA_USD,
    SPOT_HIGH,
    SPOT_LOW,
    SPOT_OPEN,
    SPOT_QUOTE_VOLUME,
    SPOT_SHARE,
    SPOT_TAKER_BUY_QUOTE,
    SPOT_TAKER_BUY_USD,
    SPOT_TAKER_SELL_USD,
    SPOT_VOLUME,
    TS,
    VOLUME,
)

__all__ = ["prepare_bars", "to_daily"]


def _delta(buy_usd: str, sell_usd: str, buy_quote: str, quote: str) -> pl.Expr:
    """Taker buy minus taker sell in USD; from buy and total when sells are absent."""
    return pl.coalesce(
        pl.col(buy_usd) - pl.col(sell_usd),
        2 * pl.col(buy_quote) - pl.col(quote),
    )


def prepare_bars(panel: pl.DataFrame, asset: str) -> pl.DataFrame:
    """Turn a panel into the per-bar frame the rally stages work on.

    Parameters
    ----------
    panel : pl.DataFrame
        Schema :data:`rallylens.schemas.PANEL` (``load_panel(...).frame``), sorted
        by ``ts``. Bars without any price are dropped.
    asset : str
        Written into column ``asset``.

    Returns
    -------
    pl.DataFrame
        Schema :data:`rallylens.schemas.BARS`.

    Notes
    -----
    * Price (open/high/low/close) is spot where the panel has it, else perp.
    * ``volume`` = spot + perp base volume (either alone where one is missing);
      ``spot_share`` = spot / (spot + perp), only where both exist.
    * ``spot_delta_usd`` / ``perp_delta_usd`` = taker buy - taker sell (USD), from
      the taker-volume series, else ``2 * taker_buy_quote - quote_volume``.
    * ``premium_rate`` = perp close (mark close if no perp) / spot close - 1.
    * ``oi_base_est`` = open interest in base units; ``oi_usd / close`` when the
      source gives USD only.
    * ``log_return`` = ln(close_t / close_{t-1}), null on the first bar.
    """
    spot_vol, perp_vol = pl.col(SPOT_VOLUME), pl.col(PERP_VOLUME)
    close = pl.coalesce(SPOT_CLOSE, PERP_CLOSE)
    out = panel.filter(close.is_not_null()).select(
        pl.lit(asset, pl.String).alias(ASSET),
        pl.col(TS),
        pl.coalesce(SPOT_OPEN, PERP_OPEN, SPOT_CLOSE, PERP_CLOSE).alias(OPEN),
        pl.coalesce(SPOT_HIGH, PERP_HIGH, SPOT_CLOSE, PERP_CLOSE).alias(HIGH),
        pl.coalesce(SPOT_LOW, PERP_LOW, SPOT_CLOSE, PERP_CLOSE).alias(LOW),
        close.alias(CLOSE),
        pl.when(spot_vol.is_null() & perp_vol.is_null())
        .then(None)
        .otherwise(spot_vol.fill_null(0) + perp_vol.fill_null(0))
        .alias(VOLUME),
        spot_vol,
        perp_vol,
        (spot_vol / (spot_vol + perp_vol)).alias(SPOT_SHARE),
        _delta(
            SPOT_TAKER_BUY_USD,
            SPOT_TAKER_SELL_USD,
            SPOT_TAKER_BUY_QUOTE,
            SPOT_QUOTE_VOLUME,
        ).alias(SPOT_DELTA_USD),
        _delta(
            PERP_TAKER_BUY_USD,
            PERP_TAKER_SELL_USD,
            PERP_TAKER_BUY_QUOTE,
            PERP_QUOTE_VOLUME,
        ).alias(PERP_DELTA_USD),
        (pl.coalesce(PERP_CLOSE, MARK_CLOSE) / pl.col(SPOT_CLOSE) - 1).alias(
            PREMIUM_RATE
        ),
        pl.col(FUNDING_APR),
        pl.col(PANEL_OI_USD),
        pl.coalesce(PANEL_OI_BASE, pl.col(PANEL_OI_USD) / close).alias(OI_BASE_EST),
        pl.col(LIQ_LONG_USD),
        pl.col(LIQ_SHORT_USD),
        pl.col(DVOL),
        pl.col(BASIS_USD),
        pl.col(ETF_NET_FLOW_USD),
        pl.col(COINBASE_PREMIUM_RATE),
        *(pl.lit(None, pl.Float64).alias(c) for c in OPTION_BAR_COLUMNS),
    )
    out = out.with_columns(
        (pl.col(CLOSE) / pl.col(CLOSE).shift(1)).log().alias(LOG_RETURN)
    )
    return out.select(pl.col(c).cast(dtype) for c, dtype in BARS.columns.items())


_SUM = (
    VOLUME,
    SPOT_VOLUME,
    PERP_VOLUME,
    SPOT_DELTA_USD,
    PERP_DELTA_USD,
    LIQ_LONG_USD,
    LIQ_SHORT_USD,
    ETF_NET_FLOW_USD,
)
_LAST = (
    *OPTION_BAR_COLUMNS,
    PREMIUM_RATE,
    FUNDING_APR,
    PANEL_OI_USD,
    OI_BASE_EST,
    DVOL,
    BASIS_USD,
    COINBASE_PREMIUM_RATE,
)


def to_daily(bars: pl.DataFrame) -> pl.DataFrame:
    """Aggregate intraday bars to UTC days, per asset (daily bars pass through).

    Parameters
    ----------
    bars : pl.DataFrame
        Schema BARS, sorted by ``asset, ts``.

    Returns
    -------
    pl.DataFrame
        Schema BARS with one row per asset and day: OHLC first/max/min/last,
        flows summed, levels (funding, OI, DVOL, premium) the day's last value,
        ``spot_share`` recomputed from the summed volumes.

    Notes
    -----
    A day's row is labelled by its open (00:00 UTC) and summarises only the
    bars opened that day, so it is known at the day's close, like a daily bar.
    """
    if bars.is_empty():
        return bars
    day = pl.col(TS).dt.truncate("1d")
    out = (
        bars.group_by(ASSET, day.alias(TS), maintain_order=True)
        .agg(
            pl.col(OPEN).first(),
            pl.col(HIGH).max(),
            pl.col(LOW).min(),
            pl.col(CLOSE).last(),
            *(
                pl.when(pl.col(c).is_not_null().any()).then(pl.col(c).sum()).alias(c)
                for c in _SUM
            ),
            *(pl.col(c).drop_nulls().last().alias(c) for c in _LAST),
        )
        .with_columns(
            (pl.col(SPOT_VOLUME) / (pl.col(SPOT_VOLUME) + pl.col(PERP_VOLUME))).alias(
                SPOT_SHARE
            ),
            (pl.col(CLOSE) / pl.col(CLOSE).shift(1).over(ASSET))
            .log()
            .alias(LOG_RETURN),
        )
    )
    return out.select(pl.col(c).cast(dtype) for c, dtype in BARS.columns.items())
