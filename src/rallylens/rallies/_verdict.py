"""Verdicts: which kind of rally, how sure, and why, from an anatomy frame.

The rules and their weights live in one place, :data:`DEFAULT_SPEC`: a frozen
tuple of :class:`Evidence`, each turning one anatomy signal into a strength
in [0, 1] through a piecewise-linear curve. For each kind of rally::

    score    = sum(weight * strength over evidence that could be computed)
               / sum(weight over all of the kind's evidence)
    coverage = sum(weight over evidence that could be computed)
               / sum(weight over all of the kind's evidence)

so evidence that cannot be computed is never neutral: it lowers the score and
the coverage, and is named. The one exception is evidence marked
``optional`` (option positioning, which exists only for a few assets and
recent years): it joins both sums only for rallies where it was computed, so
a rally without options data is judged on the rest alone.

The verdict is the best-scoring kind when its score reaches ``min_score``
and beats the runner-up by ``min_margin``; otherwise ``undetermined``. Its
confidence is the winner's coverage.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from rallylens._typing import RallyKind
from rallylens.exceptions import ConfigError
from rallylens.rallies._signals import SOURCES, Signal
from rallylens.schemas import ASSET, RALLY_ID

__all__ = [
    "CONFIDENCE",
    "DEFAULT_SPEC",
    "VERDICT",
    "Evidence",
    "Explanation",
    "Reason",
    "VerdictSpec",
    "coverage_column",
    "explain_verdict",
    "score_column",
    "score_verdicts",
    "why_missing",
]

VERDICT = "verdict"
CONFIDENCE = "confidence"
_KINDS = (RallyKind.BEAR_MARKET_RALLY, RallyKind.SPOT_LED, RallyKind.LEVERAGED_LONG)


def score_column(kind: RallyKind) -> str:
    """Column holding a kind's score."""
    return f"score_{kind.value}"


def coverage_column(kind: RallyKind) -> str:
    """Column holding a kind's evidence coverage."""
    return f"coverage_{kind.value}"


_FORMATS: dict[str, Callable[[float], str]] = {
    "pct": lambda v: f"{v * 100:.1f}%",
    "signed_pct": lambda v: f"{v * 100:+.1f}%",
    "share": lambda v: f"{v * 100:.0f}%",
    "pts": lambda v: f"{abs(v) * 100:.1f}",
    "bps": lambda v: f"{v * 1e4:+.0f} bp",
    "z": lambda v: f"{v:+.1f}",
    "ratio": lambda v: f"{v:.2f}x",
    "flag": lambda v: "yes" if v > 0 else "no",
    "days": lambda v: f"{v:.0f} days",
    "vol": lambda v: f"{v * 100:+.1f} vol pts",
}
"""How each evidence unit formats ``{v}`` in a reason."""


@dataclass(frozen=True)
class Evidence:
    """One rule: a signal, the curve that turns it into a strength, a weight.

    Attributes
    ----------
    kind : RallyKind
        The kind of rally this evidence supports.
    signals : tuple of Signal
        The signal, or alternatives tried in order (first non-null is used).
    xp, fp : tuple of float
        Curve points: strength = ``numpy.interp(value, xp, fp)`` (flat
        beyond the ends).
    weight : float
        Relative weight within the kind.
    says : str
        Plain-language reason; ``{v}`` is replaced by the formatted value.
    unit : {"pct", "signed_pct", "share", "pts", "bps", "z", "ratio", "flag", "days",
            "vol"}
        How ``{v}`` is formatted.
    optional : bool
        Counted only where computed (see the module's notes).
    """

    kind: RallyKind
    signals: tuple[Signal, ...]
    xp: tuple[float, ...]
    fp: tuple[float, ...]
    weight: float
    says: str
    unit: str = "signed_pct"
    optional: bool = False

    def __post_init__(self) -> None:
        if len(self.xp) != len(self.fp) or len(self.xp) < 2:
            raise ConfigError(f"evidence {self.says!r}: xp and fp need >= 2 points")
        if list(self.xp) != sorted(self.xp):
            raise ConfigError(f"evidence {self.says!r}: xp must be increasing")
        if self.weight <= 0 or not all(0 <= f <= 1 for f in self.fp):
            raise ConfigError(
                f"evidence {self.says!r}: weight > 0 and strengths in [0, 1]"
            )
        if self.unit not in _FORMATS:
            raise ConfigError(
                f"evidence {self.says!r}: unit {self.unit!r} is not one of "
                f"{sorted(_FORMATS)}"
            )

    def strength(self, values: np.ndarray) -> np.ndarray:
        """Strength per value (NaN where the value is NaN)."""
        out = np.interp(values, self.xp, self.fp)
        return np.where(np.isnan(values), np.nan, out)


