"""Choosing the differencing and the lookback on the validation part.

A unit-root test says whether a series *has* a trend; it does not say which transformation makes
the network forecast best (on a stably seasonal monthly series the seasonal difference the tests
chose made the network lose to every alternative). The course's method decides instead: train
on the training part, score on the validation part, keep the best. So by default:

1. every differencing the series can afford (none, first, and with a season: seasonal, both;
   the hybrid's deseasoned kinds only when ``--difference`` asks for them) is trained at the
   default lookback ``max(3 x H, 2 x season)``; the tests'
   (:mod:`~pucklab.seqmodels.forecast.differencing`) choice goes first and wins ties;
2. for the best of them, a half and a double lookback are trained too;
3. the candidate whose networks (the first ``--select-seeds`` seeds, averaged) have the
   lowest validation MASE is chosen.

The score is MASE on the original scale (differencings are compared on the values they
forecast, not on their scaled differences) over the same validation origins for every
candidate, scaled by the training part's seasonal-naive error. The test part is never looked
at. ``--difference X`` or ``--lookback N`` fix that part of the choice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pucklab.runs.result import Report, Stop
from pucklab.runs.store import RunError
from pucklab.seqmodels.forecast.differencing import Choice, choose
from pucklab.seqmodels.forecast.fit import ensemble_forecasts, fit_seeds
from pucklab.seqmodels.forecast.metrics import mase
from pucklab.seqmodels.forecast.model import Forecaster
from pucklab.seqmodels.forecast.series import Series
from pucklab.seqmodels.forecast.settings import ForecastSettings
from pucklab.seqmodels.forecast.task import Prepared, prepare
from pucklab.seqmodels.forecast.windows import SEARCHED, make_split, mase_scale
from pucklab.seqmodels.trainer import Result


@dataclass(frozen=True)
class Candidate:
    difference: str
    lookback: int

    @property
    def name(self) -> str:
        return f"{self.difference}-lookback{self.lookback}"


@dataclass
class Searched:
    """The chosen candidate, its prepared series and trained networks, and every score."""

    chosen: Candidate
    prep: Prepared
    fits: dict[int, Result]  # the chosen candidate's selection seeds
    models: dict[int, Forecaster]
    scores: dict[str, float]  # candidate name -> validation MASE, in the order trained
    tests: Choice  # what the unit-root and seasonal-strength tests suggested
    steps: int  # trainer steps over every candidate
    seed_scores: dict[str, list[float]] = field(default_factory=dict)  # each network's own

    def to_dict(self) -> dict[str, Any]:
        return {"chosen": self.chosen.name, "difference": self.chosen.difference,
                "lookback": self.chosen.lookback, "validation_mase": self.scores,
                "validation_mase_seeds": self.seed_scores, "tests": self.tests.to_dict(),
                "seeds": list(self.models)}


def default_lookback(horizon: int, season: int) -> int:
    return max(3 * horizon, 2 * season)


def candidate_folder(run_dir: Path, candidate: Candidate) -> Path:
    return run_dir / "candidates" / candidate.name


def validation_origins(prep: Prepared) -> np.ndarray:
    """Every origin whose targets lie in the validation part: the same for every candidate."""
    sp = prep.split
    return np.arange(sp.val_start - 1, sp.test_start - sp.horizon)


def _kinds(settings: ForecastSettings, series: Series, season: int, lookback: int
           ) -> tuple[list[str], Choice]:
    """The differencings to try, the tests' choice first; and that choice."""
    if settings.difference != "auto":
        return [settings.difference], Choice(settings.difference, "given by --difference")
    train_end = make_split(len(series), lookback, settings.horizon, settings.val_frac,
                           settings.test_frac).val_start
    tests = choose(series.values[:train_end], season)
    allowed = [k for k in SEARCHED if season >= 2 or k in ("none", "first")]
    return [tests.kind, *(k for k in allowed if k != tests.kind)], tests


def search(settings: ForecastSettings, series: Series, run_dir: Path, resume: bool,
           report: Report | None = None, say: Any = None) -> Searched:
    """Train and score the candidates (see the module docstring); ``say(line)`` is told each
    candidate's score as it is known."""
    season = settings.season or series.season()
    base = settings.lookback or default_lookback(settings.horizon, season)
    kinds, tests = _kinds(settings, series, season, base)
    seeds = settings.seeds[:settings.select_seeds]
    scores: dict[str, float] = {}
    seed_scores: dict[str, list[float]] = {}
    trained: dict[str, tuple[Candidate, Prepared, dict[int, Result], dict[int, Forecaster]]] = {}
    steps = 0

    def score(candidate: Candidate) -> None:
        nonlocal steps
        try:
            prep = prepare(settings.replace(difference=candidate.difference,
                                            lookback=candidate.lookback), series)
        except RunError:
            return  # too short for this differencing or lookback: not a candidate
        origins = validation_origins(prep)
        if prep.split.offset + prep.lookback > origins[0] + 1:
            return  # its first window would start before the series: not comparable
        fits, models = fit_seeds(settings, prep, candidate_folder(run_dir, candidate), seeds,
                                 resume, report, steps)
        steps += sum(f.steps for f in fits.values())
        if not models or list(fits.values())[-1].stopped is Stop.NON_FINITE:
            return
        each = ensemble_forecasts(models, prep, origins)
        actual = np.stack([prep.y[t + 1:t + 1 + settings.horizon] for t in origins])
        scale = train_scale(prep, season)
        scores[candidate.name] = mase(actual, np.mean(list(each.values()), axis=0), scale)
        seed_scores[candidate.name] = [mase(actual, f, scale) for f in each.values()]
        trained[candidate.name] = (candidate, prep, fits, models)
        if say is not None:
            say(f"candidate {candidate.name}: validation MASE {scores[candidate.name]:.4f} "
                f"(each network: {', '.join(f'{v:.4f}' for v in seed_scores[candidate.name])})")

    for kind in kinds:
        score(Candidate(kind, base))
    if settings.lookback is None and scores:
        best_kind = trained[min(scores, key=scores.__getitem__)][0].difference
        for lookback in (max(settings.horizon, base // 2), 2 * base):
            if lookback != base:
                score(Candidate(best_kind, lookback))
    if not scores:
        # nothing could be scored (a non-finite loss, or a series too short for any
        # candidate): train the forced or the tests' choice as it is, as before
        prep = prepare(settings.replace(difference=kinds[0], lookback=base), series)
        fits, models = fit_seeds(settings, prep, candidate_folder(run_dir, Candidate(
            kinds[0], base)), seeds, resume, report, steps)
        return Searched(Candidate(kinds[0], base), prep, fits, models, scores, tests,
                        steps + sum(f.steps for f in fits.values()), seed_scores)
    best = min(scores, key=scores.__getitem__)  # the first of equals: the tests' choice
    candidate, prep, fits, models = trained[best]
    return Searched(candidate, prep, fits, models, scores, tests, steps, seed_scores)


def train_scale(prep: Prepared, season: int) -> float:
    """The training part's seasonal-naive error (validation MASE's scale); the run's own scale
    when the training part alone cannot give one."""
    try:
        return mase_scale(prep.y[:prep.split.val_start], season)
    except RunError:
        return prep.scale
