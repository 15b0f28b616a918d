"""The dashboard's JSON API on a generated store: every route, 2xx and 4xx."""

from __future__ import annotations

import json
import types
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

import rallylens.web as web
from rallylens._typing import RallyKind
from rallylens.cli import cli
from rallylens.datasets import build_synthetic_store
from rallylens.rallies import GROUPS
from rallylens.reports import FIGURE_KEYS
from rallylens.schemas import RALLIES
from rallylens.web._models import RallyOut
from tests.web.conftest import make_client

KINDS = {k.value for k in RallyKind}
ROUTES = ("analyze", "rallies", "figures")


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def rounded(value: Any) -> Any:
    """Floats to 9 significant digits, at any depth (for comparing results)."""
    if isinstance(value, float):
        return float(f"{value:.9g}")
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return value


def ok(client: TestClient, url: str, **params: Any) -> Any:
    response = client.get(url, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def error(client: TestClient, url: str, status: int, **params: Any) -> Any:
    response = client.get(url, params=params)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] and body["detail"]
    return body


@pytest.fixture(scope="module")
def btc_range(client: TestClient) -> dict[str, str]:
    assets = ok(client, "/api/assets")["assets"]
    return next(a["range"] for a in assets if a["asset"] == "BTC")


def day_in(btc_range: dict[str, str], offset: int) -> str:
    return str(date.fromisoformat(btc_range["first_date"]) + timedelta(days=offset))


