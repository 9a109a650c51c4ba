"""The one run API: ``run(settings, run_dir, *, report, resume) -> RunResult`` for every command.

A ``report`` callback that raises stops the run with its checkpoint written; ``resume=True``
then finishes it, and the finished run equals one that was never stopped.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import make_corpus
from pucklab.agents import AgentSettings
from pucklab.agents import run as run_agent
from pucklab.runs.result import RunResult
from pucklab.runs.store import load_checkpoint
from pucklab.seqmodels.charrnn import CharRNNSettings
from pucklab.seqmodels.charrnn import run as run_charrnn
from pucklab.seqmodels.forecast import ForecastSettings
from pucklab.seqmodels.forecast import run as run_forecast


class Prune(Exception):
    """What a sweep's pruner would raise from report()."""


def stop_at(calls: int, seen: list[tuple[int, dict]]):
    def report(step, metrics):
        seen.append((step, dict(metrics)))
        if len(seen) == calls:
            raise Prune(step)
    return report


def column(run_dir: Path, name: str) -> list[str]:
    with open(run_dir / "metrics.csv", newline="") as f:
        return [r[name] for r in csv.DictReader(f) if r[name] != ""]


def test_train_agent_report_stops_cleanly_and_resume_equals_a_straight_run(tmp_path):
    settings = AgentSettings(env_kwargs={"obs_type": "state"}, batch_sessions=16,
                             eval_sessions=16, eval_every=1, video_sessions=0, lr=1e-2, seed=3,
                             total_steps=4 * 16 * 50 - 1, progress=False)
    straight = run_agent(settings, tmp_path / "straight")
    assert isinstance(straight, RunResult) and straight.stopped == "done"
    assert 0 <= straight.metrics["eval_win_rate"] <= 1 and straight.metrics["updates"] == 4
    seen: list[tuple[int, dict]] = []
    with pytest.raises(Prune):
        run_agent(settings, tmp_path / "split", report=stop_at(2, seen))
    assert [s for s, _ in seen] == [int(r) for r in column(tmp_path / "split", "env_steps")[:2]]
    assert {"eval_win_rate", "win_rate", "loss"} <= set(seen[0][1])
    state = load_checkpoint(tmp_path / "split")  # written when report raised
    assert state["counters"]["updates"] == 2 and state["written_by"]["command"] == "train-agent"
    resumed = run_agent(settings, tmp_path / "split", resume=True)
    assert resumed.metrics["updates"] == 4
    assert column(tmp_path / "split", "loss") == column(tmp_path / "straight", "loss")
    assert resumed.metrics["eval_win_rate"] == straight.metrics["eval_win_rate"]


def test_char_rnn_report_stops_cleanly_and_resume_equals_a_straight_run(tmp_path):
    corpus = make_corpus(tmp_path / "words.txt")
    settings = CharRNNSettings(corpus=str(corpus), hidden=32, layers=1, embed=16, seq_len=16,
                               batch_size=8).replace(max_steps=30, eval_every=10,
                                                     progress=False)
    straight = run_charrnn(settings, tmp_path / "straight")
    assert straight.metrics["steps"] == 30 and straight.stopped == "done"
    assert straight.metrics["best_val_loss"] <= straight.metrics["val_loss"] + 1e-12
    seen: list[tuple[int, dict]] = []
    with pytest.raises(Prune):
        run_charrnn(settings, tmp_path / "split", report=stop_at(1, seen))
    assert seen[0][0] == 10 and seen[0][1]["val_loss"] > 0
    assert load_checkpoint(tmp_path / "split")["counters"]["step"] == 10
    resumed = run_charrnn(settings, tmp_path / "split", resume=True)
    assert resumed.metrics["val_loss"] == pytest.approx(straight.metrics["val_loss"], rel=1e-6)
    assert column(tmp_path / "split", "train_loss") == column(tmp_path / "straight",
                                                             "train_loss")


