"""Pure assembly of the analysis panel from canonical series frames.

Each panel column group has candidate series ordered by precedence. A
candidate's rows are moved onto the panel grid (row ``ts`` = what is known
by the close of the bar opened at ``ts``), then either

* **stitched** (prices, funding, implied vol): each row takes the first
  candidate that has it, so history spliced from several files or venues
  reads as one column; or
* **single** (open interest, liquidations, taker volumes, flows): the one
  candidate with the best coverage of the window is used, because levels
  from different venues do not splice (Binance OI is a fraction of all
  venues' OI).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import polars as pl

from rallylens.schemas import TS, TS_DTYPE, timeframe_duration

__all__ = ["Candidate", "GroupSpec", "assemble_group", "grid", "to_grid"]

Agg = Literal["first", "max", "min", "last", "sum", "mean"]


@dataclass(frozen=True)
class GroupSpec:
    """A set of panel columns filled from one kind of series.

    Attributes
    ----------
    name : str
        Group name used in the panel's ``sources`` and ``missing`` reports.
    columns : tuple[tuple[str, str, Agg], ...]
        (panel column, source column, aggregation to coarser bars).
    mode : {"stitch", "single"}
        How candidates combine (see module notes).
    state : bool
        Values are levels valid until the next one (forward-filled within
        ``stale_bars`` source bars); otherwise flows over the bar.
    """

    name: str
    columns: tuple[tuple[str, str, Agg], ...]
    mode: Literal["stitch", "single"]
    state: bool


@dataclass(frozen=True)
class Candidate:
    """One stored series offered to a group, with its rows."""

    label: str
    timeframe: str
    frame: pl.DataFrame
    stale_bars: int = 1


def grid(start: datetime, end: datetime, timeframe: str) -> pl.DataFrame:
    """Bar open times from ``start`` to ``end`` (inclusive), timeframe-aligned."""
    step = timeframe_duration(timeframe)
    assert step is not None
    first = _floor(start, step)
    if end < first:
        return pl.DataFrame({TS: pl.Series([], dtype=TS_DTYPE)})
    series = pl.datetime_range(
        first, end, step, eager=True, time_unit="us", time_zone="UTC"
    )
    return pl.DataFrame({TS: series})


def _floor(ts: datetime, step: timedelta) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=ts.tzinfo)
    return epoch + ((ts - epoch) // step) * step


def to_grid(
    candidate: Candidate, spec: GroupSpec, timeframe: str
) -> pl.DataFrame | None:
    """A candidate's values on the panel's bars, or None if it cannot serve.

    Finer regular bars are aggregated (bars covering under half of the panel
    bar are dropped); settlements and snapshots go to the bar containing
    them; coarser bars of *state* series go to the bar in which they close
    (they are only known then). Coarser *flow* bars cannot be split and are
    refused.
    """
    step = timeframe_duration(timeframe)
    assert step is not None
    source_step = timeframe_duration(candidate.timeframe)
    frame = candidate.frame
    if frame.is_empty():
        return None
    aggs = [_agg(source, agg).alias(target) for target, source, agg in spec.columns]
    if source_step is not None and source_step <= step:
        if step % source_step:
            return None
        expected = step // source_step
        out = (
            frame.sort(TS)
            .group_by_dynamic(TS, every=step)
            .agg(*aggs, pl.len().alias("__n"))
        )
        return out.filter(pl.col("__n") * 2 >= expected).drop("__n")
    if source_step is not None and not spec.state:
        return None
    # a coarse bar is known at its close: it goes to the panel bar closing then
    offset = source_step - timedelta(microseconds=1) if source_step else timedelta(0)
    every = f"{int(step.total_seconds())}s"
    placed = frame.with_columns((pl.col(TS) + offset).dt.truncate(every).alias(TS))
    return placed.sort(TS).group_by(TS, maintain_order=True).agg(aggs)


def _agg(source: str, agg: Agg) -> pl.Expr:
    column = pl.col(source)
    return {
        "first": column.first(),
        "max": column.max(),
        "min": column.min(),
        "last": column.last(),
        "sum": pl.when(column.is_not_null().any()).then(column.sum()),
        "mean": column.mean(),
    }[agg]


def assemble_group(
    bars: pl.DataFrame,
    spec: GroupSpec,
    candidates: Sequence[Candidate],
    timeframe: str,
) -> tuple[pl.DataFrame, list[str]]:
    """Fill one group's columns on ``bars`` from its candidates.

    Returns
    -------
    (pl.DataFrame, list[str])
        ``bars`` plus the group's columns, and the labels of the candidates
        that supplied rows, in precedence order.
    """
    placed: list[tuple[str, pl.DataFrame]] = []
    for candidate in candidates:
        on_grid = to_grid(candidate, spec, timeframe)
        if on_grid is None or on_grid.is_empty():
            continue
        on_grid = bars.join(on_grid, on=TS, how="left")
        if spec.state:
            on_grid = on_grid.with_columns(
                pl.col(c).forward_fill(limit=candidate.stale_bars)
                for c, _, _ in spec.columns
            )
        present = _present(on_grid, spec)
        if present.any():
            placed.append(
                (candidate.label, on_grid.with_columns(present.alias("__has")))
            )
    names = [c for c, _, _ in spec.columns]
    if not placed:
        return bars.with_columns(pl.lit(None, pl.Float64).alias(c) for c in names), []
    if spec.mode == "single":
        label, best = max(placed, key=lambda item: int(item[1]["__has"].sum()))
        return best.drop("__has"), [label]
    used, out = [], placed[0][1]
    for label, frame in placed[1:]:
        take = ~out["__has"] & frame["__has"]
        if take.any():
            used.append(label)
            out = out.with_columns(
                pl.when(take).then(frame[c]).otherwise(pl.col(c)).alias(c)
                for c in [*names, "__has"]
            )
    return out.drop("__has"), [placed[0][0], *used]


def _present(frame: pl.DataFrame, spec: GroupSpec) -> pl.Series:
    return frame.select(
        pl.any_horizontal(pl.col(c).is_not_null() for c, _, _ in spec.columns)
    ).to_series()
