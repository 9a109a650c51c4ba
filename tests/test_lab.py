"""``lab``: every registered experiment runs in --quick mode and writes its files; where the
quick version already shows the claimed effect robustly, it is asserted."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from helpers import make_corpus, play_corpus, zipf_corpus
from lab_checks import DIRECTION, NOT_MEASURED, numbers, rows_of
from pucklab.runs import lab
from pucklab.seqmodels.lab import clipping, recall, search
from pucklab.seqmodels.lab import gradients as seqlab

SEQUENCE_EXPERIMENTS = ("vanishing-gradients", "memory-length", "gradient-clipping",
                        "regularisation", "hyperparameter-search", "sequence-classification")
RL_EXPERIMENTS = ("session-decay", "frame-difference")
BASICS_EXPERIMENTS = ("perceptron", "backprop", "activations", "initialisation",
                      "gradient-descent", "word2vec", "batch-norm", "convolution",
                      "autoencoder", "word-vectors", "next-word")


def test_experiments_are_registered_and_listed(capsys):
    found = lab.experiments()
    assert set(SEQUENCE_EXPERIMENTS) | set(RL_EXPERIMENTS) | set(BASICS_EXPERIMENTS) <= set(found)
    assert lab.main(["list"]) == 0
    out = capsys.readouterr().out
    for name in found:
        assert name in out and found[name].claim in out
    assert lab.main([]) == 2  # a usage error, like every command without its arguments
    assert capsys.readouterr().err.startswith("usage: lab EXPERIMENT")


# Quick runs of these take 15-25 s serially on 2 cores; their tasks are small one-thread runs.
PARALLEL_QUICK = ("memory-length", "autoencoder", "session-decay", "convolution")


@pytest.mark.parametrize("name", SEQUENCE_EXPERIMENTS + RL_EXPERIMENTS + BASICS_EXPERIMENTS)
def test_quick_run_writes_table_figure_and_conclusions(name, tmp_path, capsys):
    run_dir = tmp_path / name
    extra = []
    if name == "regularisation":  # a corpus of our own: CI may have no Tiny Shakespeare
        extra = ["--corpus", str(make_corpus(tmp_path / "words.txt", n=12000))]
    if name in ("word2vec", "next-word"):  # the same: a made-up language, Zipf's frequencies
        extra = ["--corpus", str(zipf_corpus(tmp_path / "zipf.txt"))]
    if name in ("sequence-classification", "word-vectors"):  # a made-up play, with speakers
        extra = ["--corpus", str(play_corpus(tmp_path / "play.txt"))]
    if name == "hyperparameter-search":  # one seed: 16 forecast runs, not 32
        extra = ["--seeds", "1"]
    if name in PARALLEL_QUICK:  # the longest quick runs spread their tasks over both cores
        extra = [*extra, "--workers", "2"]
    assert lab.main([name, "--quick", "--no-progress", "--run-dir", str(run_dir), *extra]) == 0
    out = capsys.readouterr().out
    for file in ("results.csv", "results.md", "figure.png", "config.json"):
        assert (run_dir / file).is_file(), file
    rows = rows_of(run_dir)
    assert len(rows) >= 2
    header = list(rows[0])
    md = (run_dir / "results.md").read_text()
    shown = [c for c in header if not c.endswith(("_low", "_high"))]  # intervals: mean [low, high]
    assert "| " + " | ".join(shown) + " |" in md and "| " + " | ".join(shown) + " |" in out
    assert lab.experiments()[name].claim in md
    body, _, provenance = md.partition("## Provenance")
    assert f"command: `lab {name} --quick --no-progress" in provenance and "seeds: `" in provenance
    conclusions = [line for line in body.splitlines() if line.startswith("- ")]
    assert conclusions and all(any(ch.isdigit() for ch in c) for c in conclusions)
    one_seed = "--seeds" in extra or lab.experiments()[name].settings(quick=True).resolved(
    ).seeds == 1
    for row in rows:  # every number is finite or an explicit "never reached" (inf) / nan "-"
        for key, value in numbers(row).items():  # (one seed gives no interval: nan bounds)
            base = key.removesuffix("_low").removesuffix("_high")
            assert math.isfinite(value) or math.isinf(value) or base in NOT_MEASURED or (
                one_seed and base != key), (key, value)
    assert (run_dir / "figure.png").stat().st_size > 10_000
    by_first_column = {r[header[0]]: {**r, **numbers(r)} for r in rows}
    if name == "regularisation":  # only the dropout condition drops out
        for cond, dropout in (("none", 0.0), ("dropout", 0.3), ("L1", 0.0)):
            saved = json.loads((run_dir / "tasks" / f"{cond}-seed0" / "run"
                                / "config.json").read_text())
            assert saved["settings"]["dropout"] == dropout, cond
    if name == "word2vec":
        DIRECTION[name](by_first_column, run_dir)
    elif name == "word-vectors":
        DIRECTION[name](rows, run_dir)
    else:
        DIRECTION[name](rows if name in ("memory-length", "perceptron", "initialisation",
                                         "batch-norm", "autoencoder", "sequence-classification",
                                         "word-vectors")
                       else by_first_column)


def test_batch_norm_eval_mode_is_deterministic_and_train_mode_depends_on_the_batch():
    from pucklab.seqmodels.lab import batchnorm

    settings = batchnorm.BatchNormSettings(quick=True, steps=60).resolved()
    model, _ = batchnorm.train(True, 0.1, 0, settings, torch.device("cpu"))
    modes = batchnorm.prediction_modes(model, 0, torch.device("cpu"))
    assert modes["eval_repeat"] == 0 and modes["eval_alone_vs_batch"] < 1e-4
    assert modes["single_in_train_mode"] == "refused" and modes["batch_flips"] > 0
    assert not model.training  # left as it predicts


def test_vanishing_gradients_rnn_far_below_lstm_at_distance_50():
    for seed in (0, 1):
        rnn = seqlab.gradient_norms("rnn", 60, 64, 16, 32, seed)
        lstm = seqlab.gradient_norms("lstm", 60, 64, 16, 32, seed)
        fb = seqlab.gradient_norms(seqlab.FORGET_BIAS_LABEL, 60, 64, 16, 32, seed)
        rnn_50, lstm_50, fb_50 = rnn[50] / rnn[0], lstm[50] / lstm[0], fb[50] / fb[0]
        assert rnn_50 < 0.05 * lstm_50 and lstm_50 < 1e-3 * fb_50
        assert np.all(np.diff(np.log(rnn[:40])) < 0.5)  # shrinking (not exploding) with distance


def test_gradient_norms_match_autograd_on_a_tiny_case():
    # one step back through an RNN cell: dL/dh_0 = W_hh^T (tanh' * readout), by hand
    import torch

    torch.manual_seed(3)
    norms = seqlab.gradient_norms("rnn", 2, 4, 3, 1, seed=3)
    torch.manual_seed(3)
    cell = seqlab._make_cell("rnn", 3, 4)
    x = torch.randn(2, 1, 3, dtype=torch.float64)
    readout = torch.randn(4, dtype=torch.float64)
    h0 = cell(x[0])
    pre = x[1] @ cell.weight_ih.T + cell.bias_ih + h0 @ cell.weight_hh.T + cell.bias_hh
    g1 = readout * (1 - torch.tanh(pre) ** 2)
    g0 = g1 @ cell.weight_hh
    assert norms[0] == pytest.approx(readout.norm().item())
    assert norms[1] == pytest.approx(g0.norm().item())


def test_unclipped_sgd_blows_up_where_clipped_trains(tmp_path):
    chance = math.log(recall.SYMBOLS)
    for seed in (1, 2):
        losses, norms = recall.train_clipping(0.5, 0.0, 400, 10, 64, seed, tmp_path / f"u{seed}")
        clipped, _ = recall.train_clipping(0.5, 1.0, 400, 10, 64, seed, tmp_path / f"c{seed}")
        assert np.nanmax(losses) > clipping.BLOWN_UP * chance
        assert np.nanmax(clipped) < clipping.BLOWN_UP * chance
        assert np.nanmax(norms) > 10 * np.nanmedian(norms[:100])


def test_search_trials_are_forecast_runs_and_the_grid_is_covered_once(tmp_path):
    trace = search.search("grid", 4, 0, 1, 8, tmp_path)
    points = sorted((round(t["lr"], 12), t["dropout"]) for t in trace)
    assert points == [(1e-4, 0.0), (1e-4, 0.5), (1e-1, 0.0), (1e-1, 0.5)]
    for n in range(4):  # every trial is an ordinary forecast run folder
        assert (tmp_path / "trials" / str(n) / "backtest.csv").is_file()
    assert list(search.best_so_far(trace, 6)) == sorted(search.best_so_far(trace, 6),
                                                        reverse=True)


def test_recall_batch_targets_the_first_symbol():
    import torch

    x, y = recall.recall_batch(5, 16, torch.Generator().manual_seed(0))
    assert x.shape == (16, 7, recall.SYMBOLS + recall.DISTRACTORS + 1)
    assert (x.sum(-1) == 1).all()  # one-hot at every step
    assert (x[:, 0, :recall.SYMBOLS].argmax(-1) == y).all()
    assert (x[:, 1:6, recall.SYMBOLS:-1].sum(-1) == 1).all() and (x[:, -1, -1] == 1).all()


def test_bad_input_is_one_line_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    corpus = make_corpus(tmp_path / "words.txt", n=5000)
    short = make_corpus(tmp_path / "short.txt", n=400)
    for argv, expect in ((["nosuch"], "unknown experiment"),
                         (["vanishing-gradients", "--seeds", "0"], "--seeds must be >= 1"),
                         (["vanishing-gradients", "--length", "1"], "--length must be"),
                         (["gradient-clipping", "--lr", "-1"], "--lr and --clip > 0"),
                         (["memory-length", "--lags", "-1"], "--lags must be >= 0"),
                         (["session-decay", "--gammas", "1.5"], "--gammas must lie in"),
                         (["frame-difference", "--policy", "rnn"], "--policy must be one of"),
                         (["frame-difference", "--observations", "pixels"],
                          "--observations must be one of"),
                         (["regularisation", "--chars", "10"], "--chars must be"),
                         (["regularisation", "--corpus", str(corpus), "--chars", "99999"],
                          "more than the corpus holds"),
                         (["perceptron", "--hidden", "0"], "--steps and --hidden must be"),
                         (["gradient-descent", "--epochs", "0"], "--epochs must be >= 1"),
                         (["memory-length", "--steps", "0"], "--steps and --hidden >= 1"),
                         (["word2vec", "--little", "0"], "--little must lie in (0, 1]"),
                         (["word2vec", "--corpus", str(short)], "word vectors need 1,000"),
                         (["backprop", "--device", "tpu"], "--device must be one of"),
                         (["vanishing-gradients", "--bogus"], "unrecognized arguments")):
        capsys.readouterr()
        assert lab.main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and expect in err and "Traceback" not in err, err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_session_decay_runs_are_real_train_agent_runs(tmp_path):
    run_dir = tmp_path / "sd"
    assert lab.main(["session-decay", "--quick", "--gammas", "1.0", "0.9", "--seeds", "1",
                     "--no-progress", "--run-dir", str(run_dir)]) == 0
    rows = rows_of(run_dir)
    assert [float(r["gamma"]) for r in rows] == [1.0, 0.9]
    for gamma in ("1", "0.9"):
        sub = run_dir / "tasks" / f"gamma{gamma}-seed0" / "run"
        assert (sub / "metrics.csv").is_file() and (sub / "checkpoints" / "last.pt").is_file()
    for r in rows:
        assert float(r["grad_rel_variance_init"]) > 0 and float(r["grad_rel_variance_trained"]) > 0


def test_frame_difference_runs_see_what_they_say(tmp_path):
    """Each condition is a train-agent run whose policy took that observation's shape."""
    from pucklab.runs.store import load_checkpoint

    run_dir = tmp_path / "fd"
    assert lab.main(["frame-difference", "--quick", "--observations", "frames2", "difference",
                     "--seeds", "1", "--no-progress", "--run-dir", str(run_dir)]) == 0
    assert [r["observation"] for r in rows_of(run_dir)] == ["frames2", "difference"]
    for observation, channels in (("frames2", 2), ("difference", 1)):
        state = load_checkpoint(run_dir / "tasks" / f"{observation}-seed0" / "run")
        assert state["policy_args"]["obs_shape"] == [channels, 80, 80]
