"""data.binance.vision for tests: zips, CHECKSUM files, ranges, broken transfers.

The real archive is an S3 bucket behind CloudFront: ``GET /<path>`` answers
the zip (``application/zip``, ``Accept-Ranges: bytes``, ``ETag``), honours
``Range: bytes=N-`` with ``206`` + ``Content-Range``, answers ``416`` for a
range past the end and ``404`` with an S3 ``NoSuchKey`` XML body for a file
that does not exist; ``<path>.CHECKSUM`` holds ``<sha256>  <name>.zip``.

The plain :class:`Emulator` answers JSON or text only and does not show
handlers the request headers, so :class:`ArchiveEmulator` serves the archive
host itself (raw bytes, ranges, a connection cut mid-body) and hands every
other host to the base class. Faults from :meth:`Emulator.inject` apply here
too (``match`` is searched in ``data.binance.vision/<path>?``): 429/418 (with
``Retry-After``), 451 (CloudFront's geo-block page), 5xx, ``slow``/``timeout``,
``truncated`` (a shorter body, complete at its own length), ``invalid`` (an
HTML page with status 200), ``disconnect`` (the body cut half-way, after
``Content-Length`` promised all of it), ``skip``/``overlap`` (a 206 starting
``rows`` bytes after/before the asked offset, honestly labelled; on a full
answer: the first ``rows`` bytes missing or doubled).

Generators build realistic files in code, deterministic for a seed: every
value is a function of the seed and the row's timestamp only, so a monthly
file and the daily files of the same month hold the same rows, as on
Binance. Each returns an :class:`ArchiveSet` with the canonical truth.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
import threading
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Literal

import numpy as np
import polars as pl
from aiohttp import web

from rallylens._typing import SeriesKind
from rallylens.schemas import (
    CANDLES,
    CLOSE,
    FUNDING,
    HIGH,
    INTERVAL_HOURS,
    LOW,
    OI_BASE,
    OI_BASE_DERIVED,
    OI_USD,
    OI_USD_DERIVED,
    OPEN,
    OPEN_INTEREST,
    QUOTE_VOLUME,
    RATE,
    TAKER_BUY_BASE,
    TAKER_BUY_QUOTE,
    TRADES,
    TS,
    VOLUME,
    FrameSchema,
    SeriesKey,
)
from tests.emulator._server import Emulator

__all__ = [
    "ARCHIVE_HOST",
    "ArchiveEmulator",
    "ArchiveRequest",
    "ArchiveSet",
    "archive_base_url",
    "checksum_text",
    "funding_archive",
    "install_archive",
    "kline_archive",
    "metrics_archive",
    "period_labels",
    "zip_csv",
]

ARCHIVE_HOST = "data.binance.vision"
KLINE_HEADER = (
    "open_time,open,high,low,close,volume,close_time,quote_volume,count,"
    "taker_buy_volume,taker_buy_quote_volume,ignore"
)
FUNDING_HEADER = "calc_time,funding_interval_hours,last_funding_rate"
METRICS_HEADER = (
    "create_time,symbol,sum_open_interest,sum_open_interest_value,"
    "count_toptrader_long_short_ratio,sum_toptrader_long_short_ratio,"
    "count_long_short_ratio,sum_taker_long_short_vol_ratio"
)
_STATUS_FAULTS = ("429", "418", "451", "500", "502", "503")
_MICROS_FROM = datetime(2025, 1, 1, tzinfo=UTC)  # spot files switch to µs here
_ZIP_TIME = (2024, 1, 1, 0, 0, 0)
_STEP_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


# --- files --------------------------------------------------------------------
def zip_csv(name: str, text: str) -> bytes:
    """A zip holding one CSV ``name`` (deflated, fixed timestamp: deterministic)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, text)
    return buffer.getvalue()


def checksum_text(body: bytes, name: str) -> str:
    """The ``.CHECKSUM`` body Binance publishes (``sha256sum`` output)."""
    return f"{hashlib.sha256(body).hexdigest()}  {name}\n"


def _period_path(
    market: str,
    frequency: str,
    data: str,
    symbol: str,
    interval: str | None,
    label: str,
) -> str:
    folder = "spot" if market == "spot" else "futures/um"
    sub = f"{symbol}/{interval}" if interval else symbol
    stem = f"{symbol}-{interval or data}-{label}"
    return f"data/{folder}/{frequency}/{data}/{sub}/{stem}.zip"


