"""Everything a report shows, read from the store as of one time.

:func:`load_report_data` is the only function here that touches the store
(read-only); :func:`assemble_report_data` does the rest from frames, so a
caller that keeps bars in memory (the dashboard) can re-run it per as-of time.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

import polars as pl

from rallylens.exceptions import RallylensError
from rallylens.features import (
    ChainMetrics,
    attach_options,
    chain_metrics,
    option_snapshots,
    prepare_bars,
    to_daily,
)
from rallylens.rallies import RallyAnalysis, RallySpecs, analyze_rally, find_rallies
from rallylens.schemas import (
    DECLINE_HIGH_TS,
    LOW_TS,
    OPTION_BAR_COLUMNS,
    TS,
    TS_DTYPE,
    timeframe_duration,
)
from rallylens.store import Store, load_panel
from rallylens.study import StudyResult

__all__ = [
    "CHAIN_MAX_AGE",
    "FIGURE_LOOKBACK",
    "ReportData",
    "assemble_report_data",
    "load_report_data",
    "recent_chain",
]

FIGURE_LOOKBACK = timedelta(days=200)
"""Bars read before the window's start: supports form up to 180 days before the
decline's high, the funding band needs 90 days."""
CHAIN_MAX_AGE = timedelta(days=7)
"""An option chain older than this at the as-of time is not drawn."""
_MIN_MARGIN = timedelta(days=21)
_MARGIN_SHARE = 0.2
_NO_STUDY = "the event study was not run for this report"


@dataclass(frozen=True)
class ReportData:
    """One asset's rally as of one time, with what every figure needs.

    Attributes
    ----------
    asset : str
        Base asset (``BTC``).
    as_of : datetime
        Time the analysis is taken at (UTC): the close of the last bar used.
    timeframe : str
        Bar length of the anatomy (``1d``, ``4h``, ``1h``).
    analysis : RallyAnalysis
        Verdict, reasons, levels, anatomy and missing data of the rally.
    bars : pl.DataFrame
        Schema BARS, every bar closed by ``as_of`` (options attached).
    rallies : pl.DataFrame
        ``rallylens.rallies.find_rallies`` of ``bars``: every past rally.
    options : pl.DataFrame
        Per chain snapshot taken by ``as_of``: ``ts`` and the
        :data:`rallylens.schemas.OPTION_BAR_COLUMNS`; empty without chains.
    chain : ChainMetrics or None
        Positioning of the newest chain snapshot if it is recent (see
        :data:`CHAIN_MAX_AGE`).
    chain_note : str
        Which snapshot ``chain`` is, or why there is none.
    missing_sources : dict[str, str]
        Panel column groups with no data, and why (``Panel.missing``).
    study : StudyResult or None
        The event study, when it was run.
    study_note : str
        What the study covers, or why it is absent.
    window_bars : pl.DataFrame or None
        Schema BARS read for the figures' window only, so each column group's
        source is chosen over that window (a series covering only recent
        years is drawn even where a longer one wins over the whole history);
        None: the figures use ``bars``.
    """

    asset: str
    as_of: datetime
    timeframe: str
    analysis: RallyAnalysis
    bars: pl.DataFrame
    rallies: pl.DataFrame
    options: pl.DataFrame
    chain: ChainMetrics | None
    chain_note: str
    missing_sources: dict[str, str] = field(default_factory=dict)
    study: StudyResult | None = None
    study_note: str = _NO_STUDY
    window_bars: pl.DataFrame | None = None

    @property
    def rally(self) -> dict[str, Any]:
        """The analysed rally's row (schema RALLIES)."""
        return self.analysis.rally

    @property
    def failure(self) -> dict[str, Any] | None:
        """``RallyAnalysis.failure`` (P(fail), analogues) when computed."""
        value = getattr(self.analysis, "failure", None)
        return value if isinstance(value, dict) else None

    @cached_property
    def daily(self) -> pl.DataFrame:
        """``window_bars`` (else ``bars``) aggregated to UTC days (schema BARS)."""
        return to_daily(self.bars if self.window_bars is None else self.window_bars)

    @property
    def window_start(self) -> datetime:
        """First day the time-series figures show.

        The decline's high (else the rally's low) minus a margin of a fifth
        of the time since then, at least three weeks.
        """
        anchor = self.rally.get(DECLINE_HIGH_TS) or self.rally.get(LOW_TS)
        first: datetime = self.bars[TS][0]
        if not isinstance(anchor, datetime):
            return first
        margin = max(_MIN_MARGIN, (self.as_of - anchor) * _MARGIN_SHARE)
        return max(first, (anchor - margin).replace(hour=0, minute=0, second=0))


