"""``sweep`` on Optuna: every command, grids, seeds, pruning, bad spaces, continuing, workers."""

from __future__ import annotations

import csv
from pathlib import Path

import optuna
import pytest

from helpers import make_corpus
from pucklab.runs.cli import parse_run_args
from pucklab.runs.store import load_checkpoint
from pucklab.runs.sweep import main
from pucklab.runs.sweep_study import SweepConfig, trainables
from pucklab.runs.sweep_trial import WARMUP_REPORTS, objective

# one network per trial (no search of its own over differencing and lookback)
FORECAST = ["--fixed", "dataset=sunspots", "horizon=5", "epochs=3", "progress=false",
            "baselines=naive", "seeds=[0]", "difference=none", "lookback=15"]


def results(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "results.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_every_command_sweeps_and_its_best_settings_load_with_config(tmp_path, capsys):
    corpus = make_corpus(tmp_path / "words.txt")
    cases = {
        "forecast": [*FORECAST, "--param", "hidden=choice:8,16"],
        "char-rnn": ["--fixed", f"corpus={corpus}", "hidden=16", "layers=1", "seq_len=16",
                     "batch_size=8", "max_steps=12", "eval_every=6", "progress=false",
                     "--param", "lr=log:1e-3:1e-2"],
        "train-agent": ["--fixed", "env_kwargs={'obs_type': 'state'}", "batch_sessions=8",
                        "eval_sessions=8", "eval_every=1", "video_sessions=0",
                        "total_steps=800", "progress=false",
                        "--param", "entropy=0:0.05"],
    }
    for command, argv in cases.items():
        run_dir = tmp_path / command
        assert main([command, *argv, "--trials", "2", "--run-dir", str(run_dir)]) == 0
        table = results(run_dir)
        assert [r["trial"] for r in table] == ["0", "1"], command
        metric = trainables()[command].metric
        assert all(r["state"] == "complete" and float(r[metric]) == float(r[metric])
                   for r in table)
        assert all((run_dir / r["run_dir"] / "config.json").is_file() for r in table)
        best = parse_run_args(trainables()[command].settings,
                              ["--config", str(run_dir / "best.toml")], "p", "p", "").settings
        assert best.validate() is None
        for name in ("results.md", "history.png", "sweep.json"):
            assert (run_dir / name).is_file(), (command, name)
    assert "Best: trial" in capsys.readouterr().out


def test_grid_covers_its_grid_exactly_once(tmp_path):
    run_dir = tmp_path / "grid"
    assert main(["forecast", *FORECAST, "--param", "hidden=choice:8,16", "--param",
                 "lr=log:1e-3:1e-2", "--grid-points", "2", "--sampler", "grid",
                 "--trials", "10", "--pruner", "none", "--run-dir", str(run_dir)]) == 0
    pairs = [(r["hidden"], float(r["lr"])) for r in results(run_dir)]
    assert sorted(pairs) == sorted((h, lr) for h in ("8", "16") for lr in (1e-3, 1e-2))


def test_same_seed_same_suggestions(tmp_path):
    argv = ["forecast", *FORECAST, "--param", "lr=log:1e-4:1e-1", "--param",
            "hidden=4:64:4", "--sampler", "random", "--trials", "2", "--pruner", "none"]
    for name, seed in (("a", "3"), ("b", "3"), ("c", "4")):
        assert main([*argv, "--seed", seed, "--run-dir", str(tmp_path / name)]) == 0
    params = {n: [(r["lr"], r["hidden"]) for r in results(tmp_path / n)] for n in "abc"}
    assert params["a"] == params["b"] and params["a"] != params["c"]
    assert all(int(h) % 4 == 0 and 4 <= int(h) <= 64 for _, h in params["a"])


class PruneAll(optuna.pruners.BasePruner):
    def prune(self, study, trial):
        return True


def test_the_pruner_stops_a_trial_through_report_with_its_checkpoint_written(tmp_path):
    assert main(["forecast", *FORECAST, "--param", "hidden=choice:8", "--trials", "1",
                 "--run-dir", str(tmp_path / "s")]) == 0
    cfg = SweepConfig.load(tmp_path / "s")
    study = optuna.create_study(direction="minimize", pruner=PruneAll())
    study.optimize(objective(cfg, trainables()["forecast"], tmp_path / "p"), n_trials=1)
    (trial,) = study.trials
    assert trial.state == optuna.trial.TrialState.PRUNED
    # judged from the third report on (the warm-up): pruned at the end of the first seed's epoch 3
    steps = sorted(trial.intermediate_values)
    assert len(steps) == WARMUP_REPORTS
    (seed_dir,) = (tmp_path / "p" / "trials" / "0").glob("candidates/*/seed-0")  # the first
    assert load_checkpoint(seed_dir)["counters"]["step"] == steps[-1]
    assert not (tmp_path / "p" / "trials" / "0" / "backtest.csv").exists()


@pytest.mark.parametrize("argv, message", [
    (["--param", "learning_rate=0:1"], "unknown setting 'learning_rate'"),
    (["--param", "lr=1e-2:1e-3"], "low > high"),
    (["--param", "lr=log:0:1e-2"], "log range needs low > 0"),
    (["--param", "hidden=choice:"], "empty choice"),
    (["--param", "hidden=1.5:8"], "give whole numbers"),
    (["--param", "lr"], "name=spec"),
    ([], "nothing to search"),
    (["--param", "lr=0:1", "--sampler", "bayes"], "--sampler must be one of"),
    (["--param", "lr=0:1", "--fixed", "colour=red"], "--fixed: unknown setting"),
    (["--param", "lr=0:1", "--fixed", "lr=0.1"], "both fixed and searched"),
])
def test_bad_spaces_are_one_line_and_run_no_trial(argv, message, tmp_path, capsys,
                                                  monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["forecast", *argv, "--run-dir", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert not (tmp_path / "bad").exists()


def test_a_sweep_run_again_on_its_folder_continues(tmp_path):
    argv = ["forecast", *FORECAST, "--param", "lr=log:1e-3:1e-2", "--sampler", "random",
            "--pruner", "none", "--run-dir", str(tmp_path / "s")]
    assert main([*argv, "--trials", "2"]) == 0
    first = results(tmp_path / "s")
    assert main([*argv, "--trials", "3"]) == 0
    again = results(tmp_path / "s")
    assert len(again) == 3 and again[:2] == first


def test_two_workers_on_the_embedded_storage_run_every_trial_once(tmp_path):
    run_dir = tmp_path / "w"
    assert main(["forecast", "--fixed", "dataset=sunspots", "horizon=5", "epochs=25",
                 "patience=0", "progress=false", "baselines=naive", "seeds=[0]",
                 "difference=none", "lookback=15", "--param",
                 "lr=log:1e-3:1e-2", "--sampler", "random", "--pruner", "none", "--trials", "6",
                 "--workers", "2", "--run-dir", str(run_dir)]) == 0
    table = results(run_dir)
    assert sorted(int(r["trial"]) for r in table) == list(range(6))
    assert all(r["state"] == "complete" for r in table)
    assert len({r["run_dir"] for r in table}) == 6 and len({r["lr"] for r in table}) == 6
    study = optuna.load_study(study_name="sweep", storage=f"sqlite:///{run_dir / 'study.db'}")
    assert len({t.user_attrs["worker"] for t in study.trials}) == 2  # both workers ran trials


def test_coarse_to_fine_narrows_around_the_best_trials(tmp_path):
    run_dir = tmp_path / "c2f"
    assert main(["forecast", *FORECAST, "--param", "lr=log:1e-4:1e-1", "--param",
                 "hidden=choice:4,8,16", "--sampler", "coarse-to-fine", "--pruner", "none",
                 "--trials", "9", "--run-dir", str(run_dir)]) == 0
    study = optuna.load_study(study_name="sweep", storage=f"sqlite:///{run_dir / 'study.db'}")
    trials = sorted(study.trials, key=lambda t: t.number)
    assert [t.user_attrs["stage"] for t in trials] == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    for t in trials[3:]:
        low, high = t.user_attrs["ranges"]["lr"]
        assert 1e-4 <= low <= t.params["lr"] <= high <= 1e-1
        assert high / low < 1e-1 / 1e-4  # narrower than the whole space
        assert "hidden" not in t.user_attrs["ranges"]  # a choice stays whole
    assert "stage 1:" in (run_dir / "results.md").read_text()


def test_fixed_text_settings_keep_their_text():
    """``--fixed difference=none``: a text setting whose value reads like a literal stays text
    (an optional one still takes none as None)."""
    from pucklab.runs.search_space import fixed_settings
    from pucklab.seqmodels.forecast.settings import ForecastSettings

    fixed = fixed_settings(["difference=none", "column=none", "seeds=3"], ForecastSettings)
    assert fixed == {"difference": "none", "column": None, "seeds": [3]}


def test_two_workers_taking_trials_as_they_free_up_run_exactly_the_budget(tmp_path):
    """Trials of a few steps, so the two workers ask for the last ones at the same moments: a
    file lock around the ask keeps the total exact while neither has a fixed share."""
    run_dir = tmp_path / "race"
    assert main(["forecast", *FORECAST, "--param", "lr=log:1e-3:1e-2", "--sampler", "random",
                 "--pruner", "none", "--trials", "10", "--workers", "2",
                 "--run-dir", str(run_dir)]) == 0
    study = optuna.load_study(study_name="sweep", storage=f"sqlite:///{run_dir / 'study.db'}")
    assert len(study.trials) == 10 and all(t.state.name == "COMPLETE" for t in study.trials)
