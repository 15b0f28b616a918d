"""The dashboard in a real browser: Debian's Chromium driven by Playwright.

A uvicorn server on 127.0.0.1 (free port, a thread of this process) serves the
dashboard over a generated store; headless Chromium with closed-network flags
loads the page, picks an asset, moves the date, clicks a rally and checks that
the verdict card and every figure (plotly's SVG) are drawn and that nothing
was fetched from another host. Screenshots go to ``$RALLYLENS_TEST_ARTIFACTS``
(default ``tests/web/artifacts/``, ignored by git).

Chromium must be at ``/usr/bin/chromium`` (``apt-get install chromium``;
``.ci/run`` installs it); set ``RALLYLENS_SKIP_BROWSER=1`` to skip these tests
on a machine without it.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from rallylens._typing import RallyKind
from rallylens.reports import FIGURE_KEYS

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 30_000
ARTIFACTS = Path(
    os.environ.get("RALLYLENS_TEST_ARTIFACTS", Path(__file__).parent / "artifacts")
)
KINDS = {k.value for k in RallyKind}


@pytest.fixture(scope="module")
def server_url(synthetic_store: Path) -> Iterator[str]:
    """The dashboard served by uvicorn on 127.0.0.1 at a free port."""
    import uvicorn

    from rallylens.web import create_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(synthetic_store),
        log_level="warning",
        lifespan="off",
        ws="none",
        http="h11",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the dashboard server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium (Playwright cannot download its own here)."""
    if not CHROMIUM.exists():
        if os.environ.get("RALLYLENS_SKIP_BROWSER"):
            pytest.skip("no /usr/bin/chromium and RALLYLENS_SKIP_BROWSER is set")
        pytest.fail(
            "browser tests need Debian's Chromium at /usr/bin/chromium "
            "('apt-get install chromium'); set RALLYLENS_SKIP_BROWSER=1 to skip"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=FLAGS
        )
        yield chromium
        chromium.close()


@dataclass
class Session:
    """A page plus what it logged and fetched."""

    page: Any
    base: str
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 10_000
        return path

    def wait_ready(self) -> None:
        self.page.wait_for_function(
            "() => document.body.dataset.state === 'ready'", timeout=TIMEOUT_MS
        )

    def wait_as_of(self, day: str) -> None:
        """Until the card, the table and the figures show the close of ``day``."""
        as_of = f"{date.fromisoformat(day) + timedelta(days=1)}T00:00:00"
        script = (
            "(a) => ['verdict-card', 'rallies-table', 'figures'].every("
            "id => (document.getElementById(id).dataset.asOf || '').startsWith(a))"
        )
        self.page.wait_for_function(script, arg=as_of, timeout=TIMEOUT_MS)
        self.wait_ready()


@pytest.fixture
def session(browser: Any, server_url: str) -> Iterator[Session]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    out = Session(page, server_url)
    page.on("pageerror", lambda exc: out.errors.append(f"page error: {exc}"))
    page.on(
        "console",
        lambda msg: out.errors.append(msg.text) if msg.type == "error" else None,
    )
    page.on("request", lambda request: out.requests.append(request.url))
    yield out
    context.close()


def assert_rendered(s: Session) -> None:
    """The verdict card is filled and every figure has plotly's SVG."""
    card = s.page.locator("#verdict-card")
    assert card.get_attribute("data-verdict") in KINDS
    text = card.inner_text()
    assert "as of" in text and "why" in text and "levels to watch" in text
    for key in FIGURE_KEYS:
        svg = s.page.locator(f'.figure[data-name="{key}"].js-plotly-plot .main-svg')
        assert svg.count() >= 1, f"figure {key} was not drawn"
    assert s.page.locator("#rallies-table tbody tr").count() > 0
    assert s.page.locator("#error").is_hidden()


def assert_clean(s: Session) -> None:
    assert not s.errors, s.errors
    outside = [u for u in s.requests if not u.startswith(s.base)]
    assert not outside, outside


def test_page_loads_the_latest_rally(session: Session, client: TestClient) -> None:
    session.page.goto(session.base + "/")
    latest = client.get("/api/analyze", params={"asset": "BTC"}).json()
    session.wait_as_of(str(date.fromisoformat(latest["as_of"][:10]) - timedelta(1)))
    assert_rendered(session)
    card = session.page.locator("#verdict-card")
    assert card.get_attribute("data-asset") == "BTC"
    assert card.get_attribute("data-verdict") == latest["verdict"]
    assert latest["headline"] in card.inner_text()
    rallies = client.get("/api/rallies", params={"asset": "BTC"}).json()["rallies"]
    assert session.page.locator("#rallies-table tbody tr").count() == len(rallies)
    assert session.page.locator("#rallies-table tbody tr.current").count() == 1
    session.page.wait_for_function(
        "() => document.getElementById('study-body').dataset.ready === '1'"
    )
    assert session.page.locator("#study-table tbody tr").count() > 0
    session.shot("01-latest-btc")
    assert_clean(session)


def test_choose_an_asset_and_move_the_date(
    session: Session, client: TestClient
) -> None:
    page = session.page
    page.goto(session.base + "/")
    session.wait_ready()
    page.select_option("#asset", "ETH")
    eth = client.get("/api/assets").json()["assets"][1]
    assert eth["asset"] == "ETH"
    session.wait_as_of(eth["range"]["last_date"])
    assert page.locator("#verdict-card").get_attribute("data-asset") == "ETH"

    day = str(date.fromisoformat(eth["range"]["first_date"]) + timedelta(days=300))
    page.fill("#as-of-date", day)
    page.dispatch_event("#as-of-date", "change")
    session.wait_as_of(day)
    assert_rendered(session)
    expected = client.get("/api/analyze", params={"asset": "ETH", "at": day}).json()
    card = page.locator("#verdict-card")
    assert card.get_attribute("data-verdict") == expected["verdict"]
    assert expected["headline"] in card.inner_text()
    session.shot("02-eth-date-box")

    page.locator("#as-of-slider").fill("400")
    slid = str(date.fromisoformat(eth["range"]["first_date"]) + timedelta(days=400))
    assert page.input_value("#as-of-date") == slid
    session.wait_as_of(slid)
    assert_rendered(session)
    assert f"at={slid}" in page.url and "asset=ETH" in page.url
    session.shot("03-eth-slider")
    assert_clean(session)


def test_a_rally_row_opens_that_rally(session: Session) -> None:
    page = session.page
    page.goto(session.base + "/")
    session.wait_ready()
    row = page.locator("#rallies-table tbody tr").nth(2)
    peak = row.get_attribute("data-peak")
    rally_id = row.get_attribute("data-rally-id")
    assert peak
    row.click()
    session.wait_as_of(peak)
    assert page.input_value("#as-of-date") == peak
    current = page.locator("#rallies-table tbody tr.current")
    assert current.get_attribute("data-rally-id") == rally_id
    assert_rendered(session)
    session.shot("04-rally-row")
    assert_clean(session)


def test_an_unanswerable_date_shows_the_reason(session: Session) -> None:
    page = session.page
    page.goto(session.base + "/#asset=BTC&at=2023-01-03")
    page.wait_for_selector("#error:not([hidden])")
    session.wait_ready()
    message = page.locator("#error").inner_text()
    assert "no rally" in message
    assert "500" not in message
    session.shot("05-no-rally-yet")
    outside = [u for u in session.requests if not u.startswith(session.base)]
    assert not outside
