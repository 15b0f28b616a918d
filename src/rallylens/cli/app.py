"""The ``rallylens`` command: thin commands that call one library function each."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import click
import polars as pl
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from rallylens import __version__
from rallylens._typing import POSITIONINGS, SeriesKind
from rallylens.cli._render import console, err_console, frame_table, print_json
from rallylens.config import Settings, load_settings
from rallylens.exceptions import InsufficientDataError, RallylensError

__all__ = ["cli", "main"]

F = TypeVar("F", bound=Callable[..., Any])


class _Context:
    def __init__(self, store: str | None) -> None:
        self._store = store
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(store=self._store)
        return self._settings


def _handle_errors(func: F) -> F:
    """Print a RallylensError once as 'ErrorName: message' and exit 1."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except RallylensError as exc:
            err_console.print(
                f"[bold red]{type(exc).__name__}[/]: {escape(str(exc))}",
                soft_wrap=True,
            )
            sys.exit(1)

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper  # type: ignore[return-value]


def _json_flag(what: str = "the result") -> Callable[[F], F]:
    """The ``--json`` flag every command with tabular output takes."""
    return click.option(
        "--json", "as_json", is_flag=True, help=f"Print {what} as JSON."
    )


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.version_option(__version__, prog_name="rallylens")
@click.option(
    "--store",
    metavar="PATH",
    envvar="RALLYLENS_STORE",
    help="DuckDB store file [default: the user data dir; env RALLYLENS_STORE].",
)
@click.option("-v", "--verbose", count=True, help="Log more (-vv for debug).")
@click.pass_context
def cli(ctx: click.Context, store: str | None, verbose: int) -> None:
    """rallylens: is this crypto rally real?

    Import market data, inspect the store, and analyse rallies from funding,
    open interest, liquidations, spot/perp flows and options positioning.
    """
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    ctx.obj = _Context(store)