@dataclass(frozen=True)
class VerdictSpec:
    """All verdict rules plus the decision thresholds."""

    evidence: tuple[Evidence, ...]
    min_score: float = 0.45
    min_margin: float = 0.05
    taglines: Mapping[RallyKind, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        lacking = [k.value for k in _KINDS if not self.of(k)]
        if lacking:
            raise ConfigError(
                f"verdict spec has no evidence for {lacking}; give every kind "
                "at least one Evidence"
            )

    def of(self, kind: RallyKind) -> tuple[Evidence, ...]:
        """The evidence supporting ``kind``."""
        return tuple(e for e in self.evidence if e.kind == kind)


_B, _S, _L = RallyKind.BEAR_MARKET_RALLY, RallyKind.SPOT_LED, RallyKind.LEVERAGED_LONG

DEFAULT_SPEC = VerdictSpec(
    evidence=(
        # bear market rally: short covering into resistance inside a downtrend
        Evidence(
            _B,
            (Signal.REGIME_LEVEL,),
            (-1, 0),
            (1, 0),
            2.0,
            "started in a bear regime",
            "flag",
        ),
        Evidence(
            _B,
            (Signal.SHORT_COVERING,),
            (0.3, 0.7),
            (0, 1),
            1.5,
            "{v} of the gain came in bars where OI fell (short covering)",
            "share",
        ),
        Evidence(
            _B,
            (Signal.OI_CHANGE,),
            (-0.10, -0.02),
            (1, 0),
            1.0,
            "OI {v} while price rose",
        ),
        Evidence(
            _B,
            (Signal.LIQ_SHORT_Z,),
            (1.0, 3.0),
            (0, 1),
            1.5,
            "short liquidations spiked (z {v})",
            "z",
        ),
        Evidence(
            _B,
            (Signal.AT_RESISTANCE,),
            (0, 1),
            (0, 1),
            1.5,
            "ran into resistance (old support, 38.2-78.6% retracement "
            "or the decline's VWAP)",
            "flag",
        ),
        Evidence(
            _B,
            (Signal.VOLUME_AT_HIGHS,),
            (0.7, 1.0),
            (1, 0),
            1.0,
            "volume thinned at the highs ({v} of the rally's average)",
            "ratio",
        ),
        Evidence(
            _B,
            (Signal.IV_CHANGE, Signal.RV_CHANGE),
            (-0.20, -0.03),
            (1, 0),
            1.0,
            "volatility compressed ({v})",
        ),
        Evidence(
            _B,
            (Signal.CALL_WALL_PIN,),
            (0.0, 1.0),
            (0, 1),
            1.0,
            "ran into the call wall with dealers long gamma (pin {v}): their "
            "hedging sells the rally",
            "share",
            optional=True,
        ),
        Evidence(
            _B,
            (Signal.SKEW_LAST,),
            (-0.05, 0.0),
            (1, 0),
            0.5,
            "puts still priced over calls (30d 25d risk reversal {v})",
            "vol",
            optional=True,
        ),
        # spot-led: spot buying with moderate funding and no leverage build-up
        Evidence(
            _S,
            (Signal.FUNDING_MEAN,),
            (-0.05, 0.0, 0.10, 0.20),
            (0, 1, 1, 0),
            1.5,
            "funding {v} APR (moderate)",
            "pct",
        ),
        Evidence(
            _S,
            (Signal.OI_CHANGE,),
            (0.05, 0.12),
            (1, 0),
            1.5,
            "OI {v}: no leverage build-up",
        ),
        Evidence(
            _S,
            (Signal.SPOT_SHARE_CHANGE,),
            (0.0, 0.05),
            (0, 1),
            2.0,
            "spot share of volume rose {v} pts",
            "pts",
        ),
        Evidence(
            _S,
            (Signal.SPOT_CVD_RATIO,),
            (-0.01, 0.03),
            (0, 1),
            1.5,
            "spot takers net buyers ({v} of spot taker volume)",
        ),
        Evidence(
            _S,
            (Signal.PREMIUM_CHANGE,),
            (0.0, 0.002),
            (1, 0),
            0.5,
            "perp premium did not widen ({v})",
            "bps",
        ),
        Evidence(
            _S,
            (Signal.REGIME_LEVEL,),
            (-1, 0, 1),
            (0, 0.6, 1),
            2.0,
            "trend not bearish",
            "flag",
        ),
        Evidence(
            _S,
            (Signal.VOLUME_AT_HIGHS,),
            (0.8, 1.1),
            (0, 1),
            1.0,
            "volume held up at the highs ({v} of average)",
            "ratio",
        ),
        Evidence(
            _S,
            (Signal.COINBASE_PREMIUM,),
            (-0.0005, 0.0005),
            (0, 1),
            0.5,
            "Coinbase premium {v}",
            "bps",
        ),
        # leveraged long: perps and fresh leverage lead
        Evidence(_L, (Signal.OI_CHANGE,), (0.05, 0.20), (0, 1), 2.0, "OI built up {v}"),
        Evidence(
            _L,
            (Signal.FUNDING_Z,),
            (1.0, 3.0),
            (0, 1),
            2.0,
            "funding spiked (z {v} vs the prior 90 days)",
            "z",
        ),
        Evidence(
            _L,
            (Signal.FUNDING_LAST,),
            (0.10, 0.30),
            (0, 1),
            1.0,
            "funding {v} APR",
            "pct",
        ),
        Evidence(
            _L,
            (Signal.PREMIUM_CHANGE,),
            (0.0, 0.003),
            (0, 1),
            1.5,
            "perp premium widened {v}",
            "bps",
        ),
        Evidence(
            _L,
            (Signal.CVD_GAP,),
            (0.0, 0.05),
            (0, 1),
            1.5,
            "perp CVD ran ahead of spot CVD ({v})",
        ),
        Evidence(
            _L,
            (Signal.SPOT_SHARE_CHANGE,),
            (-0.05, 0.0),
            (1, 0),
            1.0,
            "spot share of volume fell {v} pts",
            "pts",
        ),
        Evidence(
            _L,
            (Signal.SKEW_CHANGE,),
            (0.0, 0.04),
            (0, 1),
            1.0,
            "calls bid over the rally (30d 25d risk reversal {v} since the low)",
            "vol",
            optional=True,
        ),
        Evidence(
            _L,
            (Signal.VS_GAMMA_FLIP,),
            (-0.05, 0.0),
            (1, 0),
            0.5,
            "spot {v} against the gamma flip: dealers short gamma chase the move",
            optional=True,
        ),
    ),
    taglines={
        _B: "short covering into resistance inside a downtrend; such rallies "
        "tend to fail",
        _S: "leverage was cleared and spot carried the move",
        _L: "perps and fresh leverage are driving the move; it can unwind sharply",
        RallyKind.UNDETERMINED: "the evidence is weak or conflicting",
    },
)
"""The rules rallylens uses (weights are relative within each kind)."""


def _values(frame: pl.DataFrame, ev: Evidence) -> np.ndarray:
    cols = [frame[s.value].cast(pl.Float64).to_numpy() for s in ev.signals]
    out = cols[0].copy()
    for alt in cols[1:]:
        out = np.where(np.isnan(out), alt, out)
    return out


def score_verdicts(
    anatomies: pl.DataFrame, spec: VerdictSpec = DEFAULT_SPEC
) -> pl.DataFrame:
    """Score every rally for every kind and pick the verdict.

    Parameters
    ----------
    anatomies : pl.DataFrame
        Output of :func:`compute_anatomies` (``asset, rally_id`` + signals).
    spec : VerdictSpec
        Rules and thresholds.

    Returns
    -------
    pl.DataFrame
        ``asset, rally_id``, ``score_<kind>`` and ``coverage_<kind>`` for the
        three kinds, ``verdict`` (a :class:`RallyKind` value) and
        ``confidence`` (the winner's coverage; 0 when undetermined for lack
        of evidence).
    """
    n = anatomies.height
    scores, coverage = {}, {}
    for kind in _KINDS:
        total = np.full(n, sum(e.weight for e in spec.of(kind) if not e.optional))
        got, avail = np.zeros(n), np.zeros(n)
        for ev in spec.of(kind):
            s = ev.strength(_values(anatomies, ev))
            ok = ~np.isnan(s)
            got += np.where(ok, ev.weight * s, 0.0)
            avail += np.where(ok, ev.weight, 0.0)
            if ev.optional:
                total += np.where(ok, ev.weight, 0.0)
        total = np.where(total > 0, total, np.nan)
        scores[kind] = np.nan_to_num(got / total)
        coverage[kind] = np.nan_to_num(avail / total)
    stacked = np.vstack([scores[k] for k in _KINDS])
    order = np.argsort(-stacked, axis=0)
    best = order[0] if n else np.zeros(0, dtype=int)
    top = np.take_along_axis(stacked, order[:1], axis=0)[0] if n else np.zeros(0)
    second = np.take_along_axis(stacked, order[1:2], axis=0)[0] if n else np.zeros(0)
    decided = (top >= spec.min_score) & (top - second >= spec.min_margin)
    labels = np.array([k.value for k in _KINDS], dtype=object)[best]
    cov = np.vstack([coverage[k] for k in _KINDS])
    best_cov = np.take_along_axis(cov, best[None, :], axis=0)[0] if n else np.zeros(0)
    return anatomies.select(ASSET, RALLY_ID).with_columns(
        *(pl.Series(score_column(k), scores[k]) for k in _KINDS),
        *(pl.Series(coverage_column(k), coverage[k]) for k in _KINDS),
        pl.Series(
            VERDICT,
            np.where(decided, labels, RallyKind.UNDETERMINED.value).tolist(),
            dtype=pl.String,
        ),
        pl.Series(CONFIDENCE, np.where(decided, best_cov, 0.0)),
    )


@dataclass(frozen=True)
class Reason:
    """One piece of evidence as it applied to a rally."""

    kind: RallyKind
    text: str
    strength: float
    weight: float


@dataclass(frozen=True)
class Explanation:
    """Why a rally got its verdict, and what could not be judged."""

    headline: str
    reasons: tuple[Reason, ...]
    against: tuple[Reason, ...]
    missing: dict[str, str]


def _fmt(value: float, unit: str) -> str:
    return _FORMATS[unit](value)


def explain_verdict(
    anatomy: Mapping[str, object],
    verdict: RallyKind,
    spec: VerdictSpec = DEFAULT_SPEC,
    *,
    missing_sources: Mapping[str, str] | None = None,
) -> Explanation:
    """Plain-language reasons for one rally's verdict.

    Parameters
    ----------
    anatomy : mapping
        One row of the anatomy frame (signal name -> value or None).
    verdict : RallyKind
        The verdict from :func:`score_verdicts`.
    spec : VerdictSpec
        The rules used for the verdict.
    missing_sources : mapping, optional
        Per panel group with no data (``Panel.missing``), why; used to say why
        a signal could not be computed.

    Returns
    -------
    Explanation
        Headline, the evidence for the verdict (strongest first), the
        strongest evidence for the other kinds, and missing signals with why.
    """
    missing_sources = missing_sources or {}
    reasons: list[Reason] = []
    missing: dict[str, str] = {}
    for ev in spec.evidence:
        value = next(
            (v for s in ev.signals if (v := _num(anatomy.get(s.value))) is not None),
            None,
        )
        if value is None:
            sig = ev.signals[0]
            missing[sig.value] = why_missing(sig, missing_sources)
            continue
        strength = float(ev.strength(np.array([value]))[0])
        if strength >= 0.5:
            text = ev.says.format(v=_fmt(value, ev.unit))
            reasons.append(Reason(ev.kind, text, strength, ev.weight))
    reasons.sort(key=lambda r: -r.strength * r.weight)
    own = tuple(r for r in reasons if r.kind == verdict)
    others = tuple(r for r in reasons if r.kind != verdict)[:3]
    return Explanation(_headline(anatomy, verdict, own, spec), own, others, missing)


def _num(value: object) -> float | None:
    if value is None:
        return None
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if np.isnan(out) else out


def why_missing(signal: Signal, missing_sources: Mapping[str, str]) -> str:
    """Why ``signal`` could not be computed, from the panel's missing groups."""
    groups = SOURCES.get(signal, ())
    for group in groups:
        if group in missing_sources:
            return f"{group.replace('_', ' ')}: {missing_sources[group]}"
    if groups:
        names = " / ".join(g.replace("_", " ") for g in groups)
        return f"no {names} data inside the rally's window"
    return "not computable for this rally"


def _headline(
    anatomy: Mapping[str, object],
    verdict: RallyKind,
    own: tuple[Reason, ...],
    spec: VerdictSpec,
) -> str:
    gain = _num(anatomy.get(Signal.GAIN.value))
    move = f"price {gain * 100:+.1f}%" if gain is not None else "the move"
    tagline = spec.taglines.get(verdict, "")
    facts = [r.text for r in own[:2]]
    if not facts:
        return f"{move}: {tagline}"
    return f"{' and '.join(facts)} while {move}: {tagline}"