def _period_range(label: str) -> tuple[datetime, datetime]:
    """``2024-01`` → the month; ``2024-01-31`` → the day (UTC, half-open)."""
    parts = [int(p) for p in label.split("-")]
    if len(parts) == 3:
        start = datetime(parts[0], parts[1], parts[2], tzinfo=UTC)
        return start, start + timedelta(days=1)
    year, month = parts
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return start, end


@dataclass
class ArchiveSet:
    """Generated archive files and the canonical rows they hold.

    Attributes
    ----------
    key : SeriesKey
        The series the importer stores them under.
    files : dict[str, bytes]
        Archive path → zip bytes (pass to :func:`install_archive`).
    parts : dict[str, pl.DataFrame]
        Archive path → the canonical rows of that file.
    """

    key: SeriesKey
    files: dict[str, bytes] = field(default_factory=dict)
    parts: dict[str, pl.DataFrame] = field(default_factory=dict)

    def truth(self, *, without: Iterable[str] = ()) -> pl.DataFrame:
        """Canonical rows of every file (but ``without``), sorted, de-duplicated."""
        skip = set(without)
        frames = [f for p, f in self.parts.items() if p not in skip]
        return pl.concat(frames).unique(TS, keep="first").sort(TS)

    def add(self, path: str, csv_name: str, text: str, frame: pl.DataFrame) -> None:
        self.files[path] = zip_csv(csv_name, text)
        self.parts[path] = frame


# --- deterministic values -------------------------------------------------------
def _unit(index: np.ndarray, seed: int, salt: int) -> np.ndarray:
    """Uniform [0, 1) from (seed, salt, index) by splitmix64: order-free noise."""
    with np.errstate(over="ignore"):
        z = index.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        z += np.uint64((seed * 1_000_003 + salt * 7919) & 0xFFFFFFFFFFFFFFFF)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    unit: np.ndarray = (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)
    return unit


def _mid_cents(index: np.ndarray, seed: int) -> np.ndarray:
    wave = 400_000 * np.sin(index / 997.0) + 150_000 * np.sin(index / 89.0)
    cents: np.ndarray = np.round(
        4_000_000 + wave + 60_000 * (_unit(index, seed, 1) - 0.5)
    )
    return cents


def _fixed(units: np.ndarray, decimals: int, pad: int = 0) -> list[str]:
    """Integers in units of 10**-decimals as decimal strings (exact, no float)."""
    scale = 10**decimals
    return [
        f"{'-' if u < 0 else ''}{abs(u) // scale}.{abs(u) % scale:0{decimals}d}"
        + "0" * pad
        for u in units.astype(np.int64).tolist()
    ]


def _floats(texts: list[str]) -> list[float]:
    return [float(t) for t in texts]


def _canonical(frame: pl.DataFrame, schema: FrameSchema) -> pl.DataFrame:
    """``frame`` in ``schema``'s columns and dtypes (missing columns null)."""
    return frame.select(
        (pl.col(c) if c in frame.columns else pl.lit(None)).cast(t).alias(c)
        for c, t in schema.columns.items()
    )


def _utc(ms: np.ndarray) -> pl.Series:
    return pl.Series(TS, ms * 1000, pl.Int64).cast(pl.Datetime("us", "UTC"))


# --- klines -----------------------------------------------------------------------
def kline_archive(
    market_type: Literal["spot", "um"],
    symbol: str,
    interval: str,
    *,
    months: Iterable[str] = (),
    days: Iterable[str] = (),
    seed: int = 0,
) -> ArchiveSet:
    """Kline zips for the given months (``2024-01``) and days (``2024-02-03``).

    Spot files have no header and switch to microsecond times from 2025; um
    files carry the header line and futures precision (prices 2 decimals,
    volumes 3), as Binance publishes them.
    """
    step_s = int(interval[:-1]) * _STEP_S[interval[-1]]
    market = f"{symbol[:-4]}/USDT" + (":USDT" if market_type == "um" else "")
    result = ArchiveSet(SeriesKey("binance", market, SeriesKind.OHLCV, interval))
    for frequency, labels in (("monthly", months), ("daily", days)):
        for label in labels:
            start, end = _period_range(label)
            text, frame = _kline_file(market_type, start, end, step_s, seed)
            path = _period_path(
                market_type, frequency, "klines", symbol, interval, label
            )
            result.add(path, f"{symbol}-{interval}-{label}.csv", text, frame)
    return result


