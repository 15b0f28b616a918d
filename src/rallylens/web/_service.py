"""The dashboard's work: cached bars per asset, analyses at an as-of time, study.

The store is opened read-only and only while reading, so imports, fetches and
the liquidation recorder can write to it while the dashboard runs. Each
asset's full bars (with option positioning) are loaded once per process and
kept until the store file changes (its or its write-ahead log's modification
time); an as-of change then only slices the cached bars and re-runs the
analysis, whose results are kept in a small LRU cache.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import polars as pl

from rallylens._typing import RallyKind, SeriesKind
from rallylens.exceptions import (
    ConfigError,
    InsufficientDataError,
    RallylensError,
    StoreError,
)
from rallylens.rallies import RallyAnalysis, analyze_rally, find_rallies, score_column
from rallylens.schemas import (
    CONFIRM_TS,
    LOW_TS,
    parse_market,
    timeframe_duration,
)
from rallylens.store import Store, list_series
from rallylens.web._assets import (
    AssetData,
    OutOfRangeError,
    StudyUnavailableError,
    UnknownAssetError,
    ceil_day,
    parse_at,
    parse_since,
)
from rallylens.workflows import load_bars

if TYPE_CHECKING:
    from rallylens.study import StudyResult

__all__ = ["Dashboard", "failure_of"]

log = logging.getLogger(__name__)

_PRICE_KINDS = frozenset({SeriesKind.OHLCV.value})
_PRICE_MARKETS = frozenset({"spot", "perp"})
T = TypeVar("T")


@dataclass
class _Lru:
    """A small thread-safe least-recently-used cache.

    A value being computed by one thread is awaited by the others asking for
    the same key (the page asks for the analysis, the rallies and the figures
    of one as-of time at once), so each is computed once.
    """

    size: int
    items: OrderedDict[Hashable, Any] = field(default_factory=OrderedDict)
    pending: dict[Hashable, Future[Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, key: Hashable, make: Callable[[], T]) -> T:
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]  # type: ignore[no-any-return]
            waiting = self.pending.get(key)
            owned: Future[Any] = Future()
            if waiting is None:
                self.pending[key] = owned
        if waiting is not None:
            return waiting.result()  # type: ignore[no-any-return]
        try:
            value = make()
        except BaseException as exc:
            with self.lock:
                del self.pending[key]
            owned.set_exception(exc)
            raise
        with self.lock:
            self.items[key] = value
            del self.pending[key]
            while len(self.items) > self.size:
                self.items.popitem(last=False)
        owned.set_result(value)
        return value

    def clear(self) -> None:
        with self.lock:
            self.items.clear()


class Dashboard:
    """Read-only access to a store for the dashboard, with caches.

    Parameters
    ----------
    store_path : str or Path
        The DuckDB store (must exist; it is never written).
    timeframe : str, default "1d"
        Bar length of the analysis (``1h``, ``4h`` or ``1d``).
    cache_size : int, default 256
        Analyses, rally tables and figure sets kept per kind.
    """

    def __init__(
        self, store_path: str | Path, *, timeframe: str = "1d", cache_size: int = 256
    ) -> None:
        step = timeframe_duration(timeframe)
        if step is None:
            raise ConfigError(f"timeframe must be 1h, 4h or 1d, got {timeframe!r}")
        self.store_path = Path(store_path)
        if not self.store_path.exists():
            raise StoreError(
                f"no store at {self.store_path}; import data first with "
                "'rallylens import PATH' or pass --store"
            )
        self.timeframe = timeframe
        self.step = step
        self._lock = threading.RLock()
        self._stamp: tuple[int | None, ...] = self._file_stamp()
        self._assets: list[str] | None = None
        self._bars: dict[str, AssetData] = {}
        self._results = {k: _Lru(cache_size) for k in ("analysis", "rallies", "other")}

    # --- cache control -------------------------------------------------------
    def _file_stamp(self) -> tuple[int | None, ...]:
        wal = self.store_path.with_name(self.store_path.name + ".wal")
        return tuple(
            p.stat().st_mtime_ns if p.exists() else None for p in (self.store_path, wal)
        )

    def _fresh(self) -> None:
        """Drop every cache when the store file changed since it was filled."""
        stamp = self._file_stamp()
        with self._lock:
            if stamp != self._stamp:
                log.info("store %s changed: reloading", self.store_path)
                self._stamp = stamp
                self._assets = None
                self._bars.clear()
                for cache in self._results.values():
                    cache.clear()

    def _open(self) -> Store:
        return Store(self.store_path, read_only=True, wait_seconds=10)

    # --- assets and bars -------------------------------------------------------
    def assets(self) -> list[str]:
        """Assets with spot or perp candles in the store, sorted."""
        self._fresh()
        with self._lock:
            if self._assets is None:
                with self._open() as store:
                    series = list_series(store)
                self._assets = sorted(
                    {
                        str(row["asset"])
                        for row in series.iter_rows(named=True)
                        if row["kind"] in _PRICE_KINDS
                        and parse_market(str(row["market"])).market_type
                        in _PRICE_MARKETS
                    }
                )
            return list(self._assets)

    def check_asset(self, asset: str) -> str:
        """The store's name of ``asset`` (upper case).

        Raises
        ------
        UnknownAssetError
            If the store has no price candles of ``asset``.
        """
        name = asset.strip().upper()
        known = self.assets()
        if name not in known:
            raise UnknownAssetError(
                f"no price data for asset {asset!r} in the store; available: "
                + (", ".join(known) or "none (import candles first)"),
                known,
            )
        return name

    def asset_data(self, asset: str) -> AssetData:
        """The cached bars of ``asset`` (loaded on first use).

        Raises
        ------
        UnknownAssetError
            If the store has no price candles of ``asset``.
        """
        name = self.check_asset(asset)
        with self._lock:
            if name not in self._bars:
                self._bars[name] = self._load(name)
            return self._bars[name]

    def _load(self, asset: str) -> AssetData:
        loaded = load_bars(self.store_path, asset, self.timeframe)
        if loaded.bars.is_empty():
            raise InsufficientDataError(f"the store holds no price bars of {asset}")
        return AssetData(
            asset,
            self.timeframe,
            loaded.bars,
            loaded.chains,
            loaded.snapshots,
            loaded.missing,
            self.step,
        )

    def resolve(self, asset: str, at: str | None) -> tuple[AssetData, datetime]:
        """The asset's data and the as-of time ``at`` names (default: the last close).

        Raises
        ------
        UnknownAssetError, BadParameterError
            For an unknown asset or a malformed ``at``.
        OutOfRangeError
            If ``at`` lies before the first close or after the day of the last.
        """
        data = self.asset_data(asset)
        if at is None or not at.strip():
            return data, data.last
        as_of = parse_at(at)
        if as_of < data.first or as_of > ceil_day(data.last):
            raise OutOfRangeError(
                f"at={at!r} ({as_of:%Y-%m-%d %H:%M} UTC) is outside the data: "
                f"{data.describe_range()}",
                data,
            )
        return data, as_of

    # --- results ---------------------------------------------------------------
    def analyze(self, asset: str, at: str | None) -> tuple[AssetData, RallyAnalysis]:
        """The rally at the as-of time, with its failure outlook when possible.

        :func:`rallylens.rallies.analyze_rally` on the bars closed by then;
        ``failure`` is :func:`rallylens.study.failure_outlook` from the study
        over every asset (its model trains only on outcomes settled by the
        as-of time), None when the study cannot be computed.
        """
        data, as_of = self.resolve(asset, at)
        result = self._results["analysis"].get(
            (data.asset, as_of), lambda: self._analyze(data, as_of)
        )
        return data, result

    def _analyze(self, data: AssetData, as_of: datetime) -> RallyAnalysis:
        result = analyze_rally(
            data.known_at(as_of), as_of=as_of, missing_sources=data.missing
        )
        try:
            _, _, study = self.study([], None)
        except StudyUnavailableError as exc:
            log.info("no failure outlook: %s", exc)
            return result
        return replace(result, failure=failure_of(result, study))

    def rallies(
        self, asset: str, at: str | None
    ) -> tuple[AssetData, datetime, pl.DataFrame]:
        """Every rally known at the as-of time (``find_rallies`` of its bars)."""
        data, as_of = self.resolve(asset, at)
        table = self._results["rallies"].get(
            (data.asset, as_of), lambda: _find(data, as_of)
        )
        return data, as_of, table

    def cached(self, key: Hashable, make: Callable[[], T]) -> T:
        """Any other result, kept until the store changes."""
        self._fresh()
        return self._results["other"].get(key, make)

    def study(
        self, assets: Sequence[str], since: str | None
    ) -> tuple[list[str], datetime | None, StudyResult]:
        """The event study over ``assets`` (default: every asset) since a date.

        Returns
        -------
        tuple
            The assets and start used, and ``rallylens.study.StudyResult``.

        Raises
        ------
        UnknownAssetError, BadParameterError
            For an unknown asset or a malformed ``since``.
        StudyUnavailableError
            If the study package is missing or the study cannot be computed.
        """
        names = sorted({self.check_asset(a) for a in assets}) or self.assets()
        start = parse_since(since) if since and since.strip() else None
        result = self.cached(
            ("study", tuple(names), start), lambda: self._study(names, start)
        )
        return names, start, result

    def _study(self, assets: list[str], since: datetime | None) -> StudyResult:
        try:
            from rallylens.study import StudySpec, run_study
        except ImportError as exc:
            raise StudyUnavailableError(
                "the event study is not available in this installation "
                f"({exc}); upgrade rallylens",
                installed=False,
            ) from exc
        bars = pl.concat(
            [self.asset_data(a).bars for a in assets], how="vertical_relaxed"
        )
        try:
            result = run_study(bars, StudySpec(since=since))
        except (RallylensError, pl.exceptions.PolarsError) as exc:
            # a study over too few rallies may fail inside polars: still a 4xx
            log.warning("study over %s failed", assets, exc_info=True)
            raise StudyUnavailableError(
                f"the study over {', '.join(assets)} cannot be computed"
                + (f" since {since:%Y-%m-%d}" if since else "")
                + f": {type(exc).__name__}: {str(exc).splitlines()[0]}"
            ) from exc
        return replace(result, timeframe=self.timeframe)


def failure_of(result: RallyAnalysis, study: StudyResult) -> dict[str, Any]:
    """:func:`rallylens.study.failure_outlook` of an analysed rally.

    The model's inputs are the rally's anatomy signals and ``score_*``
    values, as ``rallylens.workflows.analyze`` passes them.
    """
    from rallylens.study import failure_outlook

    row: dict[str, Any] = dict(result.anatomy)
    row.update({score_column(RallyKind(k)): v for k, v in result.scores.items()})
    return failure_outlook(
        study,
        row,
        as_of=result.as_of,
        asset=result.asset,
        low_ts=result.rally[LOW_TS],
        confirm_ts=result.rally.get(CONFIRM_TS),
    )


def _find(data: AssetData, as_of: datetime) -> pl.DataFrame:
    bars = data.known_at(as_of)
    if bars.is_empty():
        raise InsufficientDataError(
            f"no {data.asset} bars closed by {as_of:%Y-%m-%d %H:%M} UTC"
        )
    return find_rallies(bars)