def load_report_data(
    store_path: str | Path,
    asset: str,
    *,
    as_of: datetime | None = None,
    timeframe: str = "1d",
    run_study: bool = False,
) -> ReportData:
    """Read one asset from the store (read-only) and analyse its rally.

    Parameters
    ----------
    store_path : str or Path
        DuckDB store file.
    asset : str
        Base asset, e.g. ``"BTC"``.
    as_of : datetime, optional
        Only data known by then is read (default: everything stored).
    timeframe : str, default "1d"
        Bar length of the anatomy. Daily bars use every stored series
        (coarser series are not placed on finer bars).
    run_study : bool, default False
        Also run the event study over every stored asset as of ``as_of``
        (``rallylens.workflows.load_study``) and the rally's failure outlook
        (P(fail), analogues); a study that cannot run is noted in
        ``study_note``.

    Returns
    -------
    ReportData

    Raises
    ------
    InsufficientDataError
        If the store file does not exist, holds no prices for the asset or no
        rally before ``as_of``.
    """
    from rallylens import workflows

    loaded = workflows.load_bars(store_path, asset, timeframe, as_of)
    chains = loaded.chains
    study, note = _run_study(store_path, as_of) if run_study else (None, _NO_STUDY)
    analysis = None
    if study is not None:
        analysis = workflows.analyze(
            store_path, loaded.asset, as_of=as_of, timeframe=timeframe, study=study
        )
    data = assemble_report_data(
        loaded.bars,
        timeframe=timeframe,
        as_of=as_of,
        chains=chains,
        missing_sources=loaded.missing,
        study=study,
        study_note=note,
        analysis=analysis,
    )
    start = data.window_start - FIGURE_LOOKBACK
    with Store(store_path, read_only=True, wait_seconds=10) as store:
        panel = load_panel(store, data.asset, timeframe, start=start, as_of=data.as_of)
    return replace(data, window_bars=prepare_bars(panel.frame, panel.asset))


def _run_study(
    store_path: str | Path, as_of: datetime | None
) -> tuple[StudyResult | None, str]:
    """The event study over every stored asset as of ``as_of``, or None and why."""
    from rallylens import workflows

    assets = workflows.store_assets(store_path)
    try:
        result = workflows.load_study(store_path, assets, as_of=as_of)
    except RallylensError as exc:
        return None, f"the event study could not run: {type(exc).__name__}: {exc}"
    when = f"data known by {as_of:%Y-%m-%d %H:%M} UTC" if as_of else "all stored data"
    return result, (
        f"event study over {', '.join(assets)} ({result.timeframe or 'daily'} bars, "
        f"{when})"
    )


