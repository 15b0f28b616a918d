"""Rallies: regime, detection, anatomy and explained verdicts.

The flow is ``features.prepare_bars`` -> :func:`find_rallies` (every rally
with anatomy and verdict) or :func:`analyze_rally` (the rally at one time).
Every function is pure and point-in-time: appending bars after a time never
changes what is computed as of that time.
"""

from rallylens.rallies._analysis import (
    RallyAnalysis,
    RallySpecs,
    analyze_rally,
    find_rallies,
)
from rallylens.rallies._anatomy import FIB_LEVELS, AnatomySpec, compute_anatomies
from rallylens.rallies._detect import DetectSpec, detect_rallies, move_thresholds
from rallylens.rallies._regime import RegimeSpec, label_regimes
from rallylens.rallies._signals import GROUPS, SOURCES, UNITS, Signal
from rallylens.rallies._verdict import (
    CONFIDENCE,
    DEFAULT_SPEC,
    VERDICT,
    Evidence,
    Explanation,
    Reason,
    VerdictSpec,
    coverage_column,
    explain_verdict,
    score_column,
    score_verdicts,
)

__all__ = [
    "CONFIDENCE",
    "DEFAULT_SPEC",
    "FIB_LEVELS",
    "GROUPS",
    "SOURCES",
    "UNITS",
    "VERDICT",
    "AnatomySpec",
    "DetectSpec",
    "Evidence",
    "Explanation",
    "RallyAnalysis",
    "RallySpecs",
    "Reason",
    "RegimeSpec",
    "Signal",
    "VerdictSpec",
    "analyze_rally",
    "compute_anatomies",
    "coverage_column",
    "detect_rallies",
    "explain_verdict",
    "find_rallies",
    "label_regimes",
    "move_thresholds",
    "score_column",
    "score_verdicts",
]