def test_forecast_report_stops_cleanly_and_resume_equals_a_straight_run(tmp_path):
    t = np.arange(160)
    y = 10 + 3 * np.sin(2 * np.pi * t / 20) + np.random.default_rng(0).normal(0, 0.1, 160)
    pd.DataFrame({"t": t, "y": y}).to_csv(tmp_path / "s.csv", index=False)
    settings = ForecastSettings(csv=str(tmp_path / "s.csv"), column="y", horizon=5, lookback=12,
                                hidden=16, batch_size=16, seeds=[0, 1],
                                baselines=["naive", "drift"]).replace(epochs=4, progress=False)
    straight = run_forecast(settings, tmp_path / "straight")
    assert set(straight.table) == {"default", "lstm", "combination", "naive", "drift"}
    assert straight.metrics["val_loss"] > 0 and straight.metrics["val_mase"] > 0
    assert straight.metrics["test_mase"] == straight.table["default"]["mase"]
    seen: list[tuple[int, dict]] = []
    with pytest.raises(Prune):
        run_forecast(settings, tmp_path / "split", report=stop_at(6, seen))
    assert [m["seed"] for _, m in seen] == [0.0] * 4 + [1.0] * 2  # 4 epochs of seed 0, then 1
    assert [s for s, _ in seen] == sorted(s for s, _ in seen)  # steps count on across seeds
    assert not (tmp_path / "split" / "backtest.csv").exists()
    first = next((tmp_path / "split" / "candidates").iterdir())  # the first candidate's
    assert load_checkpoint(first / "seed-1")["counters"]["step"] == seen[-1][0] - seen[3][0]
    resumed = run_forecast(settings, tmp_path / "split", resume=True)
    assert resumed.table == straight.table


def test_settings_of_another_command_are_refused(tmp_path):
    settings = AgentSettings(env_kwargs={"obs_type": "state"}, batch_sessions=8, eval_sessions=8,
                             video_sessions=0, total_steps=1, progress=False)
    run_agent(settings, tmp_path / "agent")
    config = json.loads((tmp_path / "agent" / "config.json").read_text())
    assert config["command"] == "train-agent" and config["settings"]["batch_sessions"] == 8
    from pucklab.runs.store import RunError
    from pucklab.seqmodels.charrnn.runner import saved_settings

    with pytest.raises(RunError, match="not a char-rnn run .it is a train-agent run"):
        saved_settings(tmp_path / "agent")
    with pytest.raises(RunError, match="already holds a run"):
        run_agent(settings, tmp_path / "agent")


def test_a_folder_in_use_by_a_run_is_refused_and_left_alone(tmp_path):
    """Two runs into one folder at once: the second is refused while the first holds it (an
    flock, which the OS also releases when a process dies), whatever the command."""
    from pucklab.runs.store import RunError, run_lock

    corpus = make_corpus(tmp_path / "words.txt")
    pd.DataFrame({"y": np.sin(np.arange(120) / 4)}).to_csv(tmp_path / "s.csv", index=False)
    runs = {
        "agent": lambda d, **kw: run_agent(AgentSettings(
            env_kwargs={"obs_type": "state"}, batch_sessions=8, eval_sessions=8,
            video_sessions=0, total_steps=1, progress=False), d, **kw),
        "char": lambda d, **kw: run_charrnn(CharRNNSettings(
            corpus=str(corpus), hidden=8, layers=1, embed=4, seq_len=8,
            batch_size=4).replace(max_steps=2, progress=False), d, **kw),
        "forecast": lambda d, **kw: run_forecast(ForecastSettings(
            csv=str(tmp_path / "s.csv"), column="y", horizon=3, lookback=6, hidden=4,
            baselines=["naive"]).replace(epochs=1, progress=False), d, **kw),
    }
    for name, start in runs.items():
        folder = tmp_path / name
        folder.mkdir()
        with run_lock(folder, new=True):  # as a run in another process would
            with pytest.raises(RunError, match="in use by another run"):
                start(folder)
            assert not (folder / "config.json").exists()
        assert start(folder).run_dir == folder  # free again: it runs
        config = (folder / "config.json").read_text()
        with run_lock(folder, new=False), pytest.raises(RunError, match="in use"):
            start(folder, resume=True)  # a resume while a run holds the folder
        assert (folder / "config.json").read_text() == config
