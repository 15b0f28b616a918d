"""Small helpers shared by the figure modules (private to ``reports.figures``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import plotly.graph_objects as go
import polars as pl

from rallylens.reports.theme import COLORS
from rallylens.schemas import DECLINE_HIGH_TS, END_TS, LOW_TS, TS

__all__ = [
    "add_note",
    "coverage_note",
    "has_data",
    "rally_span",
    "set_time_range",
    "shade_rally",
    "to_time",
    "values",
]


def to_time(value: Any) -> datetime | None:
    """A rally-dict timestamp as a datetime (accepts ISO strings from JSON)."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def has_data(frame: pl.DataFrame | None, *columns: str) -> bool:
    """Whether any of ``columns`` holds a non-null, non-NaN value."""
    if frame is None or frame.is_empty():
        return False
    for column in columns:
        if column not in frame.columns:
            continue
        series = frame[column]
        if series.dtype.is_float():
            series = series.fill_nan(None)
        if series.null_count() < series.len():
            return True
    return False


def values(frame: pl.DataFrame, column: str) -> list[Any]:
    """A column as a Python list with NaN turned into None (gaps in lines)."""
    series = frame[column]
    if series.dtype.is_float():
        series = series.fill_nan(None)
    return series.to_list()


def rally_span(
    rally: Mapping[str, Any], as_of: datetime
) -> tuple[datetime | None, datetime | None, datetime]:
    """Decline high, rally low and the rally's end (its end day, else ``as_of``)."""
    end = to_time(rally.get(END_TS)) or as_of
    return to_time(rally.get(DECLINE_HIGH_TS)), to_time(rally.get(LOW_TS)), end


def shade_rally(
    fig: go.Figure,
    rally: Mapping[str, Any],
    *,
    as_of: datetime,
    row: int | str | None = None,
    col: int | str | None = None,
    labels: bool = False,
) -> None:
    """Shade the prior decline and the rally window behind the traces.

    With ``labels``, "prior decline" and "rally" are written at the top of
    the shaded areas.
    """
    high_ts, low_ts, end = rally_span(rally, as_of)
    kwargs: dict[str, Any] = {"layer": "below", "line_width": 0}
    if row is not None:
        kwargs.update(row=row, col=col if col is not None else 1)
    spans = []
    if high_ts is not None and low_ts is not None and high_ts < low_ts:
        spans.append((high_ts, low_ts, COLORS["decline"], "prior decline"))
    if low_ts is not None:
        spans.append((low_ts, end, COLORS["rally"], "rally"))
    for x0, x1, color, text in spans:
        if labels:
            kwargs.update(
                annotation_text=text,
                annotation_position="top left",
                annotation_font={"size": 11, "color": COLORS["muted"]},
            )
        fig.add_vrect(x0=x0, x1=x1, fillcolor=color, **kwargs)


def coverage_note(
    frame: pl.DataFrame, column: str, *, as_of: datetime, what: str
) -> str | None:
    """Say where ``column`` stops or starts when it does not span the frame.

    Returns None when the column covers the shown period (within two days).
    """
    known = frame.filter(pl.col(column).is_not_null() & pl.col(column).is_not_nan())
    if known.is_empty() or frame.is_empty():
        return None
    first, last = known[TS][0], known[TS][-1]
    notes = []
    if first - frame[TS][0] > timedelta(days=2):
        notes.append(f"starts {first:%Y-%m-%d}")
    if as_of - last > timedelta(days=2):
        notes.append(f"ends {last:%Y-%m-%d}")
    return f"{what} data {' and '.join(notes)}" if notes else None


def add_note(fig: go.Figure, text: str | None) -> None:
    """A muted one-line note in the figure's top-left corner (no-op for None)."""
    if not text:
        return
    fig.add_annotation(
        text=text,
        x=0.0,
        y=1.0,
        xref="paper",
        yref="paper",
        xanchor="left",
        yanchor="bottom",
        yshift=2,
        showarrow=False,
        font={"size": 11, "color": COLORS["muted"]},
    )


def set_time_range(fig: go.Figure, frame: pl.DataFrame, as_of: datetime) -> None:
    """Date x axes spanning the frame's first day to ``as_of`` (empty rows too)."""
    if frame.is_empty():
        return
    fig.update_xaxes(type="date", range=[frame[TS][0], as_of])
