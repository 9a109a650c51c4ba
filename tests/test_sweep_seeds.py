"""``sweep --seeds K``: a trial is K seed runs; its value is their mean, the pruner judges the
mean, and the seed runs of a trial are shared out between workers, each run once."""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path

import optuna
import pytest

from pucklab.runs import sweep_seeds
from pucklab.runs.provenance import status
from pucklab.runs.result import RunResult
from pucklab.runs.settings import Settings, seed_setting, setting
from pucklab.runs.sweep import main
from pucklab.runs.sweep_study import SweepConfig, Trainable, make_storage, storage_url
from pucklab.runs.sweep_trial import WARMUP_REPORTS

FORECAST = ["--fixed", "dataset=sunspots", "horizon=5", "progress=false", "baselines=naive",
            "seeds=[0]", "difference=none", "lookback=15", "patience=0"]


def queue_of(run_dir: Path, name: str = "sweep") -> list[optuna.trial.FrozenTrial]:
    storage = f"sqlite:///{run_dir / 'study.db'}"
    return optuna.load_study(study_name=name + sweep_seeds.QUEUE_SUFFIX, storage=storage).trials


def test_two_seeds_give_each_trial_two_run_folders_and_their_mean(tmp_path):
    run_dir = tmp_path / "s"
    assert main(["forecast", *FORECAST, "epochs=3", "--param", "lr=log:1e-3:1e-2",
                 "--sampler", "random", "--pruner", "none", "--trials", "2", "--seeds", "2",
                 "--run-dir", str(run_dir)]) == 0
    study = optuna.load_study(study_name="sweep", storage=f"sqlite:///{run_dir / 'study.db'}")
    runs = queue_of(run_dir)
    assert sorted((r.user_attrs["trial"], r.user_attrs["seed"]) for r in runs) == [
        (0, 0), (0, 1), (1, 0), (1, 1)]
    for trial in study.trials:
        values = {r.user_attrs["seed"]: r.value for r in runs
                  if r.user_attrs["trial"] == trial.number}
        assert trial.state == optuna.trial.TrialState.COMPLETE
        assert trial.value == pytest.approx(statistics.fmean([values[0], values[1]]))
        assert trial.user_attrs["seed_values"] == [values[0], values[1]]
        assert values[0] != values[1]  # different seeds, different networks
        for k, seeds in ((0, [0]), (1, [1])):  # forecast's ensemble seeds move past each other
            config = json.loads((run_dir / "trials" / str(trial.number) / f"seed-{k}" /
                                 "config.json").read_text())
            assert config["settings"]["seeds"] == seeds
            assert config["settings"]["lr"] == trial.params["lr"]
    table = (run_dir / "results.csv").read_text().splitlines()
    assert table[0].split(",")[:6] == ["trial", "state", "lr", "val_loss", "seed_std",
                                       "seed_values"]
    assert "the mean of 2 seed runs per trial" in (run_dir / "results.md").read_text()
    # results.md carries the sweep's provenance, which lab check holds against the code
    made = status(run_dir / "results.csv")
    assert made.state == "current" and made.stamp is not None and made.stamp.seeds == "0 1"
    assert made.stamp.command.startswith("sweep forecast --fixed dataset=sunspots")
    assert "--run-dir" not in made.stamp.command and str(tmp_path) not in made.stamp.command


@dataclass
class Ramp(Settings):
    """A run that reports ``seed + step`` at steps 1..6 (what a seed run sees)."""

    x: float = setting(0.5, "searched, unused", low=0.0, high=1.0)
    seed: int = seed_setting()


def ramp(settings: Ramp, run_dir: Path, *, report, resume=False) -> RunResult:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text("{}")
    for step in range(1, 7):
        (run_dir / "last_step").write_text(str(step))
        report(step, {"score": float(settings.seed + step)})
    return RunResult(run_dir, {"score": float(settings.seed + 6)})


class Watcher(optuna.pruners.BasePruner):
    """Records what the pruner is shown, and prunes at the first look."""

    def __init__(self) -> None:
        self.seen: list[dict[int, float]] = []

    def prune(self, study, trial) -> bool:
        self.seen.append(dict(trial.intermediate_values))
        return True


def test_the_pruner_judges_the_mean_of_the_seed_runs(tmp_path):
    cfg = SweepConfig("ramp", [{"name": "x", "kind": "float", "low": 0.0, "high": 1.0}], {},
                      trials=1, sampler="random", metric="score", direction="maximize", seeds=2)
    trainable = Trainable("ramp", Ramp, ramp, "score", "maximize", ("score",), lambda s: None)
    watcher = Watcher()
    study = optuna.create_study(study_name=cfg.study, direction="maximize", pruner=watcher,
                                storage=make_storage(storage_url(tmp_path, "")))
    sweep_seeds.work(cfg, tmp_path, study, trainable)
    (trial,) = study.trials
    assert trial.state == optuna.trial.TrialState.PRUNED
    # one worker: seed run 0 ends first, then seed run 1 reports the means from step 1 on;
    # the pruner first looks at the warm-up's last report and sees means only
    means = {s: statistics.fmean([0 + s, 1 + s]) for s in range(1, WARMUP_REPORTS + 1)}
    assert watcher.seen == [means] and trial.intermediate_values == means
    assert (tmp_path / "trials" / "0" / "seed-0" / "last_step").read_text() == "6"
    assert (tmp_path / "trials" / "0" / "seed-1" / "last_step").read_text() == str(WARMUP_REPORTS)
    states = {r.user_attrs["seed"]: r.state for r in sweep_seeds.open_queue(cfg, tmp_path).trials}
    assert states == {0: optuna.trial.TrialState.COMPLETE, 1: optuna.trial.TrialState.PRUNED}


def test_a_trials_seed_runs_go_to_both_workers_and_run_once_each(tmp_path):
    run_dir = tmp_path / "w"
    assert main(["forecast", *FORECAST, "epochs=30", "--param", "lr=log:1e-3:1e-2",
                 "--sampler", "random", "--pruner", "none", "--trials", "2", "--seeds", "2",
                 "--workers", "2", "--run-dir", str(run_dir)]) == 0
    runs = queue_of(run_dir)
    done = [r for r in runs if r.state == optuna.trial.TrialState.COMPLETE]
    assert sorted((r.user_attrs["trial"], r.user_attrs["seed"]) for r in done) == [
        (0, 0), (0, 1), (1, 0), (1, 1)]
    # the first trial's two seed runs were taken by the two workers
    assert len({r.user_attrs["worker"] for r in done if r.user_attrs["trial"] == 0}) == 2
    study = optuna.load_study(study_name="sweep", storage=f"sqlite:///{run_dir / 'study.db'}")
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 2
