"""Rendering of results for the terminal: rich tables and JSON."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import polars as pl
from rich.console import Console
from rich.table import Table

__all__ = ["console", "err_console", "frame_table", "print_json", "to_jsonable"]


def _width() -> int | None:
    """Wide output when piped (rich would assume 80 columns)."""
    if sys.stdout.isatty() or "COLUMNS" in os.environ:
        return None
    return 160


console = Console(highlight=False, width=_width())
err_console = Console(stderr=True, highlight=False)


def to_jsonable(value: Any) -> Any:
    """Convert datetimes, paths and nested containers to JSON-friendly values."""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, float) and value != value:  # NaN
        return None
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def print_json(value: Any) -> None:
    """Print ``value`` as indented JSON on stdout (no rich markup)."""
    print(json.dumps(to_jsonable(value), indent=2))


def frame_table(
    frame: pl.DataFrame,
    *,
    title: str | None = None,
    columns: Sequence[str] | None = None,
    formats: dict[str, str] | None = None,
) -> Table:
    """A rich table of a frame's rows, formatting datetimes and floats."""
    formats = formats or {}
    table = Table(title=title, show_lines=False, header_style="bold")
    names = list(columns or frame.columns)
    for name in names:
        numeric = frame.schema[name].is_numeric()
        table.add_column(name, justify="right" if numeric else "left", overflow="fold")
    for row in frame.select(names).iter_rows(named=True):
        table.add_row(*(_cell(row[n], formats.get(n)) for n in names))
    return table


def _cell(value: Any, fmt: str | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        if fmt:
            return format(value, fmt)
        return value.strftime(
            "%Y-%m-%d %H:%M" if (value.hour or value.minute) else "%Y-%m-%d"
        )
    if isinstance(value, float):
        return format(value, fmt or ",.4g")
    if isinstance(value, int) and not isinstance(value, bool):
        return format(value, fmt or ",d")
    if isinstance(value, list):
        return "\n".join(map(str, value))
    return str(value)
