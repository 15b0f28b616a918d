"""``rallylens fetch`` and the fetch step of ``analyze``: plan, progress, summary."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from rich.progress import (
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from rallylens.config import FetchSettings
from rallylens.exceptions import RallylensError
from rallylens.schemas import SeriesKey
from rallylens.sources import Source, make_source, parse_series_key
from rallylens.store import Store, SyncResult, sync_sources

__all__ = ["fetch_plan", "results_table", "run_fetch"]


def fetch_plan(
    settings: FetchSettings, asset: str, venues: Sequence[str] = ()
) -> tuple[list[tuple[Source, SeriesKey]], dict[str, str]]:
    """The (adapter, series) pairs to fetch for ``asset``, and why venues failed.

    The config's ``fetch.series`` for the asset replaces the venues' defaults.
    """
    asset = asset.upper()
    wanted = list(venues or settings.venues)
    overrides = [parse_series_key(s) for s in settings.series.get(asset, ())]
    plan: list[tuple[Source, SeriesKey]] = []
    failed: dict[str, str] = {}
    for venue in wanted:
        keys = [k for k in overrides if k.venue == venue]
        if overrides and not keys:
            continue
        try:
            source = make_source(
                venue,
                base_url=settings.base_url,
                timeout_seconds=settings.timeout_seconds,
            )
        except (RallylensError, ImportError) as exc:
            failed[venue] = str(exc)
            continue
        plan.extend((source, key) for key in (keys or source.series(asset)))
    return plan, failed


def run_fetch(
    store: Store,
    plan: list[tuple[Source, SeriesKey]],
    *,
    since: datetime,
    now: datetime,
    progress: Progress | None,
) -> list[SyncResult]:
    """Fetch every planned series, one progress line each."""
    tasks: dict[SeriesKey, TaskID] = {}
    received: dict[SeriesKey, int] = {}

    def start(key: SeriesKey) -> None:
        if progress is not None:
            tasks[key] = progress.add_task(str(key), total=None, rows=0, status="")

    def rows(key: SeriesKey, n: int) -> None:
        received[key] = received.get(key, 0) + n
        if progress is not None:
            progress.update(tasks[key], advance=n)

    def done(result: SyncResult) -> None:
        if progress is not None:
            label = f"{result.status} (+{result.inserted:,} new)"
            total = received.get(result.key, 0)  # rows received are the total
            progress.update(tasks[result.key], status=label, total=total)

    return sync_sources(
        store, plan, since=since, now=now, on_start=start, on_rows=rows, on_done=done
    )


def progress_bar(enabled: bool, console: object) -> Progress:
    """One line per series: name, rows so far, status, elapsed."""
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description:<44}"),
        TextColumn("{task.completed:>10,.0f} rows"),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=console,  # type: ignore[arg-type]
        disable=not enabled,
        transient=False,
    )


def default_since(settings: FetchSettings, now: datetime) -> datetime:
    """``history_days`` before ``now``, at midnight UTC."""
    start = now - timedelta(days=settings.history_days)
    return start.replace(hour=0, minute=0, second=0, microsecond=0)


def results_table(
    results: Sequence[SyncResult], venue_errors: dict[str, str] | None = None
) -> Table:
    """Per series: status, rows fetched and new, range asked, note."""
    table = Table(title="fetch", header_style="bold")
    for name, justify in (
        ("series", "left"),
        ("status", "left"),
        ("fetched", "right"),
        ("new", "right"),
        ("from", "left"),
        ("note", "left"),
    ):
        table.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
    style = {"failed": "red", "updated": "green", "up_to_date": "dim"}
    for r in results:
        table.add_row(
            str(r.key),
            f"[{style[r.status]}]{r.status}[/]",
            f"{r.fetched:,}",
            f"{r.inserted:,}",
            f"{r.start:%Y-%m-%d %H:%M}" if r.start else "-",
            r.note,
        )
    for venue, why in (venue_errors or {}).items():
        table.add_row(venue, "[red]failed[/]", "-", "-", "-", why)
    return table


def run_archive(
    store: Store,
    settings: FetchSettings,
    asset: str,
    *,
    since: datetime,
    now: datetime,
    console: object,
    quiet: bool,
) -> dict[str, Any]:
    """:func:`rallylens.store.sync_archive` with a progress bar; its summary."""
    from rich.progress import BarColumn, MofNCompleteColumn

    from rallylens.store import sync_archive

    progress = Progress(
        TextColumn("[bold]{task.description:<30}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,  # type: ignore[arg-type]
        disable=quiet,
        transient=True,
    )
    tasks: dict[str, TaskID] = {}
    with progress:
        result = sync_archive(
            store,
            asset,
            since=since,
            now=now,
            dest_dir=settings.archive_dir,
            base_url=settings.archive_url,
            on_planned=lambda n: tasks.update(
                files=progress.add_task("archive files", total=n)
            ),
            on_file=lambda: progress.advance(tasks["files"]),
            on_imports=lambda n: tasks.update(
                imports=progress.add_task("importing", total=n)
            ),
            on_import=lambda: progress.advance(tasks["imports"]),
        )
    return result.to_dict()
