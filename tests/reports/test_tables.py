"""HTML tables: units, grouping, escaping."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rallylens.rallies import GROUPS, UNITS, Signal
from rallylens.reports.tables import (
    analogues_table,
    anatomy_table,
    format_signal,
    format_usd,
    html_table,
    levels_table,
    missing_table,
)


@pytest.mark.parametrize(
    ("signal", "value", "text"),
    [
        (Signal.GAIN, 0.2627, "+26.3%"),
        (Signal.RETRACED, 0.175, "17.5%"),
        (Signal.RESISTANCE, 28629.8, "28,629.80"),
        (Signal.LIQ_SHORT_USD, 298_210_000.0, "$298.21M"),
        (Signal.DEALER_GEX, -6_146_656.6, "-$6.15M"),
        (Signal.AT_RESISTANCE, 1.0, "yes"),
        (Signal.IN_HVN, 0.0, "no"),
        (Signal.FUNDING_Z, 0.4622, "+0.46"),
        (Signal.PREMIUM, -0.00055, "-5.5 bp"),
        (Signal.SKEW_LAST, 0.017, "+1.70 vol pts"),
        (Signal.REGIME_LEVEL, -1.0, "bear"),
        (Signal.SPOT_SHARE_CHANGE, 0.048, "+4.8 pts"),
        (Signal.VOLUME_AT_HIGHS, 1.325, "1.32x"),
        (Signal.FIB_LEVEL, 0.0, "none reached"),
        (Signal.FIB_LEVEL, 0.618, "0.618"),
        (Signal.DURATION_DAYS, 53.0, "53 days"),
        (Signal.CALL_WALL_PIN, 0.25, "0.25"),
        (Signal.GAIN, None, "-"),
        (Signal.GAIN, float("nan"), "-"),
    ],
)
def test_format_signal(signal: Signal, value: float | None, text: str) -> None:
    assert format_signal(signal, value) == text


def test_format_usd_scales() -> None:
    assert [format_usd(v) for v in (950.0, 12_500.0, 3.2e9, -1.5e12)] == [
        "$950",
        "$12.50k",
        "$3.20B",
        "-$1.50T",
    ]


def test_every_signal_has_a_format() -> None:
    for signal in Signal:
        assert format_signal(signal, 0.5) != ""


def test_anatomy_table_groups_every_signal_with_its_unit() -> None:
    anatomy = {s.value: 0.1 for s in Signal} | {Signal.ETF_FLOW_USD.value: None}
    html = anatomy_table(anatomy)
    for group, signals in GROUPS.items():
        assert (
            f'<tr class="group"><th colspan="3">{group.replace("_", " ")}</th>' in html
        )
        for signal in signals:
            assert f"<td>{signal.value}</td>" in html
    assert "VWAP anchored at the decline&#x27;s high" in html  # units, escaped
    assert UNITS[Signal.GAIN] in html
    assert html.count('class="missing"') == 1


def test_levels_table_shows_distance_from_the_close() -> None:
    html = levels_table({"resistance_above": 110.0, "vwap_rally_low": None}, 100.0)
    assert "resistance above" in html and "110.00" in html and "+10.0%" in html
    assert "<td>vwap rally low</td>" in html


def test_tables_escape_their_text() -> None:
    html = missing_table({"oi_change": "<script>alert(1)</script> & more"})
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in html
    assert "<th>&lt;b&gt;</th>" in html_table(["<b>"], [])


def test_analogues_table_reads_both_key_styles() -> None:
    low = datetime(2018, 9, 8, tzinfo=UTC)
    html = analogues_table(
        [
            {
                "asset": "BTC",
                "low_ts": low,
                "confirm_ts": datetime(2018, 10, 15, tzinfo=UTC),
                "checkpoint_days": 14,
                "verdict": "bear_market_rally",
                "gain": 0.0258,
                "failed": True,
                "days_to_failure": 16,
                "fwd_30d": -0.3278,
                "distance": 1.5878,
            },
            {"asset": "ETH", "low_ts": "2021-07-20T00:00:00+00:00", "failed_90d": None},
        ]
    )
    assert "2018-09-08" in html and "2018-10-15" in html and "14 days" in html
    assert "bear market rally" in html and "+2.6%" in html
    assert "yes, after 16 days" in html and "-32.8%" in html and "1.59" in html
    assert "2021-07-20" in html and "pending" in html