def test_public_names() -> None:
    public = {
        name
        for name, value in vars(web).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert set(web.__all__) == public


def test_rally_model_lists_the_rallies_schema() -> None:
    assert list(RallyOut.model_fields) == list(RALLIES.columns)


# --- 2xx ------------------------------------------------------------------------
def test_assets(client: TestClient, synthetic_store: Path) -> None:
    body = ok(client, "/api/assets")
    assert body["store"] == str(synthetic_store)
    assert [a["asset"] for a in body["assets"]] == ["BTC", "ETH"]
    for asset in body["assets"]:
        assert asset["timeframe"] == "1d"
        assert asset["bars"] == 500
        first, last = when(asset["range"]["first"]), when(asset["range"]["last"])
        assert last - first == timedelta(days=499)
        assert asset["range"]["first_date"] == "2023-01-01"
        assert "etf" in asset["missing"]


def test_analyze_latest(client: TestClient, btc_range: dict[str, str]) -> None:
    body = ok(client, "/api/analyze", asset="btc")
    assert body["asset"] == "BTC"
    assert body["as_of"] == btc_range["last"].replace("+00:00", "Z")
    assert body["verdict"] in KINDS
    assert body["headline"]
    assert set(body["anatomy"]) == set(GROUPS)
    assert set(body["rally"]) == set(RALLIES.columns)
    assert body["units"]["gain"]
    assert body["range"] == btc_range


def test_analyze_at_a_bare_date_is_after_that_close(
    client: TestClient, btc_range: dict[str, str]
) -> None:
    at = day_in(btc_range, 300)
    body = ok(client, "/api/analyze", asset="BTC", at=at)
    expected = datetime.combine(date.fromisoformat(at), datetime.min.time(), UTC)
    assert when(body["as_of"]) == expected + timedelta(days=1)
    assert when(body["rally"]["low_ts"]) < when(body["as_of"])
    timed = ok(client, "/api/analyze", asset="BTC", at=f"{at}T12:00:00Z")
    assert when(timed["as_of"]) == expected


@pytest.mark.parametrize("offset", [150, 300, 420])
def test_analyze_answers_what_the_cli_answers(
    client: TestClient,
    synthetic_store: Path,
    btc_range: dict[str, str],
    offset: int,
) -> None:
    at = day_in(btc_range, offset)
    web_view = ok(client, "/api/analyze", asset="BTC", at=at)
    result = CliRunner().invoke(
        cli, ["--store", str(synthetic_store), "analyze", "BTC", "--at", at, "--json"]
    )
    assert result.exit_code == 0, result.output
    cli_view = json.loads(result.output)
    for key in ("verdict", "confidence", "headline", "scores", "levels", "anatomy"):
        assert rounded(web_view[key]) == rounded(cli_view[key]), key
    assert when(web_view["as_of"]) == when(cli_view["as_of"])
    # P(fail): the CLI runs the study as of the date, the dashboard once over
    # the whole history; the model trains on the same settled outcomes
    web_fail, cli_fail = web_view["failure"], cli_view["failure"]
    assert (web_fail is None) == (cli_fail is None)
    if cli_fail is not None:
        for key in ("p_fail", "n_train", "horizon_days"):
            assert rounded(web_fail[key]) == rounded(cli_fail[key]), key
        web_near = [(a["low_ts"][:10], a["asset"]) for a in web_fail["analogues"]]
        cli_near = [(a["low_ts"][:10], a["asset"]) for a in cli_fail["analogues"]]
        assert web_near == cli_near


def test_rallies_known_at_the_date(
    client: TestClient, btc_range: dict[str, str]
) -> None:
    at = day_in(btc_range, 300)
    body = ok(client, "/api/rallies", asset="BTC", at=at)
    rows = body["rallies"]
    assert rows
    as_of = when(body["as_of"])
    lows = [when(r["low_ts"]) for r in rows]
    assert lows == sorted(lows)
    assert all(low < as_of for low in lows)
    assert all(r["verdict"] in KINDS for r in rows)
    assert all(when(r["judged_at"]) <= as_of for r in rows)
    later = ok(client, "/api/rallies", asset="BTC")["rallies"]
    assert len(later) >= len(rows)


def test_figures_in_report_order(client: TestClient, btc_range: dict[str, str]) -> None:
    at = day_in(btc_range, 480)
    body = ok(client, "/api/figures", asset="BTC", at=at)
    assert [f["name"] for f in body["figures"]] == list(FIGURE_KEYS)
    for figure in body["figures"]:
        assert "layout" in figure["figure"]
        assert isinstance(figure["figure"].get("data", []), list)
    names = {f["name"]: f["figure"] for f in body["figures"]}
    assert names["price"]["data"], "the price figure draws the bars"
    assert names["gamma"]["data"], "a chain snapshot lies within the last 45 days"
    analysis = ok(client, "/api/analyze", asset="BTC", at=at)
    assert body["as_of"] == analysis["as_of"].replace("Z", "+00:00")


def test_study(client: TestClient) -> None:
    body = ok(client, "/api/study")
    assert body["assets"] == ["BTC", "ETH"]
    assert body["events"] > 0
    assert {h["by"] for h in body["hit_rates"]} >= {"all"}
    assert body["coverage"]
    one = ok(client, "/api/study", assets="eth", since="2023-06-01")
    assert one["assets"] == ["ETH"]
    assert when(one["since"]) == datetime(2023, 6, 1, tzinfo=UTC)
    assert one["events"] < body["events"]


def test_page_and_local_plotly(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    html = page.text
    for marker in ('id="verdict-card"', 'id="asset"', 'id="as-of-date"'):
        assert marker in html
    assert 'id="as-of-slider"' in html and 'id="rallies-table"' in html
    assert "http" not in html.replace("http-equiv", ""), "no external URL"
    script = client.get("/vendor/plotly.min.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert b"plotly.js" in script.content[:200]
    assert client.get("/static/dashboard.js").status_code == 200
    assert client.get("/static/dashboard.css").status_code == 200


def test_openapi_documents_models_and_errors(client: TestClient) -> None:
    schema = ok(client, "/openapi.json")
    for route in ("/api/assets", "/api/analyze", "/api/rallies", "/api/figures"):
        ok_ref = schema["paths"][route]["get"]["responses"]["200"]
        assert "$ref" in json.dumps(ok_ref), route
    analyze = schema["paths"]["/api/analyze"]["get"]["responses"]
    assert "ErrorOut" in json.dumps(analyze["404"])
    assert "ErrorOut" in json.dumps(analyze["422"])
    study = schema["paths"]["/api/study"]["get"]["responses"]
    assert {"200", "404", "409", "422", "503"} <= set(study)
    assert "AnalysisOut" in schema["components"]["schemas"]


# --- 4xx ------------------------------------------------------------------------
@pytest.mark.parametrize("route", ROUTES)
def test_unknown_asset_is_404_with_the_assets(client: TestClient, route: str) -> None:
    body = error(client, f"/api/{route}", 404, asset="DOGE")
    assert "DOGE" in body["detail"]
    assert body["assets"] == ["BTC", "ETH"]


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(
    "at", ["2024-13-01", "yesterday", "2024-02-30", "10/08/2022", "2024-01-01T25:00"]
)
def test_malformed_date_is_422_naming_value_and_format(
    client: TestClient, route: str, at: str
) -> None:
    body = error(client, f"/api/{route}", 422, asset="BTC", at=at)
    assert repr(at) in body["detail"]
    assert "YYYY-MM-DD" in body["detail"]


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("at", ["2019-05-01", "2030-01-01", "2022-12-30"])
def test_date_outside_the_data_is_422_naming_the_range(
    client: TestClient, route: str, at: str, btc_range: dict[str, str]
) -> None:
    body = error(client, f"/api/{route}", 422, asset="BTC", at=at)
    assert body["error"] == "OutOfRangeError"
    assert btc_range["first_date"] in body["detail"]
    assert btc_range["last_date"] in body["detail"]
    assert body["range"] == btc_range


@pytest.mark.parametrize(
    "at", ["9999-12-31", "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"]
)
def test_dates_at_the_ends_of_the_calendar_are_422(client: TestClient, at: str) -> None:
    for route in ROUTES:
        body = error(client, f"/api/{route}", 422, asset="BTC", at=at)
        assert repr(at) in body["detail"]


def test_last_day_is_inside_and_the_next_is_outside(
    client: TestClient, btc_range: dict[str, str]
) -> None:
    last = date.fromisoformat(btc_range["last_date"])
    ok(client, "/api/analyze", asset="BTC", at=str(last))
    error(client, "/api/analyze", 422, asset="BTC", at=str(last + timedelta(days=1)))


@pytest.mark.parametrize("route", ["analyze", "figures"])
def test_too_early_for_a_rally_is_422_with_the_reason(
    client: TestClient, route: str, btc_range: dict[str, str]
) -> None:
    body = error(client, f"/api/{route}", 422, asset="BTC", at=day_in(btc_range, 2))
    assert body["error"] == "InsufficientDataError"
    assert "rally" in body["detail"]
    table = ok(client, "/api/rallies", asset="BTC", at=day_in(btc_range, 2))
    assert table["rallies"] == []


@pytest.mark.parametrize("route", ROUTES)
def test_missing_asset_is_422(client: TestClient, route: str) -> None:
    body = error(client, f"/api/{route}", 422)
    assert "asset" in body["detail"]


def test_study_errors(client: TestClient) -> None:
    assert error(client, "/api/study", 404, assets="BTC,XRP")["assets"] == [
        "BTC",
        "ETH",
    ]
    body = error(client, "/api/study", 422, since="June 2023")
    assert "'June 2023'" in body["detail"]


def test_study_not_computable_is_409(client: TestClient) -> None:
    body = error(client, "/api/study", 409, since="2024-05-01")
    assert body["error"] == "StudyUnavailableError"
    assert "cannot be computed" in body["detail"]


def test_unknown_route_is_404(client: TestClient) -> None:
    assert client.get("/api/nothing").status_code == 404
    assert client.get("/docs").status_code == 404, "Swagger UI would use a CDN"


# --- the store ------------------------------------------------------------------
def test_store_is_never_written(tmp_path: Path) -> None:
    path = build_synthetic_store(tmp_path / "s.duckdb", assets=["ETH"], days=200)
    before = path.stat().st_mtime_ns
    client = make_client(path)
    ok(client, "/api/analyze", asset="ETH")
    ok(client, "/api/rallies", asset="ETH", at="2023-05-01")
    assert path.stat().st_mtime_ns == before
    assert not path.with_name(path.name + ".wal").exists()


def test_a_changed_store_is_reloaded(tmp_path: Path) -> None:
    path = build_synthetic_store(
        tmp_path / "s.duckdb", assets=["BTC"], days=120, options_days=0
    )
    client = make_client(path)
    assert [a["asset"] for a in ok(client, "/api/assets")["assets"]] == ["BTC"]
    error(client, "/api/analyze", 404, asset="ETH")
    build_synthetic_store(path, assets=["ETH"], days=150, options_days=0)
    assets = ok(client, "/api/assets")["assets"]
    assert [a["asset"] for a in assets] == ["BTC", "ETH"]
    assert ok(client, "/api/analyze", asset="ETH")["asset"] == "ETH"


def test_missing_store_is_a_clear_error(tmp_path: Path) -> None:
    from rallylens.exceptions import StoreError
    from rallylens.web import create_app

    with pytest.raises(StoreError, match="no store"):
        create_app(tmp_path / "nothing.duckdb")
