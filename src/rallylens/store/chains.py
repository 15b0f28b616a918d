"""Stored option-chain snapshots of one asset, read as frames."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import polars as pl

from rallylens._typing import SeriesKind
from rallylens.exceptions import InsufficientDataError
from rallylens.schemas import CLOSE, DVOL, TS, SeriesKey, timeframe_duration
from rallylens.store._db import Store
from rallylens.store.read import list_series, read_series

__all__ = ["chain_history", "dvol_history", "latest_chain"]


def _keys(store: Store, asset: str, kind: SeriesKind) -> list[SeriesKey]:
    """Keys of the stored series of ``asset`` of one kind."""
    series = list_series(store, asset=asset.upper()).filter(
        pl.col("kind") == kind.value
    )
    return [
        SeriesKey(str(r["venue"]), str(r["market"]), kind, str(r["timeframe"]))
        for r in series.iter_rows(named=True)
    ]


def _stored_chains(
    store: Store, asset: str, at: datetime | None
) -> list[tuple[SeriesKey, pl.DataFrame]]:
    """Each stored chain series of ``asset`` with its snapshots taken by ``at``."""
    found = []
    for key in _keys(store, asset, SeriesKind.OPTIONS_CHAIN):
        frame = read_series(store, key, end=at)
        if not frame.is_empty():
            found.append((key, frame))
    return found


def _none_stored(asset: str, at: datetime | None) -> InsufficientDataError:
    when = f" taken by {at:%Y-%m-%d %H:%M} UTC" if at else ""
    return InsufficientDataError(
        f"the store holds no {asset.upper()} option chain{when}; fetch one "
        f"('rallylens fetch {asset.upper()} --venue deribit') or import a "
        "Deribit chain file"
    )


def latest_chain(
    store: Store, asset: str, at: datetime | None = None
) -> tuple[SeriesKey, pl.DataFrame]:
    """The newest stored option-chain snapshot of ``asset`` taken by ``at``.

    Raises
    ------
    InsufficientDataError
        If the store holds no chain of the asset (taken by ``at``).
    """

    def newest(chain: tuple[SeriesKey, pl.DataFrame]) -> Any:
        return chain[1].select(pl.col(TS).max()).item()

    chains = _stored_chains(store, asset, at)
    if not chains:
        raise _none_stored(asset, at)
    key, frame = max(chains, key=newest)
    return key, frame.filter(pl.col(TS) == newest((key, frame)))


def chain_history(
    store: Store, asset: str, at: datetime | None = None, *, required: bool = True
) -> pl.DataFrame:
    """Every stored chain snapshot of ``asset`` taken by ``at``, oldest first.

    Parameters
    ----------
    store : Store
        Open store.
    asset : str
        Base asset, e.g. ``"BTC"``.
    at : datetime, optional
        Only snapshots taken by then.
    required : bool, default True
        Raise when there is none; else return an empty frame.

    Raises
    ------
    InsufficientDataError
        If ``required`` and the store holds no chain of the asset.
    """
    chains = _stored_chains(store, asset, at)
    if not chains:
        if required:
            raise _none_stored(asset, at)
        return pl.DataFrame()
    return pl.concat([f for _, f in chains]).sort(TS)


def dvol_history(store: Store, asset: str, at: datetime | None = None) -> pl.DataFrame:
    """Deribit's volatility index of ``asset`` as known by ``at``.

    Returns
    -------
    pl.DataFrame
        ``ts`` (the time each close became known: bar open + bar length) and
        ``dvol`` (decimal, annualised), oldest first; empty when none is
        stored. Several stored series are merged, the finest bars winning ties.
    """
    parts = []
    for key in _keys(store, asset, SeriesKind.VOL_INDEX):
        step = timeframe_duration(key.timeframe)
        if step is None:
            continue
        frame = read_series(store, key).select(
            (pl.col(TS) + step).alias(TS), pl.col(CLOSE).alias(DVOL)
        )
        if at is not None:
            frame = frame.filter(pl.col(TS) <= at)
        parts.append(frame)
    if not parts:
        return pl.DataFrame(schema={TS: pl.Datetime("us", "UTC"), DVOL: pl.Float64})
    return pl.concat(parts).unique(TS, keep="first").sort(TS)
