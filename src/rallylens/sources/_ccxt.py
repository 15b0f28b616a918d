"""ccxt plumbing shared by the live venue adapters: clients, retries, paging.

Everything venue-specific (endpoints, field names, page limits) lives in the
adapters (``live_binance``, ``live_bybit``, ``live_okx``, ``live_deribit``);
this module only knows how to build a client, point it at another host,
call it with retries and walk time-based pages.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from rallylens.exceptions import (
    RateLimitError,
    SourceError,
    UnsupportedSymbolError,
)

__all__ = [
    "MalformedPayloadError",
    "RetryPolicy",
    "VenueUnreachableError",
    "call_with_retries",
    "final_error",
    "make_exchange",
    "paginate_by_time",
    "rewrite_urls",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

_MARKET_TYPES: dict[str, list[str]] = {
    "binance": ["spot", "linear"],
    "bybit": ["spot", "linear"],
    "okx": ["spot", "swap"],
}
"""Market types each venue loads (fewer requests than ccxt's default)."""


class MalformedPayloadError(SourceError):
    """A venue answered with a payload that does not have the expected shape."""


class VenueUnreachableError(SourceError):
    """No connection to the venue at all (offline, DNS failure, refused)."""


def rewrite_urls(urls: MutableMapping[str, Any], base_url: str) -> None:
    """Point every API URL of a ccxt ``urls['api']`` tree at ``base_url``.

    ``https://api.binance.com/api/v3`` becomes ``{base_url}/api.binance.com/api/v3``
    and ``wss://stream.bybit.com/v5`` becomes ``ws://{host}/stream.bybit.com/v5``
    (the original host is kept as the first path segment), so one local server
    can play every venue.
    """
    base = base_url.rstrip("/")
    ws_base = "ws" + base[len("http") :] if base.startswith("http") else base
    for key, value in list(urls.items()):
        if isinstance(value, MutableMapping):
            rewrite_urls(value, base_url)
        elif isinstance(value, str) and "://" in value:
            scheme, rest = value.split("://", 1)
            target = ws_base if scheme in ("ws", "wss") else base
            urls[key] = f"{target}/{rest}"


def make_exchange(
    venue: str,
    *,
    base_url: str | None = None,
    timeout_ms: int = 15_000,
    pro: bool = False,
    options: Mapping[str, Any] | None = None,
) -> Any:
    """A public (keyless) ccxt client for ``venue``.

    Parameters
    ----------
    venue : str
        ccxt exchange id: ``binance``, ``bybit``, ``okx``, ``deribit``.
    base_url : str, optional
        Send every request to this host instead (see :func:`rewrite_urls`).
    timeout_ms : int
        Per-request timeout.
    pro : bool
        A ``ccxt.pro`` (asyncio, websocket) client instead of a REST one.
    options : mapping, optional
        Extra ccxt ``options``.

    Raises
    ------
    UnsupportedSymbolError
        If ccxt has no such exchange.
    """
    import ccxt  # heavy: imported only when a venue is used

    module: Any = ccxt
    if pro:
        import ccxt.pro

        module = ccxt.pro
    cls = getattr(module, venue, None)
    if cls is None:
        raise UnsupportedSymbolError(
            f"ccxt has no exchange {venue!r}; use one of binance, bybit, okx, deribit"
        )
    merged: dict[str, Any] = {}
    if venue in _MARKET_TYPES:
        merged["fetchMarkets"] = list(_MARKET_TYPES[venue])
    merged.update(options or {})
    exchange = cls({"enableRateLimit": True, "timeout": timeout_ms, "options": merged})
    if base_url:
        rewrite_urls(exchange.urls["api"], base_url)
        exchange.rateLimit = min(exchange.rateLimit, 5)  # a local host needs no pacing
    return exchange


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to retry a venue call.

    Attributes
    ----------
    attempts : int
        Calls in all (1 = no retry).
    base_delay_s, max_delay_s : float
        Exponential backoff ``base * 2**k`` capped at ``max``; a 429's
        ``Retry-After`` wins when given.
    sleep : callable
        Injected so tests do not wait.
    """

    attempts: int = 6
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def delay(self, attempt: int) -> float:
        """Backoff before retry number ``attempt`` (0-based)."""
        return float(min(self.max_delay_s, self.base_delay_s * 2**attempt))


def _retry_after(exchange: Any) -> float | None:
    headers = getattr(exchange, "last_response_headers", None) or {}
    for name, value in dict(headers).items():
        if str(name).lower() == "retry-after":
            try:
                return max(0.0, float(value))
            except (TypeError, ValueError):
                return None
    return None


_STATUS = re.compile(r"(?:^|\D)(451|403)(?:\D|$)")
_GEO_WORDS = ("country", "region", "location", "restricted")


def _geo_status(message: str, *, bare_403_is_geo: bool) -> str | None:
    """The HTTP status ("451" or "403") when the message is a geo-block, else None.

    451 always is; 403 only when the body says so, unless ``bare_403_is_geo``
    (a websocket handshake shows no body): a bare REST 403 is often a rate ban.
    """
    match = _STATUS.search(message)
    if match is None:
        return None
    if match.group(1) == "451" or bare_403_is_geo:
        return match.group(1)
    lowered = message.lower()
    return "403" if any(word in lowered for word in _GEO_WORDS) else None


def final_error(
    exc: BaseException, venue: str, what: str, *, bare_403_is_geo: bool = False
) -> SourceError | None:
    """The error to give up with, or None when another attempt may help.

    Unknown symbols, geo-blocks (451, or 403 saying so), credential demands and
    the venue's own error answers are final; rate limits, 5xx, timeouts and
    network errors are not (REST and websocket callers share this rule).
    """
    import ccxt

    if isinstance(exc, ccxt.BadSymbol):
        return UnsupportedSymbolError(
            f"{what}: {venue} does not list it ({exc}); check the symbol with the "
            "venue or drop it from the config"
        )
    if isinstance(exc, ccxt.NetworkError):
        if _rate_limited(exc):
            return None
        status = _geo_status(str(exc), bare_403_is_geo=bare_403_is_geo)
        if status is None:
            return None
        return SourceError(
            f"{what}: {venue} refuses requests from this location (HTTP {status}); "
            "use another venue, the bulk archive ('rallylens fetch --archive') or "
            "run from elsewhere"
        )
    if isinstance(exc, ccxt.AuthenticationError | ccxt.PermissionDenied):
        return SourceError(f"{what}: {venue} asks for credentials ({exc})")
    if isinstance(exc, ccxt.BaseError):
        return SourceError(f"{what}: {venue} answered with an error: {exc}")
    return None


def _rate_limited(exc: Exception) -> bool:
    """429/418, whichever ccxt class a venue's adapter maps them to."""
    import ccxt

    if isinstance(exc, ccxt.RateLimitExceeded | ccxt.DDoSProtection):
        return True
    text = str(exc)
    return isinstance(exc, ccxt.ExchangeNotAvailable) and (
        " 429 " in text or " 418 " in text
    )


def _raise_if_final(exc: Exception, exchange: Any, what: str, attempt: int) -> None:
    """Raise for failures another attempt will not fix (see :func:`final_error`)."""
    import ccxt

    final = final_error(exc, exchange.id, what)
    if final is not None:
        raise final from exc
    if type(exc) is ccxt.NetworkError and attempt >= 1:
        raise VenueUnreachableError(
            f"{what}: cannot connect to {exchange.id} ({exc}); check the "
            "network or proxy (fetch.base_url), or work offline from "
            "imported files"
        ) from exc


def call_with_retries(
    exchange: Any,
    func: Callable[..., T],
    *args: Any,
    what: str,
    policy: RetryPolicy | None = None,
    validate: Callable[[Any], bool] | None = None,
    **kwargs: Any,
) -> T:
    """Call ``func(*args, **kwargs)``, retrying what a venue may fix by itself.

    Retried: rate limits (429, waiting ``Retry-After`` when sent), bans (418),
    server errors and unavailability (5xx), timeouts, network errors and
    malformed payloads (``validate`` returning False). Not retried: unknown
    symbols, geo-blocks (451), authentication errors.

    Raises
    ------
    UnsupportedSymbolError
        The venue does not list the symbol.
    RateLimitError
        Still rate-limited after every attempt.
    SourceError
        Any other failure, naming ``what``, the venue's message and what to try.
    """
    import ccxt

    policy = policy or RetryPolicy()
    last: Exception | None = None
    for attempt in range(policy.attempts):
        try:
            result = func(*args, **kwargs)
            if validate is not None and not validate(result):
                raise MalformedPayloadError(
                    f"{what}: unexpected payload {result!r:.200}"
                )
            return result
        except (ccxt.BaseError, MalformedPayloadError) as exc:
            _raise_if_final(exc, exchange, what, attempt)
            last = exc
            wait = _retry_after(exchange) if _rate_limited(exc) else None
            delay = (
                policy.delay(attempt) if wait is None else min(wait, policy.max_delay_s)
            )
        if attempt + 1 < policy.attempts:
            log.info("%s: %s; retry %d in %.1fs", what, last, attempt + 1, delay)
            policy.sleep(delay)
    assert last is not None
    if _rate_limited(last):
        raise RateLimitError(
            f"{what}: {exchange.id} kept rate-limiting after {policy.attempts} "
            "attempts; wait a few minutes and run the fetch again (it resumes)"
        ) from last
    raise SourceError(
        f"{what}: gave up after {policy.attempts} attempts ({type(last).__name__}: "
        f"{str(last)[:200]}); the venue may be down, run the fetch again later "
        "(it resumes where it stopped)"
    ) from last


def paginate_by_time(
    fetch_page: Callable[[int], list[T]],
    start_ms: int,
    end_ms: int,
    *,
    ts_of: Callable[[T], int],
    step_ms: int,
    contiguous: bool = False,
    max_pages: int = 100_000,
) -> Iterator[list[T]]:
    """Walk a ``since``-style endpoint forward, one page at a time.

    ``fetch_page(cursor_ms)`` returns rows at or after ``cursor_ms`` (any
    order). Yields each page's rows inside ``[start_ms, end_ms)``, sorted and
    without rows already yielded (overlapping pages), and stops at an empty
    page, at ``end_ms``, or when the venue stops advancing.

    With ``contiguous`` (regular bars), a page whose first row starts after
    the cursor is asked for again, up to twice, before the gap is accepted as
    real (venues do have outages; a flaky proxy or node can also drop rows).

    Raises
    ------
    SourceError
        If ``max_pages`` pages did not reach ``end_ms`` (a venue looping).
    """
    cursor, seen_until = start_ms, start_ms - 1
    for _ in range(max_pages):
        if cursor >= end_ms:
            return
        page = fetch_page(cursor)
        for _ in range(2 if contiguous else 0):
            if not page or min(ts_of(r) for r in page) <= cursor:
                break
            log.info("page at %d starts later than asked; asking again", cursor)
            page = fetch_page(cursor)
        stamps = [ts_of(row) for row in page]
        if not stamps:
            return
        fresh = sorted(
            (
                row
                for row, ts in zip(page, stamps, strict=True)
                if seen_until < ts < end_ms
            ),
            key=ts_of,
        )
        newest = max(stamps)
        if fresh:
            seen_until = ts_of(fresh[-1])
            yield fresh
        if newest < cursor:  # the venue ignored the cursor
            return
        cursor = max(cursor + step_ms, newest + step_ms)
    raise SourceError(
        f"paging did not reach the end after {max_pages} pages; the venue keeps "
        "answering the same range"
    )
