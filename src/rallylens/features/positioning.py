"""Option positioning on price bars: the latest chain snapshot known at each bar."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from rallylens.exceptions import SchemaError
from rallylens.features.gamma import ChainSpec, chain_series
from rallylens.schemas import (
    BARS,
    OPT_ATM_IV,
    OPT_CALL_WALL,
    OPT_GAMMA_FLIP,
    OPT_GEX_USD,
    OPT_RR25,
    OPTION_BAR_COLUMNS,
    TS,
)

__all__ = ["attach_options", "option_snapshots"]

_KNOWN = "__known_at"
_SNAP = "__snapshot_ts"
_MATURITY_DAYS = 30


def option_snapshots(
    chains: pl.DataFrame, *, spec: ChainSpec | None = None
) -> pl.DataFrame:
    """Per chain snapshot, the metrics that go onto price bars.

    Parameters
    ----------
    chains : pl.DataFrame
        Rows of :data:`rallylens.schemas.OPTIONS_CHAIN` (any number of ``ts``).
    spec : ChainSpec, optional
        Positioning and grid (default: dealers long calls, short puts); it
        must include the 30-day constant maturity.

    Returns
    -------
    pl.DataFrame
        ``ts`` (snapshot time) and the :data:`OPTION_BAR_COLUMNS`; empty (same
        columns) when ``chains`` is empty.
    """
    spec = spec or ChainSpec()
    if _MATURITY_DAYS not in spec.cm_days:
        raise SchemaError(
            f"chain spec cm_days {spec.cm_days} lacks {_MATURITY_DAYS}: the bars "
            "carry the 30-day ATM IV and skew"
        )
    schema = {TS: BARS.columns[TS], **{c: pl.Float64() for c in OPTION_BAR_COLUMNS}}
    if chains.is_empty():
        return pl.DataFrame(schema=schema)
    series = chain_series(chains, spec=spec)
    return series.select(
        pl.col(TS),
        pl.col(f"atm_iv_{_MATURITY_DAYS}d").alias(OPT_ATM_IV),
        pl.col(f"rr25_{_MATURITY_DAYS}d").alias(OPT_RR25),
        pl.col("total_gex_usd").alias(OPT_GEX_USD),
        pl.col("gamma_flip").alias(OPT_GAMMA_FLIP),
        pl.col("call_wall").alias(OPT_CALL_WALL),
    ).cast(schema)  # type: ignore[arg-type]


def attach_options(
    bars: pl.DataFrame,
    snapshots: pl.DataFrame,
    *,
    bar: timedelta,
    max_age: timedelta = timedelta(days=2),
) -> pl.DataFrame:
    """Put on each bar the newest snapshot taken by the bar's close.

    Parameters
    ----------
    bars : pl.DataFrame
        Schema BARS of one asset, sorted by ``ts`` (bar open time).
    snapshots : pl.DataFrame
        Output of :func:`option_snapshots` for the same asset.
    bar : timedelta
        Bar length: a bar opened at ``ts`` is known at ``ts + bar``.
    max_age : timedelta, default 2 days
        A snapshot older than this at the bar's close is not used (the
        columns stay null), so positioning is never carried for weeks.

    Returns
    -------
    pl.DataFrame
        ``bars`` with the :data:`OPTION_BAR_COLUMNS` filled where a snapshot
        qualifies.

    Notes
    -----
    Point in time: a bar only sees snapshots with ``snapshot ts <= ts + bar``,
    so snapshots taken later never change earlier bars.
    """
    if snapshots.is_empty() or bars.is_empty():
        return bars
    right = snapshots.sort(TS).select(
        pl.col(TS).alias(_SNAP), *(pl.col(c) for c in OPTION_BAR_COLUMNS)
    )
    left = bars.drop(*OPTION_BAR_COLUMNS, strict=False).with_columns(
        (pl.col(TS) + bar).alias(_KNOWN)
    )
    joined = left.join_asof(
        right, left_on=_KNOWN, right_on=_SNAP, strategy="backward", tolerance=max_age
    )
    return joined.select(bars.columns)