def _kline_file(
    market_type: str, start: datetime, end: datetime, step_s: int, seed: int
) -> tuple[str, pl.DataFrame]:
    step_ms = step_s * 1000
    first = int(start.timestamp()) // step_s
    index = np.arange(first, int(end.timestamp()) // step_s, dtype=np.int64)
    close = _mid_cents(index, seed).astype(np.int64)
    open_ = _mid_cents(index - 1, seed).astype(np.int64)
    high = np.maximum(open_, close) + (_unit(index, seed, 2) * 2_000).astype(np.int64)
    low = np.minimum(open_, close) - (_unit(index, seed, 3) * 2_000).astype(np.int64)
    volume = 50_000 + (_unit(index, seed, 4) * 2_000_000).astype(np.int64)  # 1e-3
    taker = (volume * (0.3 + 0.4 * _unit(index, seed, 5))).astype(np.int64)
    trades = 10_000 + (_unit(index, seed, 6) * 40_000).astype(np.int64)
    spot = market_type == "spot"
    pad_price, pad_qty, pad_quote = (6, 5, 3) if spot else (0, 0, 0)
    cols = {
        OPEN: _fixed(open_, 2, pad_price),
        HIGH: _fixed(high, 2, pad_price),
        LOW: _fixed(low, 2, pad_price),
        CLOSE: _fixed(close, 2, pad_price),
        VOLUME: _fixed(volume, 3, pad_qty),
        QUOTE_VOLUME: _fixed(volume * close, 5, pad_quote),
        TAKER_BUY_BASE: _fixed(taker, 3, pad_qty),
        TAKER_BUY_QUOTE: _fixed(taker * close, 5, pad_quote),
    }
    open_ms = index * step_ms
    lines = [] if spot else [KLINE_HEADER]
    micros_from = int(_MICROS_FROM.timestamp() * 1000)
    for i, ms in enumerate(open_ms.tolist()):
        unit = 1000 if spot and ms >= micros_from else 1
        lines.append(
            f"{ms * unit},{cols[OPEN][i]},{cols[HIGH][i]},{cols[LOW][i]},"
            f"{cols[CLOSE][i]},{cols[VOLUME][i]},{(ms + step_ms) * unit - 1},"
            f"{cols[QUOTE_VOLUME][i]},{trades[i]},{cols[TAKER_BUY_BASE][i]},"
            f"{cols[TAKER_BUY_QUOTE][i]},0"
        )
    frame = pl.DataFrame(
        {TS: _utc(open_ms), **{c: _floats(v) for c, v in cols.items()}}
    ).with_columns(pl.Series(TRADES, trades, pl.Int64))
    return "\n".join(lines) + "\n", _canonical(frame, CANDLES)


# --- funding ------------------------------------------------------------------------
def funding_archive(
    symbol: str, *, months: Iterable[str], interval_hours: int = 8, seed: int = 0
) -> ArchiveSet:
    """Monthly fundingRate zips: settlements every ``interval_hours`` from 00:00.

    ``calc_time`` carries a few milliseconds of jitter and rates have 8
    decimals (``1685577600011,8,0.00010000``), as in Binance's files.
    """
    key = SeriesKey("binance", f"{symbol[:-4]}/USDT:USDT", SeriesKind.FUNDING, "settle")
    result = ArchiveSet(key)
    for label in months:
        start, end = _period_range(label)
        step_ms = interval_hours * 3_600_000
        settle = np.arange(
            int(start.timestamp() * 1000), int(end.timestamp() * 1000), step_ms
        )
        jitter = (_unit(settle // step_ms, seed, 11) * 16).astype(np.int64)
        rate = ((_unit(settle // step_ms, seed, 12) - 0.3) * 60_000).astype(np.int64)
        rates = _fixed(rate, 8)
        lines = [FUNDING_HEADER] + [
            f"{t + j},{interval_hours},{r}"
            for t, j, r in zip(settle.tolist(), jitter.tolist(), rates, strict=True)
        ]
        frame = pl.DataFrame(
            {
                TS: _utc(settle),
                RATE: _floats(rates),
                INTERVAL_HOURS: [interval_hours] * len(rates),
            }
        )
        path = _period_path("um", "monthly", "fundingRate", symbol, None, label)
        text = "\n".join(lines) + "\n"
        result.add(
            path, f"{symbol}-fundingRate-{label}.csv", text, _canonical(frame, FUNDING)
        )
    return result


# --- metrics -----------------------------------------------------------------------
def metrics_archive(symbol: str, *, days: Iterable[str], seed: int = 0) -> ArchiveSet:
    """Daily metrics zips: 288 five-minute rows from 00:00:00 to 23:55:00.

    Open interest in base and USD; from 2025 Binance prints them with 16
    decimals (``82795.1230000000000000``). A few ratio fields are blank.
    """
    key = SeriesKey(
        "binance", f"{symbol[:-4]}/USDT:USDT", SeriesKind.OPEN_INTEREST, "5m"
    )
    result = ArchiveSet(key)
    for label in days:
        start, end = _period_range(label)
        ms = np.arange(
            int(start.timestamp() * 1000), int(end.timestamp() * 1000), 300_000
        )
        index = ms // 300_000
        oi = 70_000_000 + (_unit(index, seed, 21) * 20_000_000).astype(np.int64)  # 1e-3
        price = _mid_cents(index, seed).astype(np.int64)
        pad = 13 if start >= _MICROS_FROM else 0
        oi_text = _fixed(oi, 3, pad)
        value_text = _fixed(oi * price, 5, max(pad - 2, 0))
        ratios = [
            _fixed(80_000_000 + (_unit(index, seed, 22 + k) * 2e8).astype(np.int64), 8)
            for k in range(4)
        ]
        blank = _unit(index, seed, 30) < 0.02
        lines = [METRICS_HEADER]
        for i, t in enumerate(ms.tolist()):
            stamp = datetime.fromtimestamp(t / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
            fields = ["" if blank[i] and k < 2 else ratios[k][i] for k in range(4)]
            lines.append(
                f"{stamp},{symbol},{oi_text[i]},{value_text[i]},{','.join(fields)}"
            )
        frame = pl.DataFrame(
            {
                TS: _utc(ms),
                OI_BASE: _floats(oi_text),
                OI_USD: _floats(value_text),
                OI_BASE_DERIVED: [False] * len(oi_text),
                OI_USD_DERIVED: [False] * len(oi_text),
            }
        )
        path = _period_path("um", "daily", "metrics", symbol, None, label)
        text = "\n".join(lines) + "\n"
        frame = _canonical(frame, OPEN_INTEREST)
        result.add(path, f"{symbol}-metrics-{label}.csv", text, frame)
    return result


# --- the server --------------------------------------------------------------------
@dataclass(frozen=True)
class ArchiveRequest:
    """One archive request: path, Range header, answer status, body bytes sent."""

    path: str
    range: str | None
    status: int
    fault: str | None
    sent: int


class ArchiveEmulator(Emulator):
    """:class:`Emulator` that also plays data.binance.vision.

    Parameters
    ----------
    ranges : bool, default True
        Honour ``Range`` requests (False: always answer the whole file, 200).
    """

    def __init__(self, *, ranges: bool = True) -> None:
        super().__init__()
        self.ranges = ranges
        self.files: dict[str, bytes] = {}
        self.archive_log: list[ArchiveRequest] = []
        self._checksums: dict[str, str] = {}
        self._corrupt: dict[str, int] = {}
        self._drops: dict[str, list[int]] = {}
        self._state = threading.Lock()

    def __enter__(self) -> ArchiveEmulator:
        super().__enter__()
        return self

    # --- what tests change -------------------------------------------------------
    def corrupt(self, path: str, *, times: int = 1) -> None:
        """Serve ``path`` with flipped bytes (same length) for ``times`` requests."""
        with self._state:
            self._corrupt[path] = times

    def wrong_checksum(self, path: str) -> None:
        """Publish a well-formed CHECKSUM for ``path`` that does not match it."""
        name = path.rsplit("/", 1)[-1]
        with self._state:
            self._checksums[path] = f"{'0' * 64}  {name}\n"

    def drop_after(self, path: str, n_bytes: int, *, times: int = 1) -> None:
        """Cut the connection after ``n_bytes`` of ``path``'s body, ``times`` times."""
        with self._state:
            self._drops.setdefault(path, []).extend([n_bytes] * times)

    def restore(self, path: str) -> None:
        """Undo :meth:`corrupt`, :meth:`wrong_checksum` and :meth:`drop_after`."""
        with self._state:
            self._corrupt.pop(path, None)
            self._checksums.pop(path, None)
            self._drops.pop(path, None)

    def archive_requests(self, pattern: str = "") -> list[ArchiveRequest]:
        """Archive requests whose path matches ``pattern``."""
        return [r for r in self.archive_log if re.search(pattern, r.path)]

    # --- serving -----------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["host"] != ARCHIVE_HOST or request.method != "GET":
            return await super()._handle(request)
        path = request.match_info["tail"]
        fault = self.take_fault(f"{ARCHIVE_HOST}/{path}?{request.query_string}")
        kind = fault.kind if fault is not None else None
        if fault is not None and kind in ("slow", "timeout"):
            await asyncio.sleep(fault.delay_s)
        asked = request.headers.get("Range")
        if fault is not None and kind in _STATUS_FAULTS:
            return self._refuse(path, asked, kind, fault.retry_after)
        body = self._body(path)
        if body is None:
            return self._reply(
                path, asked, 404, _no_such_key(path), kind, "application/xml"
            )
        if kind == "invalid":
            page = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
            return self._reply(path, asked, 200, page, kind, "text/html")
        if kind == "truncated":
            body = body[: len(body) // 2]
        rows = fault.rows if fault is not None else 0
        return await self._send(request, path, body, asked, kind, rows)

    def _body(self, path: str) -> bytes | None:
        with self._state:
            if path.endswith(".CHECKSUM"):
                zip_path = path.removesuffix(".CHECKSUM")
                if zip_path not in self.files:
                    return None
                name = zip_path.rsplit("/", 1)[-1]
                text = self._checksums.get(zip_path) or checksum_text(
                    self.files[zip_path], name
                )
                return text.encode()
            body = self.files.get(path)
            if body is not None and self._corrupt.get(path, 0) > 0:
                self._corrupt[path] -= 1
                mid = len(body) // 2
                body = (
                    body[:mid]
                    + bytes(b ^ 0xFF for b in body[mid : mid + 8])
                    + body[mid + 8 :]
                )
            return body

    async def _send(
        self,
        request: web.Request,
        path: str,
        body: bytes,
        asked: str | None,
        kind: str | None,
        rows: int,
    ) -> web.StreamResponse:
        total = len(body)
        start = _range_start(asked, total) if self.ranges and asked else None
        if start is not None and start >= total:
            headers = {"Content-Range": f"bytes */{total}"}
            return self._reply(
                path, asked, 416, _invalid_range(), kind, "application/xml", headers
            )
        headers = _file_headers(path, body)
        if start is None:
            status, payload = 200, body
            if kind == "skip":
                payload = body[rows:]
            elif kind == "overlap":
                payload = body[:rows] + body
        else:
            shift = rows if kind == "skip" else -rows if kind == "overlap" else 0
            start = min(max(0, start + shift), total - 1)
            status, payload = 206, body[start:]
            headers["Content-Range"] = f"bytes {start}-{total - 1}/{total}"
        cut = self._take_drop(path) if not path.endswith(".CHECKSUM") else None
        if cut is None and kind == "disconnect":
            cut = len(payload) // 2
        if cut is None:
            return self._reply(path, asked, status, payload, kind, None, headers)
        return await self._send_cut(
            request, path, asked, status, payload, cut, headers, kind
        )

    async def _send_cut(
        self,
        request: web.Request,
        path: str,
        asked: str | None,
        status: int,
        payload: bytes,
        cut: int,
        headers: dict[str, str],
        kind: str | None,
    ) -> web.StreamResponse:
        """Promise the whole payload, send ``cut`` bytes, close the connection."""
        response = web.StreamResponse(status=status, headers=headers)
        response.content_length = len(payload)
        await response.prepare(request)
        await response.write(payload[:cut])
        label = kind if kind in (None, "disconnect") else f"{kind}+disconnect"
        self._log(path, asked, status, label or "disconnect", min(cut, len(payload)))
        transport = request.transport
        if transport is not None:
            transport.close()
        return response

    def _take_drop(self, path: str) -> int | None:
        with self._state:
            pending = self._drops.get(path)
            return pending.pop(0) if pending else None

    def _refuse(
        self, path: str, asked: str | None, kind: str, retry_after: float
    ) -> web.Response:
        status = int(kind)
        headers = {"Retry-After": f"{retry_after:g}"} if kind in ("429", "418") else {}
        if kind == "451":
            text = (
                b"<HTML><BODY><H1>451 ERROR</H1>The Amazon CloudFront distribution is "
                b"configured to block access from your country.</BODY></HTML>"
            )
        else:
            text = f"<html><body><h1>{status}</h1></body></html>".encode()
        return self._reply(path, asked, status, text, kind, "text/html", headers)

    def _reply(
        self,
        path: str,
        asked: str | None,
        status: int,
        body: bytes,
        kind: str | None,
        content_type: str | None,
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        self._log(path, asked, status, kind, len(body))
        all_headers = dict(headers or {})
        if content_type is not None:
            all_headers["Content-Type"] = content_type
        return web.Response(body=body, status=status, headers=all_headers)

    def _log(
        self, path: str, asked: str | None, status: int, kind: str | None, sent: int
    ) -> None:
        self._record(ARCHIVE_HOST, f"/{path}", {}, status, kind)
        with self._state:
            self.archive_log.append(ArchiveRequest(path, asked, status, kind, sent))


def _range_start(asked: str, total: int) -> int | None:
    """Offset of a single ``bytes=N-``/``bytes=N-M``/``bytes=-K`` range."""
    match = re.fullmatch(r"bytes=(\d*)-(\d*)", asked.strip())
    if match is None or not (match.group(1) or match.group(2)):
        return None
    if not match.group(1):
        return max(0, total - int(match.group(2)))
    return int(match.group(1))


def _file_headers(path: str, body: bytes) -> dict[str, str]:
    content_type = "application/zip" if path.endswith(".zip") else "binary/octet-stream"
    return {
        "Content-Type": content_type,
        "Accept-Ranges": "bytes",
        "ETag": f'"{hashlib.md5(body).hexdigest()}"',
        "Last-Modified": "Mon, 05 Feb 2024 06:21:33 GMT",
    }


def _no_such_key(path: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code>'
        f"<Message>The specified key does not exist.</Message><Key>{path}</Key>"
        "<RequestId>EMULATED</RequestId></Error>"
    ).encode()


def _invalid_range() -> bytes:
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InvalidRange</Code>'
        b"<Message>The requested range is not satisfiable</Message></Error>"
    )


def install_archive(emu: Emulator, files: dict[str, bytes]) -> None:
    """Serve ``files`` (archive path → zip bytes) and their ``.CHECKSUM`` files.

    Paths are relative to the archive root, e.g.
    ``data/spot/monthly/klines/BTCUSDT/1h/BTCUSDT-1h-2024-01.zip``; clients
    reach them at ``{emu.base_url}/data.binance.vision/<path>``.
    """
    if not isinstance(emu, ArchiveEmulator):
        raise TypeError(
            "the archive serves raw bytes with ranges, which the plain Emulator "
            "cannot; start an ArchiveEmulator() instead (it plays every host)"
        )
    with emu._state:
        emu.files.update({p.lstrip("/"): b for p, b in files.items()})


def archive_base_url(emu: Emulator) -> str:
    """``base_url`` to pass to the downloader."""
    return f"{emu.base_url}/{ARCHIVE_HOST}"


def period_labels(first: date, last: date, *, monthly: bool) -> list[str]:
    """Labels from ``first`` to ``last`` inclusive: months or days."""
    labels: list[str] = []
    day = first
    while day <= last:
        label = f"{day:%Y-%m}" if monthly else f"{day}"
        if not labels or labels[-1] != label:
            labels.append(label)
        day += timedelta(days=1)
    return labels
