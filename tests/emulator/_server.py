"""A local HTTP + websocket server that plays exchange hosts for tests.

Every request arrives as ``/{original host}/{original path}`` (the layout
``rallylens.sources._ccxt.rewrite_urls`` produces), so one server on
127.0.0.1 plays Binance, Bybit, OKX, Deribit and the Binance bulk archive at
once. Venue modules register handlers per (host, path); tests inject faults
that hit the next matching requests.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import WSMsgType, web

__all__ = [
    "Emulator",
    "Fault",
    "FaultKind",
    "Handler",
    "Reply",
    "RequestLog",
    "WsHandler",
]

FaultKind = Literal[
    "429",  # rate limited, with Retry-After
    "418",  # IP banned (Binance), with Retry-After
    "451",  # geo-blocked
    "500",
    "502",
    "503",
    "slow",  # answer after `delay_s`
    "timeout",  # answer after `delay_s` (set it beyond the client's timeout)
    "truncated",  # the JSON body cut in half
    "invalid",  # a non-JSON body with status 200
    "overlap",  # handlers: start the page `rows` rows before the cursor
    "skip",  # handlers: drop the first `rows` rows of the page
    "disconnect",  # websocket handlers: close after `rows` messages
]


_HTTP_FAULTS = (
    "429",
    "418",
    "451",
    "500",
    "502",
    "503",
    "slow",
    "timeout",
    "truncated",
    "invalid",
    "overlap",
    "skip",
)
"""Fault kinds an HTTP request can take ("disconnect" is for websockets)."""


@dataclass
class Fault:
    """A fault for the next ``times`` requests whose URL matches ``match``.

    ``match`` is a regular expression searched in ``host/path?query``.
    """

    kind: FaultKind
    match: str = ""
    times: int = 1
    retry_after: float = 0.0
    delay_s: float = 0.0
    rows: int = 1

    def hits(self, url: str) -> bool:
        return self.times > 0 and re.search(self.match, url) is not None


@dataclass(frozen=True)
class RequestLog:
    """One request the emulator answered."""

    host: str
    path: str
    query: dict[str, str]
    status: int
    fault: str | None


@dataclass
class Reply:
    """A handler's answer: JSON-able ``body`` (or raw ``text``) and a status."""

    body: Any = None
    status: int = 200
    text: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[dict[str, str], str | None], Reply]
"""``handler(query, fault)`` where ``fault`` is "overlap"/"skip"/None."""
WsHandler = Callable[
    [web.WebSocketResponse, dict[str, str], "Emulator"], Awaitable[None]
]


class Emulator:
    """The server; use as a context manager (``with Emulator() as emu:``)."""

    def __init__(self) -> None:
        self._routes: dict[tuple[str, str], Handler] = {}
        self._ws_routes: dict[tuple[str, str], WsHandler] = {}
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self.log: list[RequestLog] = []
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()

    # --- registration -------------------------------------------------------
    def route(self, host: str, path: str, handler: Handler) -> None:
        """Answer ``GET http(s)://host/path`` with ``handler``."""
        self._routes[(host, path.rstrip("/"))] = handler

    def route_ws(self, host: str, path: str, handler: WsHandler) -> None:
        """Answer websocket connections to ``ws(s)://host/path`` with ``handler``."""
        self._ws_routes[(host, path.rstrip("/"))] = handler

    def inject(self, *faults: Fault) -> None:
        """Queue faults; each hits the next ``times`` matching requests."""
        with self._lock:
            self._faults.extend(faults)

    def take_fault(
        self, url: str, kinds: tuple[str, ...] | None = None
    ) -> Fault | None:
        """The first pending fault matching ``url`` (and ``kinds``), consumed once."""
        with self._lock:
            for fault in self._faults:
                if (kinds is None or fault.kind in kinds) and fault.hits(url):
                    fault.times -= 1
                    return fault
        return None

    def pending_faults(self) -> list[Fault]:
        """Faults not yet used up."""
        with self._lock:
            return [f for f in self._faults if f.times > 0]

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (pass as ``base_url`` to ``make_exchange``)."""
        return f"http://127.0.0.1:{self.port}"

    def requests_to(self, pattern: str) -> list[RequestLog]:
        """Logged requests whose ``host/path`` matches ``pattern``."""
        return [r for r in self.log if re.search(pattern, f"{r.host}{r.path}")]

    # --- serving --------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        host = request.match_info["host"]
        path = "/" + request.match_info["tail"].rstrip("/")
        query = dict(request.query)
        url = f"{host}{path}?{request.query_string}"
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._handle_ws(request, host, path, query)
        fault = self.take_fault(url, _HTTP_FAULTS)
        if fault is not None and fault.kind in ("slow", "timeout"):
            await asyncio.sleep(fault.delay_s)
        handler = self._routes.get((host, path))
        if handler is None:
            self._record(host, path, query, 404, None)
            return web.json_response({"error": f"no route {host}{path}"}, status=404)
        kind = fault.kind if fault is not None else None
        if kind in ("429", "418", "451", "500", "502", "503"):
            assert fault is not None
            headers = (
                {"Retry-After": f"{fault.retry_after:g}"}
                if kind in ("429", "418")
                else {}
            )
            self._record(host, path, query, int(kind), kind)
            # a CDN/gateway-style text body: venue JSON error codes would override
            # the HTTP status in ccxt's error mapping
            return web.Response(
                text=f"emulated HTTP {kind}",
                status=int(kind),
                headers=headers,
                content_type="text/plain",
            )
        reply = handler(query, kind if kind in ("overlap", "skip") else None)
        self._record(host, path, query, reply.status, kind)
        if reply.text is not None:
            return web.Response(
                text=reply.text,
                status=reply.status,
                headers=reply.headers,
                content_type="text/plain",
            )
        body = json.dumps(reply.body)
        if kind == "truncated":
            return web.Response(
                text=body[: len(body) // 2], status=200, content_type="application/json"
            )
        if kind == "invalid":
            return web.Response(
                text="<html><body>502 Bad Gateway</body></html>",
                status=200,
                content_type="text/html",
            )
        return web.Response(
            text=body,
            status=reply.status,
            headers=reply.headers,
            content_type="application/json",
        )

    async def _handle_ws(
        self, request: web.Request, host: str, path: str, query: dict[str, str]
    ) -> web.StreamResponse:
        handler = self._ws_routes.get((host, path))
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._record(host, path, query, 101, None)
        if handler is None:
            await ws.close(code=4404, message=b"no route")
            return ws
        await handler(ws, query, self)
        return ws

    def _record(
        self,
        host: str,
        path: str,
        query: dict[str, str],
        status: int,
        fault: str | None,
    ) -> None:
        with self._lock:
            self.log.append(RequestLog(host, path, query, status, fault))

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        app = web.Application()
        app.router.add_route("GET", "/{host}/{tail:.*}", self._handle)
        app.router.add_route("POST", "/{host}/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._runner = runner
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    def __enter__(self) -> Emulator:
        self._thread = threading.Thread(
            target=self._serve, name="emulator", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("emulator did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)


async def send_json(ws: web.WebSocketResponse, payload: Any) -> None:
    """Send one JSON text frame."""
    await ws.send_str(json.dumps(payload))


async def next_text(ws: web.WebSocketResponse, timeout: float = 5.0) -> str | None:
    """The next text frame from the client (None on close or timeout)."""
    try:
        msg = await asyncio.wait_for(ws.receive(), timeout)
    except TimeoutError:
        return None
    if msg.type == WSMsgType.TEXT:
        return str(msg.data)
    return None
