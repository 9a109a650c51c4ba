"""The default forecaster: a combination of forecasts chosen on the validation part, and its
prediction intervals.

Forecast combinations beat their members on average (the M competitions' lesson), but an equal
mix with a member that cannot follow the series (a flat ETS on a cycle) drags the mix down. So
the default forecaster is the equal-weight mean of the subset of {network ensemble, ETS, ARIMA}
that forecast the *validation* part best (MASE; members fitted on the training part only), and
the test part never takes part in the choice. Seven subsets at most: few enough that the choice
does not overfit the validation part.

Intervals are split-conformal: the forecaster's errors at the validation origins, step by step,
give the quantiles that are added to its forecast (with the finite-sample correction, so that
``n`` exchangeable errors give at least the nominal coverage). They need no assumption about
the errors' distribution and apply to any combination; the backtest measures their coverage on
the test part beside ETS's and ARIMA's own model-based intervals.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

MEMBERS = ("network", "ets", "arima")
LEVELS = (0.8, 0.95)  # central prediction intervals


def quantile_levels(levels: tuple[float, ...] = LEVELS) -> list[float]:
    """The quantiles the intervals' ends are: 0.025, 0.1, 0.9, 0.975 for 80% and 95%."""
    return sorted({round((1 - lv) / 2, 6) for lv in levels} | {round((1 + lv) / 2, 6)
                                                               for lv in levels})


def subsets(names: list[str]) -> list[tuple[str, ...]]:
    """Every non-empty subset, singles first, in ``names``' order."""
    return [c for k in range(1, len(names) + 1) for c in itertools.combinations(names, k)]


def combined(forecasts: dict[str, np.ndarray], members: tuple[str, ...]) -> np.ndarray:
    """The equal-weight mean of the members' (O, H) forecasts."""
    return np.mean([forecasts[m] for m in members], axis=0)


def mase_of(actual: np.ndarray, forecast: np.ndarray, scale: float) -> float:
    return float(np.mean(np.abs(actual - forecast)) / scale)


@dataclass(frozen=True)
class Combination:
    """The members the validation part chose, and every subset's validation MASE."""

    members: tuple[str, ...]
    scores: dict[str, float]  # "network+arima" -> validation MASE

    @property
    def name(self) -> str:
        return "+".join(self.members)

    def to_dict(self) -> dict[str, Any]:
        return {"members": list(self.members), "validation_mase": self.scores}


def choose_combination(val_forecasts: dict[str, np.ndarray], actual: np.ndarray,
                       scale: float) -> Combination:
    """The subset of ``val_forecasts``' members (in :data:`MEMBERS` order) whose mean has the
    lowest validation MASE; a tie goes to the smaller subset, listed first."""
    names = [m for m in MEMBERS if m in val_forecasts]
    scores = {"+".join(c): mase_of(actual, combined(val_forecasts, c), scale)
              for c in subsets(names)}
    best = min(scores, key=lambda k: (scores[k], k.count("+")))
    return Combination(tuple(best.split("+")), scores)


@dataclass(frozen=True)
class Conformal:
    """Per-step quantiles of the validation errors (actual - forecast), by quantile level."""

    quantiles: dict[float, list[float]]  # level -> (H,) error quantile per step
    errors: int  # validation origins they come from

    @classmethod
    def fit(cls, actual: np.ndarray, forecast: np.ndarray,
            levels: tuple[float, ...] = LEVELS) -> Conformal:
        errors = np.asarray(actual, dtype=float) - np.asarray(forecast, dtype=float)
        n = len(errors)
        out = {}
        for q in quantile_levels(levels):
            # the finite-sample corrected rank: ceil((n + 1) q) of n for an upper end,
            # floor((n + 1) q) for a lower end; beyond the sample, the extreme error
            if q > 0.5:
                rank = min(n, math.ceil((n + 1) * q))
            else:
                rank = max(1, math.floor((n + 1) * q))
            out[q] = np.sort(errors, axis=0)[rank - 1].tolist()
        return cls(out, n)

    def bounds(self, forecast: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
        """(lower, upper) of the central ``level`` interval around (..., H) forecasts."""
        lo, hi = round((1 - level) / 2, 6), round((1 + level) / 2, 6)
        return (forecast + np.asarray(self.quantiles[lo]),
                forecast + np.asarray(self.quantiles[hi]))

    def to_dict(self) -> dict[str, Any]:
        return {"quantiles": {f"{q:g}": v for q, v in self.quantiles.items()},
                "errors": self.errors}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Conformal:
        return cls({float(q): [float(x) for x in v] for q, v in d["quantiles"].items()},
                   int(d["errors"]))


# -- scoring intervals -------------------------------------------------------------------------
Bounds = dict[float, tuple[np.ndarray, np.ndarray]]  # level -> (lower, upper), each (O, H)


def coverage(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """The share of actual values inside [lower, upper]."""
    return float(np.mean((actual >= lower) & (actual <= upper)))


def pinball(actual: np.ndarray, quantile: np.ndarray, q: float) -> float:
    """The mean pinball (quantile) loss of ``quantile`` as the ``q`` quantile of ``actual``."""
    d = np.asarray(actual) - np.asarray(quantile)
    return float(np.mean(np.maximum(q * d, (q - 1) * d)))


def interval_scores(actual: np.ndarray, bounds: Bounds, scale: float) -> dict[str, float]:
    """Coverage of each interval (``coverage_80`` ...) and the scaled pinball loss averaged
    over the intervals' ends (``pinball``: divided by the MASE scale, as MASE is)."""
    out = {f"coverage_{round(lv * 100)}": coverage(actual, lo, hi)
           for lv, (lo, hi) in bounds.items()}
    losses = []
    for lv, (lo, hi) in bounds.items():
        losses += [pinball(actual, lo, round((1 - lv) / 2, 6)),
                   pinball(actual, hi, round((1 + lv) / 2, 6))]
    out["pinball"] = float(np.mean(losses)) / scale
    return out
