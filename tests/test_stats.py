"""The intervals and the decision rule on made-up numbers whose answers are known."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from pucklab.runs.stats import Interval, Verdict, decide, difference, interval, iqm, sanity, verdict_text


def test_the_rule_on_made_up_numbers():
    better = [0.61, 0.63, 0.62, 0.64, 0.60]
    worse = [0.51, 0.52, 0.50, 0.53, 0.52]
    mixed = [0.62, 0.50, 0.64, 0.49, 0.61]
    assert decide(difference(better, worse)) is Verdict.HELD
    assert decide(difference(worse, better)) is Verdict.NOT_HELD
    assert decide(difference(mixed, worse)) is Verdict.INCONCLUSIVE
    # a claim that a quantity is lower: the same interval read the other way
    assert decide(difference(worse, better), higher=False) is Verdict.HELD
    assert decide(difference(better, worse), higher=False) is Verdict.NOT_HELD
    assert verdict_text(difference(mixed, worse)).startswith("inconclusive at 5 seeds")
    assert verdict_text(difference(better, worse)).startswith("held (difference 0.104 [")


def test_one_seed_is_inconclusive_and_identical_seeds_are_exact():
    one = difference([0.9], [0.1])
    assert one.n == 1 and math.isnan(one.low) and decide(one) is Verdict.INCONCLUSIVE
    exact = difference([1.0, 1.0, 1.0], [0.0, 0.0, 0.0])
    assert (exact.low, exact.high) == (1.0, 1.0) and decide(exact) is Verdict.HELD
    assert interval([2.0, 2.0]) == Interval(2.0, 2.0, 2.0, 2)
    pair = interval([0.496, 0.497])  # two seeds: wide, not the two values' range
    assert pair.low < 0.491 and pair.high > 0.502  # t(1) = 12.7 times the half-spread
    assert interval([2.0]).format() == "2"


def test_paired_interval_is_the_t_interval_of_per_seed_differences():
    a = np.array([3.1, 2.9, 3.4, 3.0, 3.2])
    b = a - np.array([0.2, 0.1, 0.3, 0.1, 0.2])  # the same seeds: small, steady differences
    d = a - b
    half = sps.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d))
    got = difference(a, b)
    assert got.mean == pytest.approx(d.mean())
    assert (got.low, got.high) == pytest.approx((d.mean() - half, d.mean() + half))
    # unpaired, the seed-to-seed spread of a and b swamps the same 0.18
    assert decide(got) is Verdict.HELD
    assert decide(difference(a, b, paired=False)) is Verdict.INCONCLUSIVE


def test_against_a_constant_is_a_one_sample_interval():
    got = difference([0.55, 0.57, 0.56, 0.58], 0.5)
    assert got.mean == pytest.approx(0.065) and got.low > 0
    with pytest.raises(ValueError):
        difference([1.0, 2.0], [1.0])


@pytest.mark.parametrize("n", [3, 5, 30])
def test_an_interval_covers_the_true_mean_95_percent_of_the_time_even_at_few_seeds(n):
    rng = np.random.default_rng(n)
    hits = sum(not interval(rng.normal(10.0, 2.0, size=n)).excludes(10.0) for _ in range(1000))
    assert 0.93 <= hits / 1000 <= 0.97
    iv = interval([1.0, 2.0, 3.0, 4.0, 10.0])
    assert iv.low <= iv.mean <= iv.high and iv.n == 5


def test_iqm_ignores_one_outlying_seed():
    values = [0.90, 0.91, 0.92, 0.93, 0.10, 0.92, 0.91, 0.90]
    got = iqm(values)
    assert got.mean == pytest.approx(0.91) and got.n == 8  # mean of 0.90, 0.91, 0.91, 0.92
    assert got.mean > float(np.mean(values))


def test_sanity_flags_numbers_that_cannot_be_right():
    below = [0.43, 0.44, 0.44, 0.43, 0.44]
    assert sanity(score=("cbow", below), chance=0.5)  # worse than guessing: flagged
    assert not sanity(score=("cbow", [0.49, 0.52, 0.5]), chance=0.5)
    assert not sanity(score=("two seeds", [0.496, 0.497]), chance=0.5)  # too few to tell
    assert sanity(score=("error", [0.6, 0.61, 0.62]), chance=0.5, higher_is_better=False)
    oracle, good = interval([0.80, 0.81, 0.82]), interval([0.70, 0.72, 0.71])
    assert not sanity(baseline=("counts", good), oracle=("true model", oracle))
    assert sanity(baseline=("counts", interval([0.9, 0.91, 0.92])), oracle=("true model", oracle))
    broken = Interval(0.5, 0.6, 0.7, 5)
    assert sanity(intervals=[("ok", good), ("broken", broken)]) == [
        "broken: the interval [0.6, 0.7] does not contain its own mean 0.5"]
