"""The default forecaster: a combination of forecasts weighted on the validation part, and its
prediction intervals.

Forecast combinations beat their members on average (the M competitions' steadiest lesson), but
an equal mix with a member that cannot follow the series (a flat ETS on a cycle) drags the mix
down, and picking one subset on a short validation part is noisy. So the default forecaster is
the classical Bates-Granger combination: the mean of {network ensemble, ETS, ARIMA} weighted
by the inverse of each member's mean squared error on the *calibration* part, a stretch before
the validation part that every member forecasts fitted on what precedes it, and that nothing
was chosen on (:mod:`.calibrate`: the network's validation error is the best of many tries,
too good to weigh by). A member that forecast that part badly gets little weight, none is
dropped on a coin flip, and the test part never takes part.

The mix's intervals average its members' (quantile averaging): each end is the weighted mean,
with the mix's weights, of the members' same ends. ETS and ARIMA bring their own model-based
intervals from statsmodels; the network ensemble's are split-conformal: its errors at the
calibration origins, step by step, give the quantiles that are added to its forecast (with the
finite-sample correction, so that ``n`` exchangeable errors give at least the nominal
coverage). Conformal intervals of the mix itself, from the mix's own calibration errors, were
the rule before: on series whose calibration part holds few errors (5 on a 55-quarter series)
they are as wide as those few errors say, while ETS's and ARIMA's rest on every residual of
their fit; recomputed from the same runs, the averaged intervals covered closer to nominal
with a lower pinball loss on the benchmark and on the held-out series.

The correction needs enough errors: the upper end of a central ``level`` interval is the
``ceil((n + 1)(1 + level) / 2)``-th smallest of ``n``, which exists only for ``n >= 9`` at 80%
and ``n >= 39`` at 95%. A short series has fewer calibration origins than that (55 quarterly
points give 5), and the largest error seen is not a 95% bound: capping the rank there made the
80% and 95% intervals the same interval, covering far less than either promised. So where
``n`` errors cannot give a level's conformal interval, that level's interval is the classical
prediction interval for one more draw from the same errors, taken as normal: their mean plus or
minus Student's ``t`` quantile with ``n - 1`` degrees of freedom times their standard deviation
times ``sqrt(1 + 1/n)``, which widens as ``n`` shrinks instead of pretending, and never
narrower than the range of the errors seen (the capped interval: with 37 errors, close to the
39 that 95% needs, their range covers a new one with probability at least 36/38, and errors
with heavy tails can make the normal interval the narrower one). With one error there is no
spread to scale, and the interval is unbounded. A wider level never gets a narrower interval
than a narrower level. ``config.json`` says which rule gave each level.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from pucklab.seqmodels.forecast.metrics import mase

MEMBERS = ("network", "ets", "arima")
LEVELS = (0.8, 0.95)  # central prediction intervals


def quantile_levels(levels: tuple[float, ...] = LEVELS) -> list[float]:
    """The quantiles the intervals' ends are: 0.025, 0.1, 0.9, 0.975 for 80% and 95%."""
    return sorted({round((1 - lv) / 2, 6) for lv in levels} | {round((1 + lv) / 2, 6)
                                                               for lv in levels})