# --- import -----------------------------------------------------------------
@cli.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-r", "--recursive", is_flag=True, help="Descend into folders.")
@click.option("--preset", help="Force a file format (see 'Presets' below).")
@click.option(
    "--mapping",
    "mappings",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="Mapping file or folder of *.toml rules (repeatable).",
)
@click.option("--venue", help="Venue id, e.g. binance, bybit, okx, deribit, all.")
@click.option("--market", help="ccxt unified market, e.g. BTC/USDT or BTC/USDT:USDT.")
@click.option(
    "--kind",
    type=click.Choice([k.value for k in SeriesKind]),
    help="Series kind, e.g. ohlcv, funding, open_interest.",
)
@click.option("--timeframe", help="Bar length (1h, 4h, 1d), or settle/snapshot/event.")
@click.option(
    "--rate-unit",
    type=click.Choice(["decimal", "percent"]),
    help="Unit of funding rates.",
)
@click.option(
    "--oi-unit", type=click.Choice(["base", "usd"]), help="Unit of open interest."
)
@click.option(
    "--interval-hours", type=int, help="Funding settlement interval (1, 4, 8)."
)
@click.option(
    "--epoch-unit",
    type=click.Choice(["auto", "s", "ms", "us"]),
    default="auto",
    show_default=True,
)
@click.option(
    "--snapshot-time", help="Snapshot time of an option chain file (ISO, UTC)."
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace stored values that differ (default: keep them).",
)
@click.option(
    "--force", is_flag=True, help="Re-import files already imported byte for byte."
)
@click.option("--dry-run", is_flag=True, help="Parse and report; write nothing.")
@_json_flag()
@click.pass_obj
@_handle_errors
def import_cmd(
    obj: _Context,
    paths: tuple[Path, ...],
    recursive: bool,
    preset: str | None,
    mappings: tuple[Path, ...],
    venue: str | None,
    market: str | None,
    kind: str | None,
    timeframe: str | None,
    rate_unit: str | None,
    oi_unit: str | None,
    interval_hours: int | None,
    epoch_unit: str,
    snapshot_time: str | None,
    overwrite: bool,
    force: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Import market-data files (CSV, CSV.gz, zip, Parquet, Feather) into the store.

    Each file is recognised by its header and name (or by --preset / a
    mapping rule), converted to canonical units and written in one
    transaction: a file that fails leaves the store as it was. Re-importing
    the same file adds nothing.
    """
    from rallylens.sources import FileOptions, find_files, load_mapping
    from rallylens.store import Store
    from rallylens.store.ingest import import_files

    options = FileOptions(
        venue=venue,
        market=market,
        kind=SeriesKind(kind) if kind else None,
        timeframe=timeframe,
        rate_unit=rate_unit,  # type: ignore[arg-type]  # validated by click.Choice
        oi_unit=oi_unit,  # type: ignore[arg-type]
        interval_hours=interval_hours,
        epoch_unit=epoch_unit,  # type: ignore[arg-type]
        snapshot_ts=_parse_time(snapshot_time),
    )
    rules = [r for m in (*mappings, *obj.settings.mappings) for r in load_mapping(m)]
    files = find_files(paths, recursive=recursive)
    if not files:
        raise click.UsageError("no data files found (use --recursive for folders)")
    target = (
        ":memory:" if dry_run else obj.settings.store_path
    )  # a dry run opens nothing
    with Store(target) as store, _progress(not as_json) as progress:
        task = progress.add_task("importing", total=len(files))

        def advance(result: Any) -> None:
            # failures are listed once, after the table (render_import)
            progress.update(task, advance=1, description=result.path.name[:40])

        summary = import_files(
            store,
            files,
            preset=preset,
            options=options,
            rules=rules,
            policy="overwrite" if overwrite else "keep",
            dry_run=dry_run,
            force=force,
            on_file=advance,
        )
    from rallylens.cli._import_view import import_frame, render_import

    if as_json:
        print_json(import_frame(summary).to_dicts())
    else:
        render_import(summary, store_path=obj.settings.store_path, dry_run=dry_run)
    if summary.failed:
        sys.exit(1)


def _parse_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not an ISO date/time") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description:<40}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        disable=not enabled,
        transient=True,
    )


# --- store ------------------------------------------------------------------
@cli.group("store")
def store_group() -> None:
    """Inspect the embedded store."""


@store_group.command("info")
@click.option("--asset", help="Only series of this asset (BTC, ETH, ...).")
@click.option(
    "--long",
    "long_",
    is_flag=True,
    help="Also show source files, import time and notes.",
)
@_json_flag()
@click.pass_obj
@_handle_errors
def store_info(obj: _Context, asset: str | None, long_: bool, as_json: bool) -> None:
    """List every stored series: range, rows, gaps and where it came from."""
    from rallylens.store import Store, series_info

    with Store(obj.settings.store_path) as store:
        info = series_info(store)
    if asset:
        info = info.filter(pl.col("asset") == asset.upper())
    if as_json:
        print_json(info.to_dicts())
        return
    if info.is_empty():
        console.print(
            f"store {obj.settings.store_path} is empty: "
            "import data with 'rallylens import PATH'"
        )
        return
    shown = info.with_columns(
        pl.col("sources").list.eval(pl.element().str.split("/").list.last()),
        pl.col("largest_gap_bars").alias("max_gap"),
    )
    columns = ["series", "first_ts", "last_ts", "rows", "gaps", "max_gap"]
    if long_:
        columns += ["sources", "last_import", "notes"]
    title = f"{obj.settings.store_path}: {info.height} series"
    console.print(frame_table(shown, title=title, columns=columns))
    if not long_:
        console.print(
            "[dim]--long adds source files, import time and notes; --json all fields[/]"
        )


# --- fetch -------------------------------------------------------------------------
@cli.command("fetch")
@click.argument("asset")
@click.option(
    "--since",
    help="Oldest date wanted (default: fetch.history_days before now; "
    "later runs only fetch what is new).",
)
@click.option(
    "--venue",
    "venues",
    multiple=True,
    type=click.Choice(["binance", "bybit", "okx", "deribit"]),
    help="Only these venues (repeat the option); default: fetch.venues.",
)
@click.option(
    "--archive",
    is_flag=True,
    help="Also download Binance's public bulk archive (years of daily candles, "
    "funding and 5-minute open interest) and import it.",
)
@_json_flag()
@click.pass_obj
@_handle_errors
def fetch_cmd(
    obj: _Context,
    asset: str,
    since: str | None,
    venues: tuple[str, ...],
    archive: bool,
    as_json: bool,
) -> None:
    """Download what the store lacks of ASSET's default series from public APIs.

    No API keys are needed. Each series resumes after its newest stored row; a
    series that cannot be fetched (unknown symbol, geo-block, venue down) is
    reported and the others proceed.
    """
    archived = _archive(obj, asset, since, quiet=as_json) if archive else None
    results, errors = _fetch(obj, asset, since, venues, quiet=as_json)
    if as_json:
        print_json(
            {
                "archive": archived,
                "series": [_result_dict(r) for r in results],
                "venue_errors": errors,
            }
        )
    else:
        from rallylens.cli._fetch import results_table

        if archived is not None:
            console.print(
                "archive: {planned} files planned, {downloaded} downloaded, "
                "{already_present} already here, {not_published} not published; "
                "{imported_files} imported with {new_rows:,} new rows".format(
                    **archived
                )
            )
            for line in archived["failed"] + archived["import_errors"]:
                err_console.print(f"[red]archive[/]: {line}")
        console.print(results_table(results, errors))
    if (results and all(r.status == "failed" for r in results)) or (
        not results and errors
    ):
        sys.exit(1)


def _fetch(
    obj: _Context,
    asset: str,
    since: str | None,
    venues: tuple[str, ...] = (),
    *,
    quiet: bool,
) -> tuple[list[Any], dict[str, str]]:
    from rallylens.cli._fetch import default_since, fetch_plan, progress_bar, run_fetch
    from rallylens.store import Store

    settings = obj.settings.fetch
    now = datetime.now(UTC)
    start = _parse_time(since) or default_since(settings, now)
    plan, errors = fetch_plan(settings, asset, venues)
    with Store(obj.settings.store_path) as store:
        progress = progress_bar(not quiet, err_console)
        with progress:
            results = run_fetch(store, plan, since=start, now=now, progress=progress)
    return results, errors


def _archive(
    obj: _Context, asset: str, since: str | None, *, quiet: bool
) -> dict[str, Any]:
    from rallylens.cli._fetch import default_since, run_archive
    from rallylens.store import Store

    settings = obj.settings.fetch
    now = datetime.now(UTC)
    start = _parse_time(since) or default_since(settings, now)
    with Store(obj.settings.store_path) as store:
        return run_archive(
            store,
            settings,
            asset,
            since=start,
            now=now,
            console=err_console,
            quiet=quiet,
        )


def _result_dict(result: Any) -> dict[str, Any]:
    return {
        "series": str(result.key),
        "status": result.status,
        "fetched": result.fetched,
        "inserted": result.inserted,
        "start": result.start,
        "end": result.end,
        "note": result.note,
    }


# --- record ------------------------------------------------------------------------
@cli.group("record")
def record_group() -> None:
    """Record live data that no venue keeps a history of."""


@record_group.command("liquidations")
@click.option(
    "--venues",
    default="binanceusdm,bybit,okx",
    show_default=True,
    help="Comma-separated venues: binanceusdm (or binance), bybit, okx.",
)
@click.option(
    "--symbols",
    default="BTC/USDT:USDT,ETH/USDT:USDT",
    show_default=True,
    help="Comma-separated linear perpetuals (ccxt symbols).",
)
@click.option(
    "--flush-seconds",
    default=2.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Longest time an event waits in memory before it is stored.",
)
@_json_flag("the final report")
@click.pass_obj
@_handle_errors
def record_liquidations_cmd(
    obj: _Context, venues: str, symbols: str, flush_seconds: float, as_json: bool
) -> None:
    """Record liquidation events from the venues' websockets until stopped.

    Events are stored every --flush-seconds (a hard kill loses at most that;
    Ctrl-C or SIGTERM stores everything). Disconnections are retried with
    backoff and stored as coverage gaps. The store stays usable by other
    commands while recording.
    """
    import signal
    import threading

    from rallylens.store.recording import record_liquidations

    aliases = {"binanceusdm": "binance"}
    venue_list = [aliases.get(v.strip(), v.strip()) for v in venues.split(",") if v]
    symbol_list = [s.strip() for s in symbols.split(",") if s.strip()]
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    err_console.print(
        f"recording liquidations of {', '.join(symbol_list)} on "
        f"{', '.join(venue_list)} into {obj.settings.store_path} (Ctrl-C to stop)"
    )
    report = record_liquidations(
        obj.settings.store_path,
        venue_list,
        symbol_list,
        stop=stop,
        flush_seconds=flush_seconds,
        base_url=obj.settings.fetch.base_url,
    )
    rows = [
        {
            "series": str(s.key),
            "received": s.received,
            "stored": s.inserted,
            "gaps": s.gaps,
            "covered_from": s.covered_start,
            "covered_to": s.covered_end,
        }
        for s in report.series
    ]
    if as_json:
        print_json({"clean_stop": report.clean_stop, "series": rows})
        return
    console.print(frame_table(pl.DataFrame(rows), title="recorded"))


# --- rallies and analysis ------------------------------------------------------
_TIMEFRAME = click.option(
    "--timeframe",
    default="1d",
    show_default=True,
    type=click.Choice(["1h", "4h", "1d"]),
    help="Bar length of the anatomy (rallies are found on daily closes).",
)
_AT = click.option(
    "--at",
    "at",
    help="As-of time: only data known by then is used. A bare date means "
    "after that day's close (e.g. 2022-08-10 = 2022-08-11 00:00 UTC).",
)


def _parse_as_of(value: str | None) -> datetime | None:
    parsed = _parse_time(value)
    if parsed is not None and value is not None and len(value.strip()) <= 10:
        try:
            parsed += timedelta(days=1)
        except OverflowError as exc:
            raise click.BadParameter(
                f"{value!r} is past the last representable day; give a real date"
            ) from exc
    return parsed


def _load_bars(
    obj: _Context, asset: str, timeframe: str, as_of: datetime | None
) -> tuple[pl.DataFrame, dict[str, str]]:
    from rallylens.workflows import load_bars

    loaded = load_bars(obj.settings.store_path, asset, timeframe, as_of)
    return loaded.bars, loaded.missing


@contextmanager
def _status(message: str, *, quiet: bool) -> Iterator[None]:
    """A spinner on stderr while ``message`` runs (none when ``quiet``)."""
    if quiet:
        yield
        return
    with err_console.status(message):
        yield


@cli.command("rallies")
@click.argument("asset")
@click.option("--since", help="Only rallies whose low is on or after this date.")
@click.option("--until", help="Only rallies whose low is before this date.")
@_AT
@_TIMEFRAME
@_json_flag()
@click.pass_obj
@_handle_errors
def rallies_cmd(
    obj: _Context,
    asset: str,
    since: str | None,
    until: str | None,
    at: str | None,
    timeframe: str,
    as_json: bool,
) -> None:
    """Every rally of ASSET with its verdict (each judged at its peak).

    Rallies are found on the whole history (so thresholds and baselines are
    the same whatever --since says); --since/--until only filter the table.
    """
    from rallylens.cli._rally_view import rallies_table, rallies_view
    from rallylens.rallies import find_rallies
    from rallylens.schemas import LOW_TS

    bars, _ = _load_bars(obj, asset, timeframe, _parse_as_of(at))
    table = find_rallies(bars)
    shown = table
    if (start := _parse_time(since)) is not None:
        shown = shown.filter(pl.col(LOW_TS) >= start)
    if (stop := _parse_time(until)) is not None:
        shown = shown.filter(pl.col(LOW_TS) < stop)
    if as_json:
        print_json(shown.to_dicts())
        return
    console.print(rallies_view(asset.upper(), rallies_table(shown), table.height))


@cli.command("analyze")
@click.argument("asset")
@_AT
@_TIMEFRAME
@click.option(
    "--offline",
    is_flag=True,
    help="Do not fetch; analyse what the store holds (implied by --at).",
)
@click.option(
    "--no-study",
    is_flag=True,
    help="Skip P(fail) and the analogues (the study of every stored rally).",
)
@_json_flag()
@click.pass_obj
@_handle_errors
def analyze_cmd(
    obj: _Context,
    asset: str,
    at: str | None,
    timeframe: str,
    offline: bool,
    no_study: bool,
    as_json: bool,
) -> None:
    """Is this rally real? Anatomy, verdict, reasons and levels of ASSET's rally.

    Judges the rally in progress at --at (default: now), or the latest rally if
    none is in progress. Without --at (and --offline) it first fetches what the
    store lacks from public exchange APIs; if that fails it says so and
    analyses what the store holds.
    """
    from rallylens.cli._rally_view import analysis_view
    from rallylens.workflows import analyze

    as_of = _parse_as_of(at)
    if as_of is None and not offline:
        results, errors = _fetch(obj, asset, None, quiet=as_json)
        failed = [r for r in results if r.status == "failed"]
        new = sum(r.inserted for r in results)
        err_console.print(
            f"fetched {new:,} new rows for {len(results) - len(failed)} series"
            + (f"; {len(failed)} failed" if failed else "")
            + (f"; venues unavailable: {', '.join(errors)}" if errors else "")
            + (" (see 'rallylens fetch' for details)" if failed or errors else "")
        )
    with _status("analysing (and scoring the store's past rallies)", quiet=as_json):
        result = analyze(
            obj.settings.store_path,
            asset,
            as_of=as_of,
            timeframe=timeframe,
            with_study=not no_study,
        )
    if as_json:
        print_json(result.to_dict())
        return
    console.print(analysis_view(result))


# --- study -------------------------------------------------------------------------
@cli.command("study")
@click.option(
    "--assets",
    default=None,
    help="Comma-separated assets (default: every asset in the store).",
)
@click.option("--since", help="Only rallies whose low is on or after this date.")
@_AT
@_TIMEFRAME
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the event table here (.parquet or .csv).",
)
@_json_flag("the summary")
@click.pass_obj
@_handle_errors
def study_cmd(
    obj: _Context,
    assets: str | None,
    since: str | None,
    at: str | None,
    timeframe: str,
    output: Path | None,
    as_json: bool,
) -> None:
    """How often each verdict was right: every past rally, judged point-in-time.

    Each rally is judged at the close of its confirmation day and 7, 14 and 30
    days later, from data known then; outcomes come from the prices after.
    Prints hit rates with bootstrap intervals, the walk-forward failure
    model's out-of-sample scores against the base rate, and what was dropped.
    """
    from rallylens.cli._study_view import study_view, write_events
    from rallylens.study import StudySpec
    from rallylens.workflows import load_study, store_assets

    path = obj.settings.store_path
    names = (
        [a.strip().upper() for a in assets.split(",") if a.strip()]
        if assets
        else store_assets(path)
    )
    spec = StudySpec(since=_parse_time(since))
    with _status(f"studying the rallies of {', '.join(names)}", quiet=as_json):
        result = load_study(
            path, names, as_of=_parse_as_of(at), timeframe=timeframe, spec=spec
        )
    if output is not None:
        write_events(result.events, output)
        err_console.print(f"wrote {result.events.height:,} events to {output}")
    if as_json:
        print_json({"assets": names, **result.to_dict()})
        return
    console.print(study_view(result, names))


# --- options -----------------------------------------------------------------------
@cli.command("options")
@click.argument("asset")
@_AT
@click.option(
    "--positioning",
    default="dealer_long_calls_short_puts",
    show_default=True,
    type=click.Choice(POSITIONINGS),
    help="Who is assumed to hold the options (GEX is an estimate under it).",
)
@click.option("--top", default=15, show_default=True, help="Strikes shown.")
@click.option(
    "--history",
    is_flag=True,
    help="One row per stored snapshot (by --at) instead of the latest in detail.",
)
@_json_flag()
@click.pass_obj
@_handle_errors
def options_cmd(
    obj: _Context,
    asset: str,
    at: str | None,
    positioning: str,
    top: int,
    history: bool,
    as_json: bool,
) -> None:
    """Dealer gamma, walls, flip, ATM IV and skew from ASSET's latest option chain.

    Uses the newest stored chain snapshot taken by --at (default: the newest).
    """
    from rallylens.cli._options_view import history_view, options_view
    from rallylens.features.gamma import ChainSpec, chain_metrics, chain_series
    from rallylens.schemas import TS
    from rallylens.store import Store, chain_history, dvol_history, latest_chain

    as_of = _parse_as_of(at)
    path = obj.settings.store_path
    if not Path(path).exists():
        raise InsufficientDataError(
            f"no store at {path}; import a chain file or 'rallylens fetch {asset}'"
        )
    spec = ChainSpec(positioning=positioning)  # type: ignore[arg-type,unused-ignore]
    if history:
        with Store(path, read_only=True, wait_seconds=10) as store:
            chains = chain_history(store, asset, as_of)
            dvol = dvol_history(store, asset, as_of)
        table = chain_series(chains, spec=spec).drop("positioning", "note")
        table = table.join_asof(dvol, on=TS, strategy="backward")
        if as_json:
            print_json({"positioning": positioning, "snapshots": table.to_dicts()})
        else:
            title = f"{asset.upper()} option chains ({positioning}; GEX is an estimate)"
            console.print(history_view(table, title))
        return
    with Store(path, read_only=True, wait_seconds=10) as store:
        key, chain = latest_chain(store, asset, as_of)
    metrics = chain_metrics(chain, spec=spec)
    if as_json:
        print_json({"series": str(key), **metrics.to_dict()})
        return
    console.print(options_view(metrics, key, top=top))


def _register_optional_commands() -> None:
    from rallylens.cli._report import report_cmd
    from rallylens.cli._serve import serve_cmd

    cli.add_command(report_cmd)
    cli.add_command(serve_cmd)


_register_optional_commands()


def main() -> None:
    """Entry point of the ``rallylens`` console script."""
    cli.main(prog_name="rallylens")
