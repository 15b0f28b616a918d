"""Binance's public bulk archive (data.binance.vision): plan, download, verify.

Binance publishes years of history as zip files, each holding one CSV of the
same name, next to a ``.CHECKSUM`` file holding ``<sha256 hex>  <name>.zip``::

    data/spot/monthly/klines/BTCUSDT/1h/BTCUSDT-1h-2024-01.zip
    data/spot/daily/klines/BTCUSDT/1h/BTCUSDT-1h-2024-02-03.zip
    data/futures/um/monthly/klines/BTCUSDT/1h/BTCUSDT-1h-2024-01.zip
    data/futures/um/monthly/fundingRate/BTCUSDT/BTCUSDT-fundingRate-2024-01.zip
    data/futures/um/daily/metrics/BTCUSDT/BTCUSDT-metrics-2024-01-01.zip

A daily file appears the day after; a monthly file in the first days of the
next month (Binance says: by its first Monday). ``fundingRate`` exists only
monthly, ``metrics`` (5-minute open interest) only daily.

:func:`plan_archive` lists the files covering a time range and
:func:`download_archive` fetches them in parallel: resumable (``.part`` files
continue with an HTTP ``Range`` request), checked against their ``.CHECKSUM``
and kept under ``dest_dir`` with the archive's own relative path, which is
what the file importers read the market from. Only verified files are listed
for import, so a corrupt download never reaches the store::

    plan = plan_archive("um", "BTCUSDT", "klines", "1h",
                        start=since, end=now, today=now.date())
    result = download_archive(plan, dest_dir)
    rallylens.store.ingest.import_files(store, result.paths)

This module stays on the sources side of the data flow: it never opens the
store, so callers (the CLI) pass ``result.paths`` to ``import_files``, which
skips files whose exact bytes were imported before.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from rallylens.exceptions import ConfigError, SourceError, UnsupportedSymbolError

__all__ = [
    "ARCHIVE_URL",
    "ArchiveData",
    "ArchiveFile",
    "ArchiveMarket",
    "ArchiveResult",
    "ArchiveSpec",
    "FileOutcome",
    "Opener",
    "OutcomeStatus",
    "download_archive",
    "plan_archive",
]

log = logging.getLogger(__name__)

ARCHIVE_URL = "https://data.binance.vision"
"""Where Binance serves the archive."""

ArchiveMarket = Literal["spot", "um"]
ArchiveData = Literal["klines", "fundingRate", "metrics"]
Frequency = Literal["monthly", "daily"]
OutcomeStatus = Literal["downloaded", "present", "not_published", "failed"]
Opener = Callable[[urllib.request.Request, float], Any]
"""``opener(request, timeout_s)`` returning an ``http.client.HTTPResponse``."""

_FREQUENCIES: dict[str, tuple[Frequency, ...]] = {
    "klines": ("monthly", "daily"),
    "fundingRate": ("monthly",),
    "metrics": ("daily",),
}
_MARKETS: dict[str, tuple[str, ...]] = {
    "spot": ("klines",),
    "um": ("klines", "fundingRate", "metrics"),
}
_KLINE_INTERVALS = tuple("1s 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 3d 1w".split())
_SYMBOL_RE = re.compile(r"^[A-Z0-9]{2,30}$")
_CHECKSUM_RE = re.compile(r"^\s*([0-9a-fA-F]{64})\s+\*?(\S+)\s*$")
_CONTENT_RANGE_RE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")
_CHUNK_BYTES = 1 << 16
_MAX_WAIT_S = 60.0


# --- what to download --------------------------------------------------------
@dataclass(frozen=True)
class ArchiveSpec:
    """One archive data set: market type, Binance symbol, data kind, interval.

    Attributes
    ----------
    market_type : {"spot", "um"}
        Spot, or USDⓈ-M futures (``data/futures/um``).
    symbol : str
        Binance's id, upper case: ``BTCUSDT``.
    data : {"klines", "fundingRate", "metrics"}
        Candles, funding settlements (um, monthly files only) or 5-minute open
        interest and long/short ratios (um, daily files only).
    interval : str, optional
        Kline interval (``1m`` ... ``1w``); only for klines.
    """

    market_type: ArchiveMarket
    symbol: str
    data: ArchiveData
    interval: str | None = None

    def __post_init__(self) -> None:
        if self.market_type not in _MARKETS:
            raise ConfigError(
                f"archive market type {self.market_type!r} is not one of spot, um"
            )
        if self.data not in _MARKETS[self.market_type]:
            raise ConfigError(
                f"the archive has no {self.data!r} files for {self.market_type}; "
                f"use one of {', '.join(_MARKETS[self.market_type])}"
            )
        if not _SYMBOL_RE.match(self.symbol):
            raise ConfigError(
                f"archive symbol {self.symbol!r} is not a Binance id; use the "
                "upper-case pair without separators, such as BTCUSDT"
            )
        self._check_interval()

    def _check_interval(self) -> None:
        if self.data != "klines":
            if self.interval is not None:
                raise ConfigError(
                    f"{self.data} files have no interval (got {self.interval!r}); "
                    "drop it"
                )
            return
        allowed = _KLINE_INTERVALS[self.market_type == "um" :]  # no 1s for futures
        if self.interval not in allowed:
            raise ConfigError(
                f"kline interval {self.interval!r} is not in the archive for "
                f"{self.market_type}; use one of {', '.join(allowed)}"
            )

    @property
    def frequencies(self) -> tuple[Frequency, ...]:
        """File frequencies the archive publishes for this data set."""
        return _FREQUENCIES[self.data]

    @property
    def stem(self) -> str:
        """File name before the period: ``BTCUSDT-1h`` or ``BTCUSDT-metrics``."""
        return f"{self.symbol}-{self.interval or self.data}"

    def folder(self, frequency: Frequency) -> str:
        """Folder of the files of one frequency, relative to the archive root."""
        market = "spot" if self.market_type == "spot" else "futures/um"
        folder = f"data/{market}/{frequency}/{self.data}/{self.symbol}"
        return f"{folder}/{self.interval}" if self.interval else folder


@dataclass(frozen=True)
class ArchiveFile:
    """One zip of the archive.

    Attributes
    ----------
    spec : ArchiveSpec
        The data set it belongs to.
    frequency : {"monthly", "daily"}
        Whether it holds a month or a day.
    period : date
        The day, or the first day of the month.
    fallback : tuple of ArchiveFile
        Daily files to fetch instead when this (recent) monthly file is not
        published yet.
    """

    spec: ArchiveSpec
    frequency: Frequency
    period: date
    fallback: tuple[ArchiveFile, ...] = ()

    @property
    def label(self) -> str:
        """``2024-01`` (monthly) or ``2024-01-31`` (daily)."""
        return (
            f"{self.period:%Y-%m}" if self.frequency == "monthly" else f"{self.period}"
        )

    @property
    def name(self) -> str:
        """File name, e.g. ``BTCUSDT-1h-2024-01.zip``."""
        return f"{self.spec.stem}-{self.label}.zip"

    @property
    def path(self) -> str:
        """Path relative to the archive root (and to the download folder)."""
        return f"{self.spec.folder(self.frequency)}/{self.name}"

    @property
    def start(self) -> datetime:
        """First instant the file covers (UTC)."""
        return datetime(
            self.period.year, self.period.month, self.period.day, tzinfo=UTC
        )

    @property
    def end(self) -> datetime:
        """Instant after the last one the file covers (UTC)."""
        if self.frequency == "daily":
            return self.start + timedelta(days=1)
        return datetime.combine(_next_month(self.period), datetime.min.time(), UTC)

    def url(self, base_url: str = ARCHIVE_URL) -> str:
        """Download address of the zip."""
        return f"{base_url.rstrip('/')}/{self.path}"


def plan_archive(
    market_type: ArchiveMarket,
    symbol: str,
    data: ArchiveData,
    interval: str | None = None,
    *,
    start: datetime | date,
    end: datetime | date,
    today: date,
) -> list[ArchiveFile]:
    """The archive files covering ``start <= t < end``, oldest first.

    Months that ended before ``today``'s month come as monthly files; the
    days of ``today``'s month before ``today`` come as daily files (today's
    file is published tomorrow). Metrics exist only as daily files;
    fundingRate only as monthly ones, so the current month's funding is not in
    the archive (fetch it from the live API). The monthly klines file of the
    month before ``today``'s carries its days as ``fallback``, used when the
    monthly file is not out yet.

    Parameters
    ----------
    market_type, symbol, data, interval
        See :class:`ArchiveSpec`.
    start, end : datetime or date
        The range wanted (timezone-aware datetimes, or UTC dates). Whole files
        are planned, so they may hold rows outside it.
    today : date
        The current UTC date (what is published depends on it).

    Returns
    -------
    list of ArchiveFile
        Empty when the range starts today or later.

    Raises
    ------
    ConfigError
        For an invalid spec, a naive datetime or ``start >= end``.

    Examples
    --------
    >>> files = plan_archive("spot", "BTCUSDT", "klines", "1h",
    ...                      start=date(2024, 1, 15), end=date(2024, 3, 20),
    ...                      today=date(2024, 3, 4))
    >>> [f.label for f in files]
    ['2024-01', '2024-02', '2024-03-01', '2024-03-02', '2024-03-03']
    """
    spec = ArchiveSpec(market_type, symbol, data, interval)
    first, wanted_end = _as_utc(start, "start"), _as_utc(end, "end")
    if first >= wanted_end:
        raise ConfigError(f"archive range is empty: start {first} is not before {end}")
    if isinstance(today, datetime):
        today = _as_utc(today, "today").date()
    last = min(wanted_end, _as_utc(today, "today"))
    this_month = today.replace(day=1)
    files: list[ArchiveFile] = []
    month = date(first.year, first.month, 1)
    while _as_utc(month, "month") < last:
        following = _next_month(month)
        days = tuple(
            ArchiveFile(spec, "daily", d) for d in _days(month, following, first, last)
        )
        if following <= this_month and "monthly" in spec.frequencies:
            recent = following == this_month and "daily" in spec.frequencies
            files.append(ArchiveFile(spec, "monthly", month, days if recent else ()))
        elif "daily" in spec.frequencies:
            files.extend(days)
        month = following
    return files


def _as_utc(value: datetime | date, name: str) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ConfigError(f"{name} {value} has no time zone; pass it in UTC")
        return value.astimezone(UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _days(month: date, following: date, first: datetime, last: datetime) -> list[date]:
    """Days of ``[month, following)`` that overlap ``[first, last)``."""
    days, day = [], month
    while day < following:
        start = _as_utc(day, "day")
        if start < last and start + timedelta(days=1) > first:
            days.append(day)
        day += timedelta(days=1)
    return days


# --- results -----------------------------------------------------------------
@dataclass(frozen=True)
class FileOutcome:
    """What happened to one file.

    ``status`` is ``downloaded`` (fetched and verified now), ``present``
    (already in ``dest_dir`` and verified), ``not_published`` (the archive
    answers 404: a day not out yet, a month before the listing) or ``failed``
    (``reason`` says why; nothing of it is kept but a resumable ``.part``).
    """

    file: ArchiveFile
    status: OutcomeStatus
    path: Path | None = None
    reason: str = ""
    attempts: int = 0
    size_bytes: int = 0


@dataclass(frozen=True)
class ArchiveResult:
    """Outcome of :func:`download_archive`, in plan order."""

    outcomes: tuple[FileOutcome, ...]

    def _with(self, status: OutcomeStatus) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.status == status]

    @property
    def downloaded(self) -> list[FileOutcome]:
        """Files fetched and verified by this run."""
        return self._with("downloaded")

    @property
    def present(self) -> list[FileOutcome]:
        """Files already in the folder and verified (not fetched again)."""
        return self._with("present")

    @property
    def not_published(self) -> list[FileOutcome]:
        """Files the archive does not have (404)."""
        return self._with("not_published")

    @property
    def failed(self) -> list[FileOutcome]:
        """Files that could not be fetched or verified, with the reason."""
        return self._with("failed")

    @property
    def paths(self) -> list[Path]:
        """Every verified file (downloaded or present): what to import."""
        return [o.path for o in self.outcomes if o.path is not None]

    def raise_for_failures(self) -> None:
        """Raise :class:`SourceError` naming the failed files, if any."""
        failed = self.failed
        if not failed:
            return
        listed = "; ".join(f"{o.file.name}: {o.reason}" for o in failed[:3])
        more = f" (and {len(failed) - 3} more)" if len(failed) > 3 else ""
        raise SourceError(
            f"{len(failed)} archive file(s) failed: {listed}{more}. Run the "
            "download again: verified files are kept and partial ones resume"
        )


# --- downloading ---------------------------------------------------------------
class _NotPublishedError(Exception):
    """The archive answered 404."""


class _RetryableError(Exception):
    """A failure worth another attempt (``delay_s``: the server's Retry-After)."""

    def __init__(self, message: str, delay_s: float | None = None) -> None:
        super().__init__(message)
        self.delay_s = delay_s


class _FatalError(Exception):
    """A failure another attempt will not fix (e.g. HTTP 400)."""


class _RangeError(_RetryableError):
    """HTTP 416: the partial file is longer than the archive's file."""


def _default_opener(request: urllib.request.Request, timeout_s: float) -> Any:
    return urllib.request.urlopen(request, timeout=timeout_s)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _parse_checksum(text: bytes, name: str) -> str:
    """The hex digest of a ``.CHECKSUM`` body (``<sha256>  <name>``)."""
    match = _CHECKSUM_RE.match(text.decode("ascii", errors="replace"))
    if match is None or Path(match.group(2)).name != name:
        raise _RetryableError(f"malformed CHECKSUM for {name}: {text[:80]!r}")
    return match.group(1).lower()


def _checksum_line(digest: str, name: str) -> str:
    return f"{digest}  {name}\n"


def _retry_after(headers: Any) -> float | None:
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return None if value is None else min(_MAX_WAIT_S, max(0.0, float(value)))
    except ValueError:
        return None


def _content_range_start(value: str | None) -> int:
    match = _CONTENT_RANGE_RE.match(value or "")
    if match is None:
        raise _RetryableError(f"206 answer with a malformed Content-Range {value!r}")
    return int(match.group(1))


@dataclass
class _Downloader:
    """Fetches one file at a time (shared by the worker threads; stateless)."""

    dest_dir: Path
    base_url: str
    opener: Opener
    retries: int
    timeout_s: float
    refresh: bool
    sleep: Callable[[float], None]
    stop: threading.Event

    def fetch(self, file: ArchiveFile) -> FileOutcome:
        """Download and verify ``file`` unless a verified copy is present."""
        target = self.dest_dir / file.path
        if not self.refresh and self._verified_locally(target):
            return FileOutcome(
                file, "present", target, size_bytes=target.stat().st_size
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        reasons: list[str] = []
        delay_s: float | None = None
        for attempt in range(1, self.retries + 2):
            if attempt > 1:
                self.sleep(delay_s if delay_s is not None else _backoff(attempt))
            try:
                return self._attempt(file, target, attempt)
            except _NotPublishedError as exc:
                if self._verified_locally(target):
                    return FileOutcome(file, "present", target, f"{exc}; kept local")
                return FileOutcome(file, "not_published", None, str(exc), attempt)
            except _FatalError as exc:
                return FileOutcome(file, "failed", None, str(exc), attempt)
            except _RetryableError as exc:
                log.info("%s: %s (attempt %d)", file.name, exc, attempt)
                reasons.append(str(exc))
                delay_s = exc.delay_s
        reason = f"gave up after {self.retries + 1} attempts; last: {reasons[-1]}"
        return FileOutcome(file, "failed", None, reason, self.retries + 1)

    def _attempt(self, file: ArchiveFile, target: Path, attempt: int) -> FileOutcome:
        if self.stop.is_set():
            raise _FatalError("not attempted: the run was stopped")
        url = file.url(self.base_url)
        expected = _parse_checksum(self._get(url + ".CHECKSUM"), file.name)
        if target.exists() and _sha256_file(target) == expected:
            self._write_checksum(target, expected, file.name)
            size = target.stat().st_size
            return FileOutcome(
                file, "present", target, attempts=attempt, size_bytes=size
            )
        part = target.with_name(target.name + ".part")
        if not (part.exists() and _sha256_file(part) == expected):
            self._fetch_body(url, part)
            actual = _sha256_file(part)
            if actual != expected:
                part.unlink(missing_ok=True)
                raise _RetryableError(
                    f"sha256 {actual[:16]}… does not match the CHECKSUM "
                    f"{expected[:16]}…; the download was deleted"
                )
        os.replace(part, target)
        self._write_checksum(target, expected, file.name)
        size = target.stat().st_size
        return FileOutcome(
            file, "downloaded", target, attempts=attempt, size_bytes=size
        )

    def _verified_locally(self, target: Path) -> bool:
        """Whether ``target`` exists and matches its saved ``.CHECKSUM``."""
        saved = target.with_name(target.name + ".CHECKSUM")
        if not (target.exists() and saved.exists()):
            return False
        try:
            expected = _parse_checksum(saved.read_bytes(), target.name)
        except _RetryableError:
            return False
        if _sha256_file(target) == expected:
            return True
        log.warning("%s does not match its CHECKSUM; downloading it again", target)
        return False

    @staticmethod
    def _write_checksum(target: Path, digest: str, name: str) -> None:
        saved = target.with_name(target.name + ".CHECKSUM")
        temporary = saved.with_name(saved.name + ".tmp")
        temporary.write_text(_checksum_line(digest, name), encoding="ascii")
        os.replace(temporary, saved)

    def _open(self, url: str, headers: dict[str, str]) -> Any:
        """Send a GET, mapping HTTP and network errors to retry decisions."""
        request = urllib.request.Request(url, headers=headers)
        try:
            return self.opener(request, self.timeout_s)
        except urllib.error.HTTPError as exc:
            exc.close()
            raise _http_error(exc, url) from exc
        except (OSError, http.client.HTTPException) as exc:
            raise _RetryableError(f"network error on {url}: {exc!r}") from exc

    def _get(self, url: str) -> bytes:
        """A small body (a CHECKSUM), read whole."""
        with self._open(url, {}) as response:
            try:
                return bytes(response.read(4096))
            except (OSError, http.client.HTTPException) as exc:
                raise _RetryableError(f"reading {url} failed: {exc!r}") from exc

    def _fetch_body(self, url: str, part: Path) -> None:
        """Stream the zip into ``part``, continuing a previous partial download."""
        offset = part.stat().st_size if part.exists() else 0
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        try:
            response = self._open(url, headers)
        except _RangeError:
            part.unlink(missing_ok=True)
            raise
        with response:
            skip, append = 0, False
            if response.status == 206:
                start = _content_range_start(response.headers.get("Content-Range"))
                if start > offset:
                    part.unlink(missing_ok=True)
                    raise _RetryableError(f"asked from byte {offset}, got {start}")
                skip, append = offset - start, True
            elif offset:
                log.info("%s: no Range support; downloading it again", url)
            length = response.headers.get("Content-Length")
            expected = int(length) if length else None
            self._copy(response, part, append=append, skip=skip, expected=expected)

    def _copy(
        self,
        response: Any,
        part: Path,
        *,
        append: bool,
        skip: int,
        expected: int | None,
    ) -> None:
        received = 0
        with part.open("ab" if append else "wb") as out:
            while not self.stop.is_set():
                try:
                    chunk = response.read(_CHUNK_BYTES)
                except (OSError, http.client.HTTPException) as exc:
                    raise _RetryableError(
                        f"connection lost after {received:,} bytes ({exc!r}); "
                        "will resume"
                    ) from exc
                if not chunk:
                    break
                received += len(chunk)
                drop = min(skip, len(chunk))
                skip -= drop
                out.write(chunk[drop:])
        if expected is not None and received < expected:
            raise _RetryableError(
                f"connection dropped after {received:,} of {expected:,} bytes; "
                "will resume"
            )


def _http_error(exc: urllib.error.HTTPError, url: str) -> Exception:
    code = exc.code
    if code == 404:
        return _NotPublishedError(f"not published ({url} answers 404)")
    if code in (403, 451):
        return SourceError(
            f"data.binance.vision refuses requests from this location (HTTP {code} "
            f"on {url}); download from another network or through a proxy "
            "(base_url), or fetch the live API instead"
        )
    if code == 416:
        return _RangeError("the partial download is longer than the file; restarting")
    if code in (408, 418, 425, 429) or code >= 500:
        return _RetryableError(f"HTTP {code} on {url}", _retry_after(exc.headers))
    return _FatalError(f"HTTP {code} on {url}: {exc.reason}")


def _backoff(attempt: int) -> float:
    return float(min(30.0, 0.5 * 2 ** (attempt - 2)))


def download_archive(
    plan: Sequence[ArchiveFile],
    dest_dir: str | Path,
    *,
    base_url: str = ARCHIVE_URL,
    workers: int = 4,
    retries: int = 3,
    timeout_s: float = 60.0,
    refresh: bool = False,
    on_progress: Callable[[FileOutcome], None] | None = None,
    opener: Opener | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> ArchiveResult:
    """Download the planned files in parallel, verified, resuming partial ones.

    Each file goes to ``dest_dir / file.path`` with its ``.CHECKSUM`` beside
    it. A file already there that matches its saved checksum is not fetched
    again. A download streams into ``<name>.zip.part``; an interrupted one
    continues with ``Range: bytes=N-`` (or starts over when the server ignores
    ranges). A file whose sha256 differs from its CHECKSUM is deleted and
    fetched again, up to ``retries`` more times, and is never listed in
    :attr:`ArchiveResult.paths`.

    Parameters
    ----------
    plan : sequence of ArchiveFile
        From :func:`plan_archive`.
    dest_dir : str or Path
        Download folder (created when missing).
    base_url : str, default "https://data.binance.vision"
        Archive root.
    workers : int, default 4
        Parallel downloads.
    retries : int, default 3
        Further attempts per file after a network error, a 429/5xx answer or
        a checksum mismatch (waiting ``Retry-After`` when sent, else backing
        off 0.5 s, 1 s, 2 s ...).
    timeout_s : float, default 60
        Socket timeout per request.
    refresh : bool, default False
        Check files already present against the archive's current CHECKSUM
        (Binance occasionally replaces archived files) instead of the saved one.
    on_progress : callable, optional
        Called with each file's :class:`FileOutcome` as it completes (in the
        calling thread).
    opener : callable, optional
        ``opener(request, timeout_s)`` performing the request; the default is
        :func:`urllib.request.urlopen` (which honours proxy variables).
    sleep : callable
        Used for the waits between attempts (tests pass a no-op).

    Returns
    -------
    ArchiveResult
        Per file: downloaded, present, not_published or failed (with reason).

    Raises
    ------
    SourceError
        If the archive refuses this location (HTTP 451 or 403).
    UnsupportedSymbolError
        If no file of a plan holding monthly files is published.
    ConfigError
        For ``workers < 1`` or ``retries < 0``.
    """
    if workers < 1 or retries < 0:
        raise ConfigError(
            f"workers must be >= 1 and retries >= 0 (got {workers}, {retries})"
        )
    downloader = _Downloader(
        dest_dir=Path(dest_dir),
        base_url=base_url.rstrip("/"),
        opener=opener or _default_opener,
        retries=retries,
        timeout_s=timeout_s,
        refresh=refresh,
        sleep=sleep,
        stop=threading.Event(),
    )
    files = list(dict.fromkeys(plan))
    outcomes = _run(downloader, files, workers, on_progress)
    result = ArchiveResult(tuple(_in_plan_order(files, outcomes)))
    _check_published(result)
    return result


def _run(
    downloader: _Downloader,
    files: list[ArchiveFile],
    workers: int,
    on_progress: Callable[[FileOutcome], None] | None,
) -> dict[ArchiveFile, FileOutcome]:
    outcomes: dict[ArchiveFile, FileOutcome] = {}
    with ThreadPoolExecutor(workers, thread_name_prefix="rallylens-archive") as pool:
        pending: dict[Future[FileOutcome], ArchiveFile] = {
            pool.submit(downloader.fetch, f): f for f in files
        }
        try:
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    file = pending.pop(future)
                    outcome = outcomes[file] = future.result()
                    if on_progress is not None:
                        on_progress(outcome)
                    if outcome.status == "not_published":
                        for day in file.fallback:
                            pending[pool.submit(downloader.fetch, day)] = day
        except BaseException:
            downloader.stop.set()
            for future in pending:
                future.cancel()
            raise
    return outcomes


def _in_plan_order(
    files: Iterable[ArchiveFile], outcomes: dict[ArchiveFile, FileOutcome]
) -> list[FileOutcome]:
    ordered: list[FileOutcome] = []
    for file in files:
        ordered.append(outcomes[file])
        ordered.extend(outcomes[d] for d in file.fallback if d in outcomes)
    return ordered


def _check_published(result: ArchiveResult) -> None:
    """Unknown symbol: a plan with monthly files of which nothing is published."""
    outcomes = result.outcomes
    if not outcomes or any(o.status != "not_published" for o in outcomes):
        return
    monthly = [o.file for o in outcomes if o.file.frequency == "monthly"]
    if not monthly:
        return  # recent days only: they may simply not be out yet
    spec = monthly[0].spec
    raise UnsupportedSymbolError(
        f"data.binance.vision publishes no {spec.data} file for {spec.symbol} "
        f"({spec.market_type}) from {outcomes[0].file.label} to "
        f"{outcomes[-1].file.label}: Binance does not list {spec.symbol} there, or "
        "not yet in that period; check the symbol (e.g. BTCUSDT) and the dates"
    )
