"""What each ``lab`` experiment's quick run must show beyond its files (``tests/test_lab.py``
runs them): the direction of the result where it is robust at the quick size, else the
structure of its table; and how to read a run's results.csv."""

from __future__ import annotations

import math

import pytest

from pucklab.runs.provenance import read_rows


def rows_of(run_dir):
    return read_rows(run_dir / "results.csv")


def numbers(row):
    out = {}
    for key, value in row.items():
        try:
            out[key] = float(value)
        except ValueError:
            continue
    return out


#: Columns left empty (nan, "-") where they do not apply: a run that blew up has no final loss
#: or accuracy; saturation is for sigmoid / tanh, never-active units for the ReLUs.
NOT_MEASURED = ("final_loss", "first_blow_up_step", "saturated_at_end", "never_active_at_end",
                "dead_at_end", "unit_spread_after", "final_test_accuracy", "test_accuracy",
                "score_unseen", "score_rare", "score_medium", "score_frequent", "perplexity")


def _vanishing(by):
    for cell, r in by.items():  # every cell's gradient shrinks with the distance from the loss
        assert r["ratio_at_50"] < r["ratio_at_10"] < 1, cell
    assert by["lstm, forget bias 1"]["distance_to_1e-3"] > by["lstm"]["distance_to_1e-3"]


def _clipping(by):
    unclipped, clipped = by["no clipping"], by["clip 1"]
    assert unclipped["runs_blown_up"] == "2/2" and clipped["runs_blown_up"] == "0/2"
    assert clipped["final_loss"] < unclipped["final_loss"]
    assert clipped["max_grad_norm"] < unclipped["max_grad_norm"]


def _memory(rows):
    for r in rows:  # lag 2 is learnt by every cell, even in 300 steps
        if r["lag"] == "2":
            assert float(r["accuracy"]) >= 0.95, r
    assert {r["cell"] for r in rows} == {"rnn", "lstm", "gru", "lstm-chrono"}


def _regularisation(by):
    assert set(by) == {"none", "dropout 0.3", "L2 1e-4 (adam, coupled)",
                       "weight decay 0.1 (adamw)", "L1 1e-5", "early stopping (patience 3)"}
    for r in by.values():  # the model a run leaves is never worse than its last validation
        assert r["kept_model_val_loss"] <= r["final_val_loss"] + 1e-9
        assert r["best_val_loss"] <= r["final_val_loss"] + 1e-9 and 0 < r["epochs_run"] <= 4
        assert 0 <= r["small_weights"] <= 1


def _search(by):
    assert list(by) == ["grid", "random", "coarse-to-fine", "tpe"]
    assert by["grid"]["trials"] == 4 and by["grid"]["distinct_lr"] == 2  # a 2 x 2 grid
    for name in ("random", "coarse-to-fine", "tpe"):  # 4 trials, 4 learning rates
        assert by[name]["trials"] == 4 and by[name]["distinct_lr"] == 4, name
    for r in by.values():
        assert 0 < r["best_val_loss"] < 10 and 1e-4 <= r["best_lr"] <= 1e-1


def _session_decay(by):
    assert list(by) == ["1.0", "0.99", "0.95", "0.9"]
    for r in by.values():
        assert 0 <= r["final_eval_win_rate_min"] <= r["final_eval_win_rate"] <= 1
        assert r["grad_rel_variance_init"] > 0 and r["grad_rel_variance_trained"] > 0


def _frame_difference(by):
    assert list(by) == ["difference", "frame", "frames2"]
    for r in by.values():
        assert 0 <= r["final_eval_win_rate_min"] <= r["final_eval_win_rate"] <= 1


def _perceptron(rows):
    by = {(r["learner"], r["gate"]): r for r in rows}
    for learner in ("perceptron", "logistic regression", "one hidden layer"):
        for gate in ("AND", "OR"):
            assert by[learner, gate]["solved"] == "2/2", (learner, gate)
    for learner in ("perceptron", "logistic regression"):  # no line separates XOR
        assert by[learner, "XOR"]["solved"] == "0/2"
        assert float(by[learner, "XOR"]["mean_accuracy"]) <= 0.75
        assert by[learner, "XOR"]["median_updates_to_solve"] == "inf"
    assert by["one hidden layer", "XOR"]["solved"] == "2/2"