def assemble_report_data(
    bars: pl.DataFrame,
    *,
    timeframe: str,
    as_of: datetime | None = None,
    chains: pl.DataFrame | None = None,
    missing_sources: dict[str, str] | None = None,
    study: StudyResult | None = None,
    study_note: str | None = None,
    analysis: RallyAnalysis | None = None,
    chain_max_age: timedelta = CHAIN_MAX_AGE,
    specs: RallySpecs | None = None,
) -> ReportData:
    """Analyse bars already in memory into a :class:`ReportData` (pure).

    Parameters
    ----------
    bars : pl.DataFrame
        Schema BARS of one asset at ``timeframe``, sorted by ``ts``; bars not
        closed by ``as_of`` are ignored.
    timeframe : str
        Bar length of ``bars``.
    as_of : datetime, optional
        Analysis time (default: the close of the last bar).
    chains : pl.DataFrame, optional
        Stored option-chain rows (schema OPTIONS_CHAIN); rows after ``as_of``
        are ignored. None: chains were not read; empty: none are stored.
    missing_sources : dict, optional
        ``Panel.missing``.
    study : StudyResult, optional
        Event study result to show.
    study_note : str, optional
        What the study covers or why it is absent.
    analysis : RallyAnalysis, optional
        The rally's analysis when already computed (e.g. with its failure
        outlook by ``rallylens.workflows.analyze``); default: computed here.
    chain_max_age : timedelta, default 7 days
        Older snapshots are not drawn as the gamma figure.
    specs : RallySpecs, optional
        Detection, anatomy and verdict parameters.

    Returns
    -------
    ReportData
    """
    step = timeframe_duration(timeframe) or timedelta(days=1)
    missing = dict(missing_sources or {})
    if as_of is not None:
        bars = bars.filter(pl.col(TS) + step <= as_of)
        if chains is not None and not chains.is_empty():
            chains = chains.filter(pl.col(TS) <= as_of)
    snapshots = _snapshot_frame()
    if chains is not None and not chains.is_empty():
        snapshots = option_snapshots(chains)
        bars = attach_options(bars, snapshots, bar=step)
    elif chains is not None and "options" not in missing:
        missing["options"] = "no option chain snapshots stored by the as-of time"
    if analysis is None:
        analysis = analyze_rally(
            bars, as_of=as_of, specs=specs, missing_sources=missing
        )
    bars = bars.filter(pl.col(TS) + step <= analysis.as_of)
    chain, chain_note = _latest_chain(chains, analysis.as_of, chain_max_age)
    return ReportData(
        asset=analysis.asset,
        as_of=analysis.as_of,
        timeframe=timeframe,
        analysis=analysis,
        bars=bars,
        rallies=find_rallies(bars, specs),
        options=snapshots,
        chain=chain,
        chain_note=chain_note,
        missing_sources=missing,
        study=study,
        study_note=study_note or _NO_STUDY,
    )


def _snapshot_frame() -> pl.DataFrame:
    return pl.DataFrame(
        schema={TS: TS_DTYPE, **{c: pl.Float64() for c in OPTION_BAR_COLUMNS}}
    )


def recent_chain(
    chains: pl.DataFrame, as_of: datetime, max_age: timedelta
) -> tuple[pl.DataFrame | None, str]:
    """The newest chain snapshot taken by ``as_of``, if recent, and a note.

    Returns
    -------
    tuple
        The snapshot's rows (None when there is none within ``max_age``) and a
        sentence saying which snapshot it is or why there is none.
    """
    known = chains.filter(pl.col(TS) <= as_of) if not chains.is_empty() else chains
    if known.is_empty():
        return None, "no option chain snapshot stored by the as-of time"
    newest: datetime = known[TS].max()  # type: ignore[assignment]
    age = as_of - newest
    if age > max_age:
        return None, (
            f"no option chain within {max_age.days} days of the as-of time "
            f"(newest stored snapshot: {newest:%Y-%m-%d %H:%M} UTC, "
            f"{age.days} days earlier)"
        )
    snapshot = known.filter(pl.col(TS) == newest)
    return snapshot, f"option chain snapshot of {newest:%Y-%m-%d %H:%M} UTC"


def _latest_chain(
    chains: pl.DataFrame | None, as_of: datetime, max_age: timedelta
) -> tuple[ChainMetrics | None, str]:
    """Metrics of the newest snapshot taken by ``as_of`` if recent, and a note."""
    if chains is None:
        return None, "option chains were not read for this report"
    snapshot, note = recent_chain(chains, as_of, max_age)
    return (None if snapshot is None else chain_metrics(snapshot)), note