def combined(forecasts: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    """The weighted mean of the members' (O, H) forecasts (``weights`` sum to 1)."""
    return np.sum([w * forecasts[m] for m, w in weights.items()], axis=0)


def equal(names: list[str] | tuple[str, ...]) -> dict[str, float]:
    return {m: 1.0 / len(names) for m in names}


@dataclass(frozen=True)
class Combination:
    """The members' weights, and their errors on the part that set them."""

    weights: dict[str, float]  # member -> weight, summing to 1
    mse: dict[str, float]  # member -> its mean squared error there
    mase: float  # the weighted mix's MASE there
    part: str = "validation"  # which part: calibration (.calibrate) or validation
    origins: int = 0  # how many forecast origins it held

    @property
    def members(self) -> tuple[str, ...]:
        return tuple(self.weights)

    def describe(self, network: str = "network") -> str:
        return " + ".join(f"{w:.2f} {network if m == 'network' else m}"
                          for m, w in self.weights.items())

    def to_dict(self) -> dict[str, Any]:
        return {"weights": self.weights, "mse": self.mse, "mase": self.mase, "part": self.part,
                "origins": self.origins}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Combination:
        """Also from a run written before the calibration part (``validation_mse`` ...)."""
        mse = d.get("mse", d.get("validation_mse", {}))
        return cls({k: float(v) for k, v in d["weights"].items()},
                   {k: float(v) for k, v in mse.items()},
                   float(d.get("mase", d.get("validation_mase", math.nan))),
                   str(d.get("part", "validation")), int(d.get("origins", 0)))


def inverse_mse_weights(held: dict[str, np.ndarray], actual: np.ndarray, scale: float,
                        part: str = "validation") -> Combination:
    """Weights proportional to 1 / MSE of ``held``'s members' forecasts of ``actual`` (in
    :data:`MEMBERS` order); a member that was exact takes all the weight."""
    names = [m for m in MEMBERS if m in held]
    mse = {m: float(np.mean((actual - held[m]) ** 2)) for m in names}
    exact = [m for m in names if mse[m] == 0]
    if exact:
        weights = equal(exact)
    else:
        inverse = {m: 1.0 / mse[m] for m in names}
        total = sum(inverse.values())
        weights = {m: v / total for m, v in inverse.items()}
    return Combination(weights, mse, mase(actual, combined(held, weights), scale), part,
                       len(actual))


CONFORMAL, STUDENT_T, UNBOUNDED = "conformal", "student-t", "unbounded"  # how a level was set


def conformal_ranks(n: int, level: float) -> tuple[int, int] | None:
    """The 1-based ranks, among ``n`` sorted errors, of the central ``level`` interval's ends
    with the finite-sample correction (``floor((n + 1) q_lo)``, ``ceil((n + 1) q_hi)``); None
    when ``n`` is too few for them to lie inside the sample."""
    lo = math.floor((n + 1) * round((1 - level) / 2, 6))
    hi = math.ceil((n + 1) * round((1 + level) / 2, 6))
    return (lo, hi) if 1 <= lo and hi <= n else None


def student_t_offsets(errors: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """The ``level`` prediction interval for one more of ``errors``' (n, H) rows, per column,
    the errors taken as normal: mean -/+ t_{n-1} * sd * sqrt(1 + 1/n); unbounded for n < 2."""
    n = len(errors)
    if n < 2:
        inf = np.full(errors.shape[1:], np.inf)
        return -inf, inf
    half = (stats.t.ppf((1 + level) / 2, n - 1) * errors.std(axis=0, ddof=1)
            * math.sqrt(1 + 1 / n))
    mean = errors.mean(axis=0)
    return mean - half, mean + half


@dataclass(frozen=True)
class Conformal:
    """Per-step offsets of the interval ends from the forecast, by quantile level, set from the
    calibration errors (actual - forecast): conformal quantiles where there are enough errors
    for the level, else the Student-t prediction interval (module docstring)."""

    quantiles: dict[float, list[float]]  # quantile level -> (H,) offset per step
    errors: int  # calibration origins they come from
    rule: dict[float, str] = field(default_factory=dict)  # interval level -> CONFORMAL / ...

    @classmethod
    def fit(cls, actual: np.ndarray, forecast: np.ndarray,
            levels: tuple[float, ...] = LEVELS) -> Conformal:
        errors = np.asarray(actual, dtype=float) - np.asarray(forecast, dtype=float)
        n, ordered = len(errors), np.sort(errors, axis=0)
        out: dict[float, list[float]] = {}
        rule: dict[float, str] = {}
        inner: tuple[np.ndarray, np.ndarray] | None = None
        for level in sorted(levels):
            ranks = conformal_ranks(n, level)
            if ranks is not None:
                lo, hi = ordered[ranks[0] - 1], ordered[ranks[1] - 1]
                rule[level] = CONFORMAL
            else:  # never inside the errors seen: near 39 errors their range is almost 95%
                lo, hi = student_t_offsets(errors, level)
                lo, hi = np.minimum(lo, ordered[0]), np.maximum(hi, ordered[-1])
                rule[level] = STUDENT_T if n >= 2 else UNBOUNDED
            if inner is not None:  # the wider level holds the narrower one
                lo, hi = np.minimum(lo, inner[0]), np.maximum(hi, inner[1])
            inner = (lo, hi)
            out[round((1 - level) / 2, 6)] = lo.tolist()
            out[round((1 + level) / 2, 6)] = hi.tolist()
        return cls(dict(sorted(out.items())), n, rule)

    def bounds(self, forecast: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
        """(lower, upper) of the central ``level`` interval around (..., H) forecasts."""
        lo, hi = round((1 - level) / 2, 6), round((1 + level) / 2, 6)
        return (forecast + np.asarray(self.quantiles[lo]),
                forecast + np.asarray(self.quantiles[hi]))

    def describe(self) -> str:
        """How each level's interval was set, for the command's output."""
        return ", ".join(f"{lv:.0%} {r}" for lv, r in sorted(self.rule.items()))

    def to_dict(self) -> dict[str, Any]:
        return {"quantiles": {f"{q:g}": v for q, v in self.quantiles.items()},
                "errors": self.errors, "rule": {f"{lv:g}": r for lv, r in self.rule.items()}}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Conformal:
        """Also from a run written before the rule was recorded (all conformal then)."""
        return cls({float(q): [float(x) for x in v] for q, v in d["quantiles"].items()},
                   int(d["errors"]), {float(lv): str(r) for lv, r in d.get("rule", {}).items()})


# -- intervals of a mix, and their scores ------------------------------------------------------
Bounds = dict[float, tuple[np.ndarray, np.ndarray]]  # level -> (lower, upper), each (O, H)


def quantile_average(bounds: dict[str, Bounds], weights: dict[str, float]) -> Bounds:
    """A mix's intervals: each end the weighted mean of its members' same ends (quantile
    averaging): the network's conformal ends, ETS's and ARIMA's own model-based ones. Where
    one member's interval is unbounded, so is the mix's."""
    levels = bounds[next(iter(weights))].keys()
    return {lv: (np.sum([w * bounds[m][lv][0] for m, w in weights.items()], axis=0),
                 np.sum([w * bounds[m][lv][1] for m, w in weights.items()], axis=0))
            for lv in levels}


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
