"""No request, however odd its parameters, gets a 500 from the dashboard."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROUTES = ("analyze", "rallies", "figures")
_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=24
)
_DATES = st.dates(min_value=date(2010, 1, 1), max_value=date(2030, 12, 31))
_AT = st.one_of(
    _TEXT,
    _DATES.map(str),
    _DATES.map(lambda d: f"{d}T{(d.day % 24):02d}:30:00Z"),
    st.sampled_from(["", " ", "2023-02-29", "2024-02-29", "9999-12-31", "0001-01-01"]),
)
_ASSET = st.one_of(st.sampled_from(["BTC", "eth", " btc ", "", "BTC,ETH"]), _TEXT)


def _assert_answer(response: Any) -> None:
    assert response.status_code < 500, response.text
    body = response.json()
    if response.status_code >= 400:
        assert set(body) >= {"error", "detail"}
        assert body["detail"]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(route=st.sampled_from(ROUTES), asset=_ASSET, at=st.one_of(st.none(), _AT))
def test_rally_routes_never_fail(
    client: TestClient, route: str, asset: str, at: str | None
) -> None:
    params = {"asset": asset} if at is None else {"asset": asset, "at": at}
    _assert_answer(client.get(f"/api/{route}", params=params))


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(assets=st.one_of(st.none(), _ASSET), since=st.one_of(st.none(), _AT))
def test_study_never_fails(
    client: TestClient, assets: str | None, since: str | None
) -> None:
    params = {
        k: v for k, v in {"assets": assets, "since": since}.items() if v is not None
    }
    _assert_answer(client.get("/api/study", params=params))


@pytest.mark.parametrize("route", ROUTES)
def test_every_day_of_the_range_answers(client: TestClient, route: str) -> None:
    """Each 25th day from before the data to after it: 200 or a clear 4xx."""
    first = date(2022, 12, 1)
    statuses = set()
    for k in range(0, 560, 35):
        day = first + timedelta(days=k)
        response = client.get(f"/api/{route}", params={"asset": "ETH", "at": str(day)})
        _assert_answer(response)
        statuses.add(response.status_code)
    assert statuses == {200, 422}


def test_repeated_and_odd_parameters(client: TestClient) -> None:
    odd = [
        "/api/analyze?asset=BTC&asset=ETH",
        "/api/analyze?asset=BTC&at=2023-06-01&at=2023-07-01",
        "/api/analyze?asset=%00",
        "/api/rallies?asset=BTC&at=%F0%9F%9A%80",
        "/api/study?assets=,,,",
        "/api/study?assets=BTC&since=",
        "/api/figures?asset=" + "B" * 5000,
    ]
    for url in odd:
        _assert_answer(client.get(url))
