"""Intervals over seeds and the one decision rule every lab verdict and benchmark table uses.

A claim compares conditions measured over seeds. Each condition's mean gets a 95 % interval,
and each comparison the claim makes gets an interval of the difference, from which one rule
decides:

- **held** when the interval of the difference excludes 0 in the claimed direction;
- **did not hold** when it excludes 0 the other way;
- **inconclusive at N seeds** otherwise.

Intervals:

- :func:`interval`, a condition's mean over seeds: Student's *t* interval;
- :func:`difference`, a comparison: the per-seed difference's *t* interval where the
  conditions share seeds (paired), Welch's where they do not, a one-sample *t* interval
  against a constant such as chance;
- :func:`iqm`, the interquartile mean with a bootstrap interval (``scipy.stats.bootstrap``,
  a fixed resampling seed so the same numbers give the same interval), for RL scores
  (rliable's recommendation: robust to one outlying seed, more precise than the median).

Why *t* and not a bootstrap for means: at the 2-10 seeds a lab can afford, a bootstrap
resamples too few values to see the tails, and its intervals cover well under 95 % (two seeds
give little more than the two values' range); the *t* interval is exact for normal errors and
widens honestly as N falls, so a verdict errs towards "inconclusive".

:func:`sanity` flags numbers that cannot be right before anyone publishes them: a score beyond
chance in the wrong direction, a baseline that beats an oracle, an interval without its mean.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np
from scipy import stats as sps

CONFIDENCE = 0.95
RESAMPLES = 9999
_RESAMPLING_SEED = 0  # intervals are reproducible: same numbers, same interval


@dataclass(frozen=True)
class Interval:
    """A mean with its confidence interval over ``n`` values (bounds are nan when ``n`` < 2)."""

    mean: float
    low: float
    high: float
    n: int

    def format(self, spec: str = ".3g") -> str:
        """``mean [low, high]``; just the mean when there is no interval."""
        if math.isnan(self.low) or math.isnan(self.high):
            return format(self.mean, spec)
        return f"{self.mean:{spec}} [{self.low:{spec}}, {self.high:{spec}}]"

    def __str__(self) -> str:
        return self.format()

    def excludes(self, value: float) -> bool:
        """Whether the whole interval lies on one side of ``value`` (never when bounds are nan)."""
        return self.low > value or self.high < value


def _values(values: Sequence[float]) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1 or len(array) == 0:
        raise ValueError(f"need a non-empty list of numbers, got shape {array.shape}")
    return array


def _degenerate(array: np.ndarray) -> Interval | None:
    """One value, or all equal: the interval is that value (or unknown for one)."""
    mean = float(array.mean())
    if len(array) < 2:
        return Interval(mean, math.nan, math.nan, len(array))
    if np.all(array == array[0]):
        return Interval(mean, mean, mean, len(array))
    return None


def interval(values: Sequence[float], confidence: float = CONFIDENCE) -> Interval:
    """The mean of ``values`` (one per seed) with its Student *t* interval."""
    return _t_interval(_values(values), confidence)


def difference(a: Sequence[float], b: Sequence[float] | float, *, paired: bool = True,
               confidence: float = CONFIDENCE) -> Interval:
    """The interval of mean(a) - mean(b).

    Args:
        a: One value per seed.
        b: One value per seed, or a constant (chance, a threshold).
        paired: ``a[i]`` and ``b[i]`` come from the same seed (the conditions share seeds and
            data): the interval of the per-seed difference. Otherwise Welch's interval.
        confidence: The interval's level.
    """
    x = _values(a)
    if isinstance(b, (int, float)):
        return _t_interval(x - float(b), confidence)
    y = _values(b)
    if paired:
        if len(x) != len(y):
            raise ValueError(f"paired values need as many seeds each, got {len(x)} and {len(y)}")
        return _t_interval(x - y, confidence)
    mean = float(x.mean() - y.mean())
    n = min(len(x), len(y))
    if len(x) < 2 or len(y) < 2:
        return Interval(mean, math.nan, math.nan, n)
    if np.all(x == x[0]) and np.all(y == y[0]):
        return Interval(mean, mean, mean, n)
    ci = sps.ttest_ind(x, y, equal_var=False).confidence_interval(confidence)
    return Interval(mean, float(ci.low), float(ci.high), n)


def _t_interval(d: np.ndarray, confidence: float) -> Interval:
    if (fixed := _degenerate(d)) is not None:
        return fixed
    ci = sps.ttest_1samp(d, 0.0).confidence_interval(confidence)
    return Interval(float(d.mean()), float(ci.low), float(ci.high), len(d))


def iqm(values: Sequence[float], confidence: float = CONFIDENCE) -> Interval:
    """The interquartile mean (the mean of the middle half, ``scipy.stats.trim_mean`` at 25 %)
    with a percentile bootstrap interval."""
    array = _values(values)
    mean = float(sps.trim_mean(array, 0.25))
    if (fixed := _degenerate(array)) is not None:
        return Interval(mean, fixed.low, fixed.high, fixed.n)
    result = sps.bootstrap((array,), lambda x, axis: sps.trim_mean(x, 0.25, axis=axis),
                           confidence_level=confidence, n_resamples=RESAMPLES,
                           method="percentile", random_state=np.random.default_rng(_RESAMPLING_SEED))
    ci = result.confidence_interval
    return Interval(mean, float(ci.low), float(ci.high), len(array))


class Verdict(str, Enum):
    """What the rule decided. A ``str`` enum: its value is what tables print."""

    HELD = "held"
    NOT_HELD = "did not hold"
    INCONCLUSIVE = "inconclusive"

    def __str__(self) -> str:
        return self.value


def decide(diff: Interval, higher: bool = True) -> Verdict:
    """The rule, on the interval of a difference the claim says is above 0 (``higher``) or
    below 0: held when the interval excludes 0 on the claimed side, did not hold when it
    excludes 0 on the other, inconclusive otherwise (also when there is no interval)."""
    low, high = (diff.low, diff.high) if higher else (-diff.high, -diff.low)
    if low > 0:
        return Verdict.HELD
    if high < 0:
        return Verdict.NOT_HELD
    return Verdict.INCONCLUSIVE


def verdict_text(diff: Interval, higher: bool = True, spec: str = ".3g") -> str:
    """``held (difference 0.031 [0.012, 0.05], N = 5)``; inconclusive says at how many seeds."""
    verdict = decide(diff, higher)
    said = f"inconclusive at {diff.n} seeds" if verdict is Verdict.INCONCLUSIVE else str(verdict)
    return f"{said} (difference {diff.format(spec)}, N = {diff.n})"


@dataclass(frozen=True)
class Claim:
    """One comparison a claim makes, with the interval of its difference and the rule's verdict.

    ``text`` says what is claimed ("skip-gram scores higher than CBOW on rare words");
    ``diff`` is the interval of (claimed higher) - (claimed lower), or of a quantity the claim
    says is below 0 when ``higher`` is False.
    """

    text: str
    diff: Interval
    higher: bool = True

    @property
    def verdict(self) -> Verdict:
        return decide(self.diff, self.higher)

    def sentence(self, spec: str = ".3g") -> str:
        return f"{self.text}: {verdict_text(self.diff, self.higher, spec)}."


def sanity(*, score: tuple[str, Sequence[float]] | None = None, chance: float | None = None,
           higher_is_better: bool = True, baseline: tuple[str, Interval] | None = None,
           oracle: tuple[str, Interval] | None = None,
           intervals: Sequence[tuple[str, Interval]] = ()) -> list[str]:
    """Warnings about numbers that cannot be right; an empty list when nothing is wrong.

    Args:
        score: A named score's values over seeds, held against ``chance``: flagged when the
            interval of (score - chance) lies wholly on the wrong side of 0 (a model worse than
            guessing points to a bug in the score, the data or the model before it points to a
            finding).
        chance: What guessing scores.
        higher_is_better: The score's direction.
        baseline: A named baseline, flagged when its whole interval lies above ``oracle``'s
            (an oracle bounds what any method can reach; a baseline beyond it is a bug).
        oracle: A named oracle (an upper bound: the true model, the Bayes rule, all labels).
        intervals: Named intervals that must contain their own means.
    """
    flags = []
    if score is not None and chance is not None:
        name, values = score
        if decide(difference(values, chance), higher_is_better) is Verdict.NOT_HELD:
            flags.append(f"{name}: {interval(values).format()} is beyond chance ({chance:g}) in "
                         "the wrong direction; look for a bug in the score, the sampling or the "
                         "model")
    if baseline is not None and oracle is not None:
        (bname, biv), (oname, oiv) = baseline, oracle
        if biv.low > oiv.high:
            flags.append(f"{bname} ({biv.format()}) beats the oracle {oname} ({oiv.format()}); "
                         "an oracle bounds every method, so one of them is wrong")
    for name, iv in intervals:
        if not (math.isnan(iv.low) or iv.low <= iv.mean <= iv.high):
            flags.append(f"{name}: the interval [{iv.low:.3g}, {iv.high:.3g}] does not contain "
                         f"its own mean {iv.mean:.3g}")
    return flags
