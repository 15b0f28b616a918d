"""Rally detection: zigzag on daily closes with a volatility-scaled threshold."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import polars as pl
import pytest

from rallylens.exceptions import ConfigError
from rallylens.features import prepare_bars
from rallylens.rallies import DetectSpec, detect_rallies, find_rallies, move_thresholds
from rallylens.schemas import PANEL, RALLIES
from tests.rallies.conftest import DAY, T0, make_bars

# min_move == max_move pins the threshold at 10 % on every day
FIXED = DetectSpec(min_move=0.10, max_move=0.10, stall_days=0)


def day(i: int) -> datetime:
    return T0 + i * DAY


def rows(rallies: pl.DataFrame) -> list[dict[str, object]]:
    return rallies.drop("asset", "regime").to_dicts()


# --- known answers with a fixed 10 % threshold ----------------------------------
# index:      0    1    2   3   4   5   6   7    8    9   10   11   12   13
REVERSAL = [100, 105, 110, 100, 95, 90, 95, 98, 101, 108, 115, 112, 106, 103]
# then:      14  15   16   17   18   19
REVERSAL += [100, 97, 104, 108, 112, 111]


def test_reversal_and_in_progress_rally_by_hand() -> None:
    out = detect_rallies(make_bars(REVERSAL), FIXED)
    assert out.schema == pl.Schema(RALLIES.columns)
    # Rally 1: the first leg's high is 110 (day 2); lowest close after it 90
    # (day 5); confirmed on the first close >= 90 * 1.1 = 99, i.e. 101 (day 8;
    # 98 is short); highest close 115 (day 10); ended on the first close
    # <= 115 * 0.9 = 103.5, i.e. 103 (day 13).
    # Rally 2: its decline starts at the peak 115 (day 10); lowest close after
    # it 97 (day 15); confirmed at 108 >= 97 * 1.1 = 106.7 (day 17; 104 is
    # short); highest close 112 (day 18); day 19 (111) is above 112 * 0.9.
    assert rows(out) == [
        {
            "rally_id": 1,
            "low_ts": day(5),
            "low_price": 90.0,
            "confirm_ts": day(8),
            "peak_ts": day(10),
            "peak_price": 115.0,
            "end_ts": day(13),
            "decline_high_ts": day(2),
            "decline_high": 110.0,
            "threshold": 0.10,
            "status": "ended",
            "as_of": day(19),
        },
        {
            "rally_id": 2,
            "low_ts": day(15),
            "low_price": 97.0,
            "confirm_ts": day(17),
            "peak_ts": day(18),
            "peak_price": 112.0,
            "end_ts": None,
            "decline_high_ts": day(10),
            "decline_high": 115.0,
            "threshold": 0.10,
            "status": "in_progress",
            "as_of": day(19),
        },
    ]
    # under 200 days only the drawdown test applies: 90/110 - 1 = -18 % and
    # 97/115 - 1 = -15.7 % are both above -20 %, so neutral
    assert out["regime"].to_list() == ["neutral", "neutral"]


def test_regime_is_the_regime_of_the_low_day() -> None:
    # the low 75 is 25 % under the high 100: bear (drawdown rule, < 200 days)
    out = detect_rallies(make_bars([100, 90, 75, 80, 85]), FIXED)
    assert out["low_ts"].to_list() == [day(2)]
    assert out["regime"].to_list() == ["bear"]


def test_stall_ends_a_rally_and_the_next_leg_starts_that_day() -> None:
    spec = DetectSpec(min_move=0.10, max_move=0.10, stall_days=3)
    closes = [100, 90, 95, 100, 105, 104, 103, 104, 102, 110, 113, 114]
    out = detect_rallies(make_bars(closes), spec)
    # Rally 1: low 90 (day 1), 100 >= 99 confirms on day 3, peak 105 (day 4);
    # days 5, 6, 7 make no new high and 104 > 105 * 0.9, so it stalls out on
    # day 7 = 4 + 3. The next leg starts on day 7 (104), falls to 102 (day 8);
    # 110 < 102 * 1.1 = 112.2, 113 confirms (day 10); peak 114 (day 11).
    assert rows(out) == [
        {
            "rally_id": 1,
            "low_ts": day(1),
            "low_price": 90.0,
            "confirm_ts": day(3),
            "peak_ts": day(4),
            "peak_price": 105.0,
            "end_ts": day(7),
            "decline_high_ts": day(0),
            "decline_high": 100.0,
            "threshold": 0.10,
            "status": "ended",
            "as_of": day(11),
        },
        {
            "rally_id": 2,
            "low_ts": day(8),
            "low_price": 102.0,
            "confirm_ts": day(10),
            "peak_ts": day(11),
            "peak_price": 114.0,
            "end_ts": None,
            "decline_high_ts": day(4),
            "decline_high": 105.0,
            "threshold": 0.10,
            "status": "in_progress",
            "as_of": day(11),
        },
    ]


def test_stall_rule_off_keeps_the_rally_running() -> None:
    closes = [100, 90, 95, 100, 105, 104, 103, 104, 102, 103]
    out = detect_rallies(make_bars(closes), FIXED)
    assert out["status"].to_list() == ["in_progress"]
    assert out["peak_ts"].to_list() == [day(4)]


def test_a_close_back_under_the_low_ends_the_rally() -> None:
    # low 90, confirmed at 99.5 >= 99, which is also the peak. 89.9 is above
    # 99.5 * 0.9 = 89.55 but under the low 90: the rally has ended (documented
    # rule: "a close back under L is such a day too").
    out = detect_rallies(make_bars([100, 90, 99.5, 89.9, 89.5]), FIXED)
    assert out["end_ts"].to_list() == [day(3)]
    assert out["status"].to_list() == ["ended"]


def test_a_rally_off_the_first_low_may_confirm_above_the_opening_high() -> None:
    # 98 is short of 90 * 1.1 = 99; 101 reaches it, although it is also a new
    # highest close (the first leg's H stays 100: the decline is 100 -> 90)
    out = detect_rallies(make_bars([100, 90, 98, 101]), FIXED)
    assert out.select(
        "low_ts", "confirm_ts", "peak_ts", "peak_price", "decline_high_ts"
    ).rows() == [(day(1), day(3), day(3), 101.0, day(0))]


@pytest.mark.parametrize(
    ("closes", "lows"),
    [
        ([100, 112], []),  # a jump from the first day has no low under a high
        ([100, 105, 111, 118], []),  # each new high restarts the first leg
        ([100, 108, 100.5, 115], [2]),  # 115 >= 100.5 * 1.1 after the dip
    ],
    ids=["jump-from-start", "steady-rise", "dip-then-rally"],
)
def test_first_leg_needs_a_close_under_the_running_high(
    closes: list[float], lows: list[int]
) -> None:
    out = detect_rallies(make_bars(closes), FIXED)
    assert out["low_ts"].to_list() == [day(i) for i in lows]


def test_moves_below_the_threshold_are_no_rally() -> None:
    closes = [100, 105, 100, 108, 99, 106, 98.5]  # every rise < 10 % of its low
    out = detect_rallies(make_bars(closes), FIXED)
    assert out.is_empty()
    assert out.schema == pl.Schema(RALLIES.columns)


@pytest.mark.parametrize("closes", [[], [100.0]], ids=["empty", "single"])
def test_empty_and_single_day_give_an_empty_table(closes: list[float]) -> None:
    out = detect_rallies(make_bars(closes), FIXED)
    assert out.is_empty()
    assert out.schema == pl.Schema(RALLIES.columns)


def test_wicks_neither_start_nor_end_a_rally() -> None:
    closes = [100, 90, 95, 92]
    # a 30 % intraday spike above the low's close and a wick far below it
    bars = make_bars(closes, high=[100, 90, 117, 92], low=[100, 60, 95, 92])
    assert detect_rallies(bars, FIXED).is_empty()


# --- the volatility-scaled threshold --------------------------------------------
def expected_thresholds(
    closes: np.ndarray, vol_days: int, sigmas: float, lo: float, hi: float
) -> np.ndarray:
    """The documented rule, by hand: sample std of the trailing returns."""
    returns = np.concatenate([[np.nan], np.diff(np.log(closes))])
    out = []
    for i in range(len(closes)):
        window = returns[max(0, i - vol_days + 1) : i + 1]
        window = window[~np.isnan(window)]
        if len(window) < max(2, vol_days // 2):
            out.append(hi)
        else:
            out.append(float(np.clip(sigmas * np.std(window, ddof=1), lo, hi)))
    return np.array(out)


def test_move_thresholds_by_hand_on_a_short_window() -> None:
    closes = np.array([100, 103, 99, 104, 101, 101, 80, 85])
    spec = DetectSpec(vol_days=4, threshold_sigmas=2.0, min_move=0.02, max_move=0.2)
    got = move_thresholds(make_bars(list(closes)), spec).to_numpy()
    r = np.log(closes[1:] / closes[:-1])
    # days 0 and 1 hold fewer than 2 returns -> max_move; day 2 uses r1, r2;
    # day 5 has the flat return 0 in a calm window; day 6 a -21 % crash
    assert got[:2] == pytest.approx([0.2, 0.2])
    assert got[2] == pytest.approx(min(0.2, max(0.02, 2 * np.std(r[:2], ddof=1))))
    assert got[5] == pytest.approx(np.clip(2 * np.std(r[1:5], ddof=1), 0.02, 0.2))
    assert got[6] == pytest.approx(0.2)  # 2 sigma of a window with the crash > 20 %
    np.testing.assert_allclose(got, expected_thresholds(closes, 4, 2.0, 0.02, 0.2))


def noisy_then_climbing(noise: float) -> np.ndarray:
    """A 20 % drop, 12 days of noise of amplitude ``noise``, 8 days of +1.5 %."""
    returns = [-0.2] + [-noise if i % 2 == 0 else 0.8 * noise for i in range(12)]
    returns += [0.015] * 8
    return 100 * np.exp(np.concatenate([[0.0], np.cumsum(returns)]))


def test_twice_the_volatility_needs_a_bigger_move() -> None:
    spec = DetectSpec(
        vol_days=10, threshold_sigmas=2.0, min_move=0.005, max_move=0.5, stall_days=0
    )
    confirmed = {}
    for noise in (0.01, 0.02):
        closes = noisy_then_climbing(noise)
        bars = make_bars(list(closes))
        theta = expected_thresholds(closes, 10, 2.0, 0.005, 0.5)
        np.testing.assert_allclose(move_thresholds(bars, spec).to_numpy(), theta)
        low = 12  # the last noise day that falls: the lowest close after the drop
        assert int(np.argmin(closes)) == low
        confirm = next(
            i
            for i in range(low + 1, len(closes))
            if closes[i] >= closes[low] * (1 + theta[i])
        )
        out = detect_rallies(bars, spec)
        assert out.select("low_ts", "confirm_ts", "threshold").rows() == [
            (day(low), day(confirm), pytest.approx(theta[confirm]))
        ]
        confirmed[noise] = (confirm, closes[confirm] / closes[low] - 1, theta[confirm])
    calm, wild = confirmed[0.01], confirmed[0.02]
    assert wild[0] > calm[0]  # confirmed later ...
    assert wild[1] > calm[1]  # ... after a bigger move ...
    assert wild[2] > 1.5 * calm[2]  # ... because the threshold is higher


def test_threshold_is_capped_by_max_move_before_enough_returns() -> None:
    # 5 % moves are far above 4 sigma of nothing, but vol_days=30 needs 15
    # returns: until then the threshold is max_move = 30 %, so no rally
    closes = [100, 95, 100, 105, 100, 110, 115]
    assert detect_rallies(make_bars(closes), DetectSpec()).is_empty()
    theta = move_thresholds(make_bars(closes), DetectSpec()).to_list()
    assert theta == [0.30] * 7


# --- several assets ---------------------------------------------------------------
def test_assets_in_one_frame_are_independent() -> None:
    rng = np.random.default_rng(7)
    spec = DetectSpec(vol_days=10, threshold_sigmas=3.0, min_move=0.03, max_move=0.2)
    btc = make_bars(list(100 * np.exp(np.cumsum(rng.normal(0, 0.03, 120)))))
    eth = make_bars(
        list(10 * np.exp(np.cumsum(rng.normal(0, 0.06, 90)))),
        asset="ETH",
        start=T0 + timedelta(days=15),
    )
    quiet = make_bars([50.0, 50.5, 51.0], asset="SOL")  # no rally at all
    both = detect_rallies(pl.concat([btc, eth, quiet]), spec)
    alone = pl.concat([detect_rallies(btc, spec), detect_rallies(eth, spec)])
    assert alone.height >= 4  # both walks have rallies
    assert both.equals(alone)
    thresholds = move_thresholds(pl.concat([btc, eth]), spec)
    # the rolling window restarts per asset: ETH's first days get max_move
    assert thresholds[btc.height : btc.height + 2].to_list() == [0.2, 0.2]


def test_an_asset_without_rallies_gives_an_empty_typed_table() -> None:
    out = detect_rallies(make_bars([100.0, 101.0, 102.0]), FIXED)
    assert out.is_empty()
    assert out.schema == pl.Schema(RALLIES.columns)


# --- spec validation --------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"vol_days": 1}, "vol_days"),
        ({"min_move": 0.0}, "min_move"),
        ({"min_move": 0.2, "max_move": 0.1}, "min_move <= max_move"),
        ({"max_move": 1.0}, "max_move < 1"),
        ({"stall_days": -1}, "stall_days"),
        ({"threshold_sigmas": 0.0}, "threshold_sigmas"),
    ],
)
def test_detect_spec_rejects_bad_values(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        DetectSpec(**kwargs)  # type: ignore[arg-type]


def test_prepare_bars_feeds_detection() -> None:
    # a panel with perp prices only still yields rallies (close = perp close)
    closes = [100.0, 90.0, 101.0, 103.0]
    panel = pl.DataFrame({"ts": [day(i) for i in range(4)], "perp_close": closes})
    panel = panel.select(
        pl.col(c).cast(t) if c in panel.columns else pl.lit(None, t).alias(c)
        for c, t in PANEL.columns.items()
    )
    out = detect_rallies(prepare_bars(panel, "BTC"), FIXED)
    assert out["low_price"].to_list() == [90.0]


# --- the real data set --------------------------------------------------------------
@pytest.fixture(scope="module")
def real_btc_rallies(real_btc_daily: pl.DataFrame) -> pl.DataFrame:
    return find_rallies(real_btc_daily)


@pytest.mark.slow
@pytest.mark.parametrize(
    "low", ["2018-02-06", "2018-04-06", "2022-01-24", "2022-06-18", "2023-01-01"]
)
def test_real_btc_rallies_start_at_the_known_lows(
    real_btc_rallies: pl.DataFrame, low: str
) -> None:
    target = datetime.fromisoformat(low + "T00:00:00+00:00")
    gaps = (real_btc_rallies["low_ts"] - target).dt.total_days().abs()
    # found today at 2018-02-05, 2018-04-06, 2022-01-22, 2022-06-18, 2022-12-31
    assert gaps.min() <= 3, f"no rally low within 3 days of {low}"