def _backprop(by):
    for r in by.values():
        assert r["parameters"] == 64 * 32 + 32 + 32 * 16 + 16 + 16 * 10 + 10
        assert r["max_diff_autograd"] < 1e-12 and r["max_diff_finite_diff"] < 1e-6
        assert r["test_acc_hand"] == r["test_acc_torch"] > 0.2  # better than chance (0.1)
        assert r["weight_gap_after"] < 1e-9


def _activations(by):
    assert list(by) == ["sigmoid", "tanh", "relu", "leaky_relu"]
    assert by["sigmoid"]["first_over_last"] < 1e-3  # vanished through 8 sigmoid layers
    for name in ("tanh", "relu", "leaky_relu"):
        assert by[name]["first_over_last"] > 0.1, name
        assert by[name]["final_test_accuracy"] > by["sigmoid"]["final_test_accuracy"]
    assert by["leaky_relu"]["dead_at_end"] == 0 and by["relu"]["dead_at_end"] >= 0


def _initialisation(rows):
    by = {(r["activation"], r["start"]): {**r, **numbers(r)} for r in rows}
    for act in ("tanh", "relu"):
        zero, small = by[act, "zero"], by[act, "N(0, 0.01^2)"]
        assert zero["unit_spread_after"] == 0 and zero["output_std_layer_1"] == 0
        assert small["output_std_layer_8"] < 1e-6 * small["output_std_layer_1"]
    assert by["relu", "N(0, 1)"]["output_std_layer_8"] > 1e3
    assert by["tanh", "N(0, 1)"]["output_std_layer_8"] > 0.8  # saturated near +-1
    assert by["tanh", "Xavier"]["final_test_accuracy"] > 0.8
    assert by["relu", "He"]["unit_spread_after"] > 0


def _descent(by):
    assert by["lr too large"]["diverged"] == "2/2"
    assert by["stochastic GD"]["updates"] == 3 * 1347 and by["batch GD"]["updates"] == 3
    assert by["mini-batch GD"]["final_train_loss"] < by["batch GD"]["final_train_loss"]
    assert by["lr too small"]["final_train_loss"] > by["mini-batch GD"]["final_train_loss"]
    assert by["lr too small"]["diverged"] == "0/2"


def _word2vec(by, run_dir):
    assert list(by) == ["skip-gram", "cbow", "skip-gram + char n-grams", "skip-gram, little data",
                        "cbow, little data"]
    assert by["cbow"]["words_per_s"] > by["skip-gram"]["words_per_s"]  # one example per word
    for name, r in by.items():
        assert 0 <= r["score_frequent"] <= 1 and r["vocab"] >= 2, name
        assert math.isnan(r["score_unseen"]) == ("n-grams" not in name), name
    assert by["skip-gram, little data"]["training_words"] < by["skip-gram"]["training_words"]
    neighbours = (run_dir / "neighbours.md").read_text()
    assert "(unseen in training)" in neighbours and "(no vector)" in neighbours
    for line in neighbours.splitlines():  # n-grams give every word, seen or not, neighbours
        if line.startswith("- skip-gram + char n-grams:"):
            assert "(no vector)" not in line


def _batch_norm(rows):
    """Ten ReLU layers deep, at the quick size (lr 0.1 and 1): at lr 1 the plain network
    breaks down where the batch-norm one trains, and batch norm is the better at both rates."""
    final = {(r["condition"], float(r["lr"])): float(r["final_test_accuracy"]) for r in rows
             if r["lr"]}
    assert final["plain", 1.0] < 0.5 < 0.9 < final["batch norm", 1.0]
    assert final["batch norm", 0.1] > final["plain", 0.1]
    modes = rows[-1]
    assert modes["condition"].startswith("batch norm, lr") and float(modes["eval_accuracy"]) > 0.8


def _convolution(by):
    """At the quick size too: the linear model loses more than half its accuracy when the digit
    moves beyond the trained positions; the CNN keeps more of it than the MLP, and pooled to
    each map's maximum more than with a dense head; the CNN has fewer parameters."""
    lin, mlp_, cnn_, gmax = by["linear"], by["mlp"], by["cnn"], by["cnn, global max"]
    assert lin["held_out"] < lin["seen"] / 2
    assert mlp_["held_out"] < cnn_["held_out"] < gmax["held_out"]
    assert gmax["held_out"] > 0.5 and cnn_["seen"] > 0.85
    assert gmax["parameters"] < cnn_["parameters"] < mlp_["parameters"]
    assert cnn_["first_layer_weights"] == 144


