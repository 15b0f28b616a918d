"""Each figure on hand-built frames: traces, shapes, notes and the empty panel."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import polars as pl
import pytest

from rallylens.reports.figures import (
    funding_figure,
    liquidations_figure,
    open_interest_figure,
    price_figure,
    spot_perp_figure,
    volatility_figure,
)
from rallylens.reports.figures.flows import cumulative_cvd
from rallylens.reports.figures.funding import funding_band
from rallylens.reports.figures.leverage import SHORT_COVERING, oi_changes
from rallylens.reports.figures.volatility import realized_vol
from rallylens.reports.theme import COLORS
from rallylens.schemas import (
    CLOSE,
    DVOL,
    FUNDING_APR,
    LIQ_LONG_USD,
    LIQ_SHORT_USD,
    LOG_RETURN,
    OI_BASE_EST,
    OPT_ATM_IV,
    OPT_RR25,
    PERP_DELTA_USD,
    SPOT_DELTA_USD,
    SPOT_SHARE,
    TS,
    TS_DTYPE,
)
from tests.reports.conftest import (
    AS_OF,
    HIGH_DAY,
    LOW_DAY,
    N_DAYS,
    annotation_texts,
    assert_degraded,
    day,
    make_daily,
    trace_names,
)


def _rects(fig: go.Figure) -> list[Any]:
    return [s for s in fig.layout.shapes if s.type == "rect"]


def _assert_shaded(fig: go.Figure) -> None:
    fills = {s.fillcolor for s in _rects(fig)}
    assert {COLORS["decline"], COLORS["rally"]} <= fills


# --- price ---------------------------------------------------------------------------
def test_price_figure_draws_candles_levels_and_profile(
    daily: pl.DataFrame, rally: dict[str, Any], levels: dict[str, float | None]
) -> None:
    levels["resistance_above"] = 90.0
    fig = price_figure(daily, rally, levels, as_of=AS_OF, start=day(30), asset="BTC")
    kinds = [t.type for t in fig.data]
    assert kinds[0] == "candlestick"
    assert fig.data[0].x[0] == day(30)  # rows before start feed the levels only
    names = trace_names(fig)
    assert any(n.startswith("VWAP from the decline's high") for n in names)
    assert any(n.startswith("VWAP from the rally's low") for n in names)
    assert "resistance above 90" in names
    assert "support turned resistance" in names
    assert any(n.startswith("invalidation") for n in names)
    fib = next(t for t in fig.data if t.name.startswith("Fibonacci"))
    fib_prices = {round(y, 4) for y in fib.y if y is not None}
    low, high = rally["low_price"], rally["decline_high"]
    assert fib_prices == {
        round(low + f * (high - low), 4) for f in (0.382, 0.5, 0.618, 0.786)
    }
    profiles = [t for t in fig.data if t.type == "bar"]
    assert {t.name for t in profiles} == {
        "decline volume by price",
        "rally volume by price",
    }
    assert all(t.orientation == "h" and t.xaxis == "x2" for t in profiles)
    _assert_shaded(fig)
    assert {"prior decline", "rally", "38.2%", "78.6%"} <= set(annotation_texts(fig))
    assert list(fig.layout.xaxis.range) == [day(30), AS_OF]


def test_price_vwap_ends_at_the_anatomy_value(
    daily: pl.DataFrame, rally: dict[str, Any], levels: dict[str, float | None]
) -> None:
    fig = price_figure(daily, rally, levels, as_of=AS_OF)
    curve = next(
        t for t in fig.data if (t.name or "").startswith("VWAP from the rally")
    )
    window = daily.filter(pl.col(TS) >= day(LOW_DAY))
    typical = (window["high"] + window["low"] + window[CLOSE]) / 3
    assert curve.y[-1] == pytest.approx(float(typical.mean()))


@pytest.mark.parametrize(
    "frame",
    [make_daily(0), make_daily(5, **{CLOSE: [None] * 5})],
    ids=["empty", "all-null"],
)
def test_price_figure_without_prices_says_so(
    frame: pl.DataFrame, rally: dict[str, Any], levels: dict[str, float | None]
) -> None:
    assert_degraded(
        price_figure(frame, rally, levels, as_of=AS_OF), "no price data for this period"
    )


# --- open interest -------------------------------------------------------------------
def test_oi_changes_flags_short_covering() -> None:
    daily = make_daily(
        4,
        **{CLOSE: [10.0, 11.0, 10.5, 12.0], OI_BASE_EST: [100.0, 90.0, 95.0, None]},
    )
    table = oi_changes(daily)
    assert table[SHORT_COVERING].to_list() == [None, True, False, None]
    assert table["oi_change"].to_list()[1] == pytest.approx(-0.1)


def test_open_interest_figure_highlights_short_covering(rally: dict[str, Any]) -> None:
    oi = [1000.0 - (i % 3) * 10 for i in range(N_DAYS)]
    daily = make_daily(**{OI_BASE_EST: oi})
    fig = open_interest_figure(daily, rally, as_of=AS_OF, asset="BTC")
    line, covering, other = fig.data
    assert line.name == "open interest (BTC)"
    expected = oi_changes(daily).filter(pl.col(SHORT_COVERING))[TS].to_list()
    assert covering.name.startswith("short covering")
    assert list(covering.x) == expected and len(expected) > 0
    assert covering.marker.color == COLORS["short_covering"]
    assert other.marker.color == COLORS["other_bars"]
    _assert_shaded(fig)


def test_open_interest_figure_notes_where_oi_stops(rally: dict[str, Any]) -> None:
    oi = [1000.0] * 100 + [None] * (N_DAYS - 100)
    fig = open_interest_figure(make_daily(**{OI_BASE_EST: oi}), rally, as_of=AS_OF)
    assert f"OI data ends {day(99):%Y-%m-%d}" in annotation_texts(fig)


def test_open_interest_figure_without_oi_says_so(
    daily: pl.DataFrame, rally: dict[str, Any]
) -> None:
    assert_degraded(
        open_interest_figure(daily, rally, as_of=AS_OF), "no OI data for this period"
    )


# --- funding -------------------------------------------------------------------------
def test_funding_band_excludes_the_day_itself() -> None:
    apr = [0.1] * 40 + [1.0]
    band = funding_band(make_daily(41, **{FUNDING_APR: apr}), window_days=30)
    last = band.row(40, named=True)
    assert last["band_mean"] == pytest.approx(0.1)
    assert last["band_hi"] == pytest.approx(0.1)  # the spike is outside its band
    assert band["band_mean"][:20].null_count() == 20  # needs 20 known days


def test_funding_figure_draws_apr_and_band(rally: dict[str, Any]) -> None:
    apr = [0.05 + 0.01 * ((i * 7) % 5) for i in range(N_DAYS)]
    fig = funding_figure(
        make_daily(**{FUNDING_APR: apr}), rally, as_of=AS_OF, start=day(50)
    )
    names = trace_names(fig)
    assert "funding APR" in names and "trailing 90-day mean ± 2 sd" in names
    apr_trace = fig.data[names.index("funding APR")]
    assert apr_trace.x[0] == day(50)
    assert apr_trace.y[0] == pytest.approx(apr[50] * 100)  # in percent
    band = fig.data[names.index("trailing 90-day mean ± 2 sd")]
    assert band.fill == "tonexty"


def test_funding_figure_without_funding_says_so(
    daily: pl.DataFrame, rally: dict[str, Any]
) -> None:
    assert_degraded(
        funding_figure(daily, rally, as_of=AS_OF), "no funding data for this period"
    )


# --- liquidations --------------------------------------------------------------------
def test_liquidations_are_opposite_bars(rally: dict[str, Any]) -> None:
    daily = make_daily(**{LIQ_LONG_USD: [2e6] * N_DAYS, LIQ_SHORT_USD: [1e6] * N_DAYS})
    fig = liquidations_figure(daily, rally, as_of=AS_OF)
    shorts, longs = fig.data
    assert shorts.name == "shorts liquidated" and set(shorts.y) == {1e6}
    assert longs.name.startswith("longs liquidated") and set(longs.y) == {-2e6}
    assert fig.layout.barmode == "relative"
    _assert_shaded(fig)


def test_liquidations_without_data_say_so(
    daily: pl.DataFrame, rally: dict[str, Any]
) -> None:
    assert_degraded(
        liquidations_figure(daily, rally, as_of=AS_OF),
        "no liquidation data for this period",
    )


# --- spot vs perp --------------------------------------------------------------------
def test_cumulative_cvd_known_answer() -> None:
    daily = make_daily(
        4,
        **{SPOT_DELTA_USD: [1.0, None, 2.0, -4.0], PERP_DELTA_USD: [None] * 4},
    )
    cvd = cumulative_cvd(daily)
    assert cvd[SPOT_DELTA_USD].to_list() == [1.0, None, 3.0, -1.0]
    assert cvd[PERP_DELTA_USD].null_count() == 4


def test_spot_perp_figure_has_share_and_both_cvds(rally: dict[str, Any]) -> None:
    daily = make_daily(
        **{
            SPOT_SHARE: [0.2] * N_DAYS,
            SPOT_DELTA_USD: [1e6] * N_DAYS,
            PERP_DELTA_USD: [-1e6] * N_DAYS,
        }
    )
    fig = spot_perp_figure(daily, rally, as_of=AS_OF)
    assert trace_names(fig) == ["spot share of volume", "spot CVD", "perp CVD"]
    assert fig.data[0].y[0] == pytest.approx(20.0)
    assert fig.data[2].y[-1] == pytest.approx(-1e6 * N_DAYS)
    assert fig.data[1].yaxis == "y2"


def test_spot_perp_figure_keeps_the_part_with_data(rally: dict[str, Any]) -> None:
    daily = make_daily(**{SPOT_SHARE: [0.2] * N_DAYS})
    fig = spot_perp_figure(daily, rally, as_of=AS_OF)
    assert trace_names(fig) == ["spot share of volume"]
    assert "no taker buy/sell data for this period" in annotation_texts(fig)
    assert fig.layout.xaxis.type == "date"
    assert list(fig.layout.xaxis.range) == [day(0), AS_OF]


def test_spot_perp_figure_without_data_says_so(
    daily: pl.DataFrame, rally: dict[str, Any]
) -> None:
    assert_degraded(
        spot_perp_figure(daily, rally, as_of=AS_OF),
        "no spot/perp volume data for this period",
    )


# --- volatility ----------------------------------------------------------------------
def test_realized_vol_of_constant_returns_is_zero() -> None:
    daily = make_daily(20, **{LOG_RETURN: [0.01] * 20})
    rv = realized_vol(daily, window_days=5)
    assert rv["realized_vol"][:4].null_count() == 4
    assert rv["realized_vol"][4:].to_list() == pytest.approx([0.0] * 16)


def _snapshots(*rows: tuple[Any, float, float]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={TS: TS_DTYPE, OPT_ATM_IV: pl.Float64, OPT_RR25: pl.Float64},
        orient="row",
    )


def test_volatility_figure_draws_dvol_iv_and_skew(rally: dict[str, Any]) -> None:
    returns = [0.01 * (-1) ** i for i in range(N_DAYS)]
    daily = make_daily(**{DVOL: [0.5] * N_DAYS, LOG_RETURN: returns})
    snaps = _snapshots(
        (day(100), 0.55, -0.02), (day(150), 0.45, 0.03), (day(10), 0.9, 0.0)
    )
    fig = volatility_figure(daily, snaps, rally, as_of=AS_OF, start=day(60))
    names = trace_names(fig)
    assert names[:3] == ["DVOL", "30-day ATM IV (chain snapshots)", "realised vol 14d"]
    iv = fig.data[1]
    assert list(iv.x) == [day(100), day(150)]  # the snapshot before start is left out
    assert list(iv.y) == pytest.approx([55.0, 45.0])
    skew = fig.data[3]
    assert skew.yaxis == "y2" and list(skew.y) == pytest.approx([-2.0, 3.0])


def test_volatility_figure_falls_back_to_realised_vol(rally: dict[str, Any]) -> None:
    returns = [0.01 * (-1) ** i for i in range(N_DAYS)]
    fig = volatility_figure(
        make_daily(**{LOG_RETURN: returns}), None, rally, as_of=AS_OF
    )
    assert trace_names(fig) == ["realised vol 14d"]
    assert any("realised vol only" in t for t in annotation_texts(fig))


def test_volatility_figure_without_data_says_so(rally: dict[str, Any]) -> None:
    empty = make_daily(5, **{CLOSE: [None] * 5})
    assert_degraded(
        volatility_figure(empty, None, rally, as_of=AS_OF),
        "no volatility data for this period",
    )


def test_time_series_figures_shade_the_decline_before_the_rally(
    rally: dict[str, Any],
) -> None:
    daily = make_daily(**{FUNDING_APR: [0.1] * N_DAYS})
    rects = _rects(funding_figure(daily, rally, as_of=AS_OF))
    decline = next(r for r in rects if r.fillcolor == COLORS["decline"])
    rallying = next(r for r in rects if r.fillcolor == COLORS["rally"])
    assert (decline.x0, decline.x1) == (day(HIGH_DAY), day(LOW_DAY))
    assert (rallying.x0, rallying.x1) == (day(LOW_DAY), AS_OF)
