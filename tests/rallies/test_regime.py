"""Regime labels: bear / neutral / bull from drawdown and the moving average."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from rallylens.exceptions import ConfigError
from rallylens.rallies import RegimeSpec, label_regimes
from tests.rallies.conftest import make_bars

SMALL = RegimeSpec(high_window_days=3, ma_days=3, slope_days=1, bear_drawdown=-0.2)


def test_small_windows_by_hand() -> None:
    closes = [10, 12, 11, 9, 8, 10, 11]
    out = label_regimes(make_bars(closes), SMALL)
    assert out.columns == ["asset", "ts", "drawdown", "ma", "ma_slope", "regime"]
    # high = close here; drawdown from the max of the last 3 highs
    expected_dd = [0, 0, 11 / 12 - 1, 9 / 12 - 1, 8 / 11 - 1, 0, 0]
    expected_ma = [None, None, 11, 32 / 3, 28 / 3, 9, 29 / 3]
    expected_slope = [
        None,
        None,
        None,
        (32 / 3) / 11 - 1,
        28 / 32 - 1,
        9 / (28 / 3) - 1,
    ]
    expected_slope.append((29 / 3) / 9 - 1)
    assert out["drawdown"].to_list() == pytest.approx(expected_dd)
    assert out["ma"].to_list() == [pytest.approx(v) if v else None for v in expected_ma]
    got_slope = out["ma_slope"].to_list()
    assert got_slope[:3] == [None, None, None]
    assert got_slope[3:] == pytest.approx(expected_slope[3:])
    # day 3: -25 % under 12, below a falling average -> bear; day 4 likewise;
    # day 5: 12 has left the 3-day window (dd 0), average still falling ->
    # neutral; day 6: above a rising average, at its high -> bull
    assert out["regime"].to_list() == [
        "neutral",
        "neutral",
        "neutral",
        "bear",
        "bear",
        "neutral",
        "bull",
    ]


def test_steady_rise_is_bull_once_the_average_and_its_slope_exist() -> None:
    closes = 100 * 1.002 ** np.arange(260)
    out = label_regimes(make_bars(list(closes)))
    # ma_200 exists from day 199, its 20-day slope from day 219; before that
    # only the drawdown test applies and the drawdown is 0 -> neutral
    regime = out["regime"].to_list()
    assert out["ma"].is_null().sum() == 199
    assert out["ma_slope"].is_null().sum() == 219
    assert regime[:219] == ["neutral"] * 219
    assert regime[219:] == ["bull"] * 41


def test_deep_decline_below_a_falling_average_is_bear() -> None:
    # 250 flat days then -1 % a day: the drawdown 0.99**k - 1 first reaches
    # -20 % at k = 23 (0.99**22 = 0.802, 0.99**23 = 0.794)
    closes = [100.0] * 250 + list(100 * 0.99 ** np.arange(1, 61))
    out = label_regimes(make_bars(closes))
    regime = out["regime"].to_list()
    assert regime[:250] == ["neutral"] * 250  # flat: close == ma, slope 0
    assert regime[250 : 249 + 23] == ["neutral"] * 22  # falling, not deep yet
    assert regime[249 + 23 :] == ["bear"] * (60 - 22)


def test_deep_drawdown_above_a_rising_average_is_neutral() -> None:
    # +1 % a day for 300 days, then a 25 % crash: the close (~1484) is still
    # far above the 200-day average (~850) and the average still rises
    closes = list(100 * 1.01 ** np.arange(300))
    closes.append(closes[-1] * 0.75)
    out = label_regimes(make_bars(closes)).row(300, named=True)
    assert out["drawdown"] == pytest.approx(-0.25)
    assert out["ma"] < closes[-1]
    assert out["ma_slope"] > 0
    assert out["regime"] == "neutral"


def test_deep_drawdown_above_a_falling_average_is_bear() -> None:
    # -0.5 % a day for 300 days then +80 %: above the average (the close
    # test fails) but the average still falls and the close is 60 % under
    # the year's high
    closes = list(100 * 0.995 ** np.arange(300))
    closes.append(closes[-1] * 1.8)
    out = label_regimes(make_bars(closes)).row(300, named=True)
    assert closes[-1] > out["ma"]
    assert out["ma_slope"] < 0
    assert out["drawdown"] == pytest.approx(closes[-1] / 100 - 1)
    assert out["regime"] == "bear"


def test_before_ma_days_only_the_drawdown_test_applies() -> None:
    # 150 days: no 200-day average. A 10 % rise is never bull; a 25 % fall
    # from the high is bear; a 15 % fall is neutral.
    rise = label_regimes(make_bars(list(np.linspace(100, 110, 150))))
    assert set(rise["regime"]) == {"neutral"}
    fall = label_regimes(make_bars([100.0] * 100 + [85.0] * 25 + [75.0] * 25))
    assert fall["regime"].to_list() == ["neutral"] * 125 + ["bear"] * 25


def test_drawdown_is_measured_from_the_highs_not_the_closes() -> None:
    # a wick to 130 on day 2; the close never moves
    bars = make_bars([100.0] * 6, high=[100, 100, 130, 100, 100, 100])
    out = label_regimes(bars)
    assert out["drawdown"].to_list() == pytest.approx(
        [0, 0, 100 / 130 - 1] + [100 / 130 - 1] * 3
    )
    assert out["regime"].to_list() == ["neutral"] * 2 + ["bear"] * 4


def test_old_highs_leave_the_trailing_window() -> None:
    spec = RegimeSpec(high_window_days=5)
    out = label_regimes(make_bars([100.0, 70, 70, 70, 70, 70, 70]), spec)
    # the 100 close is in the 5-day window up to day 4, gone on day 5
    assert out["regime"].to_list() == ["neutral"] + ["bear"] * 4 + ["neutral"] * 2


def test_assets_are_labelled_separately() -> None:
    btc = make_bars([100.0, 70, 70])
    eth = make_bars([10.0, 9, 9.5], asset="ETH")
    both = label_regimes(pl.concat([btc, eth]), SMALL)
    # ETH's highs are 10 at most: no drawdown from BTC's 100
    assert both["regime"].to_list() == ["neutral", "bear", "bear"] + ["neutral"] * 3
    assert both.equals(
        pl.concat([label_regimes(btc, SMALL), label_regimes(eth, SMALL)])
    )


def test_empty_frame() -> None:
    out = label_regimes(make_bars([]))
    assert out.is_empty()
    assert out.columns == ["asset", "ts", "drawdown", "ma", "ma_slope", "regime"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"high_window_days": 0},
        {"ma_days": 0},
        {"slope_days": -1},
        {"bear_drawdown": 0.0},
        {"bear_drawdown": -1.0},
        {"bear_drawdown": 0.2},
    ],
)
def test_regime_spec_rejects_bad_values(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        RegimeSpec(**kwargs)  # type: ignore[arg-type]