def _autoencoder(rows):
    """At the quick size: a linear autoencoder comes within 10% of PCA's error (the test of its
    own trains it to within 1%), the ReLU one beats PCA at code size 4, the L1 penalty makes
    the code sparser, and the denoising autoencoder rebuilds noisy inputs better."""
    by = {r["model"]: numbers(r) for r in rows if r["part"] != "features"}
    features = {r["model"]: numbers(r) for r in rows if r["part"] == "features"}
    for k in (4, 16):
        assert by[f"linear AE {k}"]["test_mse"] == pytest.approx(by[f"PCA {k}"]["test_mse"],
                                                                 rel=0.1)
    assert by["AE 4"]["test_mse"] < by["PCA 4"]["test_mse"]
    assert by["sparse AE (L1 0.03)"]["near_zero_code"] > by["AE, ReLU code"]["near_zero_code"]
    dae = by["denoising AE (noise 0.3)"]
    assert dae["noisy_test_mse"] < by["AE"]["noisy_test_mse"]
    assert {r["part"] for r in rows} == {"code size", "sparse", "denoising", "convolutional",
                                         "features", "pretraining"}
    assert all(0.5 < features[m]["accuracy"] <= 1 for m in ("raw pixels", "PCA 16",
                                                             "AE codes 16"))


def _sequences(rows):
    """A made-up play whose lines follow one grammar: the bags of words are at chance on real
    vs shuffled lines (both classes have the same bags, by construction), the best acceptor is
    well above them; the speakers' own nouns make who speaks learnable from the words."""
    by = {(r["task"], r["model"]): numbers(r) for r in rows}
    bags = ("counts + logistic regression", "mean of embeddings")
    order = {m: by["order", m]["accuracy"] for m in (*bags, "rnn", "lstm", "gru")}
    margin = 3 * math.sqrt(0.25 / by["order", bags[0]]["test_examples"])
    assert all(abs(order[m] - 0.5) <= margin for m in bags), order
    assert max(order["lstm"], order["gru"]) > max(order[m] for m in bags) + margin, order
    speaker = by["speaker", bags[0]]
    assert speaker["accuracy"] > speaker["chance"] + 0.1
    assert 0 <= speaker["unk_share"] < 0.5


def _word_vectors(rows, run_dir):
    """On the made-up play: a count vector has a number per vocabulary word, the SVD and word2vec
    --dim; every method finds a speech of the same speaker more often than chance (each speaker
    has nouns of their own); skip-gram's vectors are saved in word2vec's text format."""
    by = {r["model"]: numbers(r) for r in rows}
    vocab = by["counts"]["dimensions"]
    assert by["PPMI"]["dimensions"] == vocab
    assert by["PPMI + SVD"]["dimensions"] == min(32, vocab - 1)  # no more than the matrix has
    assert by["counts"]["dense_mb"] == pytest.approx(vocab * vocab * 4 / 1e6)
    assert by["skip-gram"]["memory_mb"] == pytest.approx(vocab * 32 * 4 / 1e6)
    for name in ("WMD, skip-gram", "WMD, PPMI + SVD", "TF-IDF cosine"):
        assert by[name]["precision_at_1"] > by[name]["chance"] + 0.1, name
    header = (run_dir / "vectors.txt").read_text().splitlines()[0]
    assert header == f"{vocab:.0f} 32"


def _next_word(by):
    """At the quick size, on words drawn independently (no order to learn): softmax's top-10
    accuracy is above its top 1 and its perplexity finite and below the vocabulary's size; the
    regression has no perplexity."""
    soft, reg = by["softmax"], by["regression"]
    assert soft["top10_accuracy"] > soft["accuracy"] and 1 < soft["perplexity"] < 3000
    assert math.isnan(reg["perplexity"]) and 0 <= reg["accuracy"] <= reg["top10_accuracy"] <= 1
    assert 0 < by["most frequent word"]["accuracy"] < 0.5


#: What each experiment's quick run must show, beyond its files: the direction of the result
#: where it is robust at quick size, else the structure of the table.
DIRECTION = {"vanishing-gradients": _vanishing, "gradient-clipping": _clipping,
             "memory-length": _memory, "regularisation": _regularisation,
             "hyperparameter-search": _search, "session-decay": _session_decay,
             "frame-difference": _frame_difference, "perceptron": _perceptron,
             "backprop": _backprop, "activations": _activations,
             "initialisation": _initialisation, "gradient-descent": _descent,
             "word2vec": _word2vec, "batch-norm": _batch_norm, "convolution": _convolution,
             "autoencoder": _autoencoder, "sequence-classification": _sequences,
             "word-vectors": _word_vectors, "next-word": _next_word}
