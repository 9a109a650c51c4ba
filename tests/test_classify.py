"""Sequence classification: padding changes nothing, the vocabulary, the play's examples."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch

from pucklab.seqmodels.classify.data import PAD, UNK, Examples, WordVocab, pad, speeches, verse_lines
from pucklab.seqmodels.classify.model import BagOfEmbeddings, SequenceClassifier
from pucklab.seqmodels.classify.train import ClassifyTask, predict
from pucklab.seqmodels.lab.sequences import order_task

PLAY = """First Citizen:
Before we proceed any further, hear me speak.

All:
Speak, speak.

First Citizen:
You are all resolved rather to die than to famish?
"""


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("impl", ["fused", "explicit"])
@pytest.mark.parametrize("read", ["last", "mean"])
def test_a_padded_batch_gives_every_sequence_its_own_outputs(cell, impl, read):
    torch.manual_seed(0)
    model = SequenceClassifier(20, 3, cell=cell, embed=8, hidden=16, layers=2, read=read,
                               impl=impl).eval()
    seqs = [[2, 5, 7], [3, 4, 5, 6, 7, 8, 9], [11], [4, 4, 12, 2, 19]]
    ids, lengths = pad(seqs)
    assert ids.shape == (4, 7) and ids[2, 1:].eq(0).all() and lengths.tolist() == [3, 7, 1, 5]
    batched = model(ids, lengths)
    for i, s in enumerate(seqs):
        alone = model(torch.tensor([s]), torch.tensor([len(s)]))
        torch.testing.assert_close(batched[i:i + 1], alone, atol=1e-6, rtol=1e-5)


def test_fused_and_explicit_acceptors_agree_with_the_same_weights():
    torch.manual_seed(1)
    fused = SequenceClassifier(20, 3, cell="lstm", embed=8, hidden=16, impl="fused")
    explicit = SequenceClassifier(20, 3, cell="lstm", embed=8, hidden=16, impl="explicit")
    explicit.load_state_dict(fused.state_dict())
    ids, lengths = pad([[2, 5, 7], [3, 4, 5, 6, 7, 8, 9], [11]])
    torch.testing.assert_close(fused(ids, lengths), explicit(ids, lengths), atol=1e-6, rtol=1e-5)


def test_the_pad_vector_is_zero_and_a_bag_of_embeddings_ignores_order():
    torch.manual_seed(2)
    bag = BagOfEmbeddings(20, 3, embed=8)
    assert bag.embed.weight[0].eq(0).all()
    ids, lengths = pad([[2, 5, 7, 9], [9, 7, 2, 5], [2, 5]])
    out = bag(ids, lengths)
    torch.testing.assert_close(out[0], out[1])
    assert not torch.allclose(out[0], out[2])


def test_rare_and_unseen_words_become_unk():
    vocab = WordVocab.build([["a", "b", "a"], ["a", "c", "b"]], min_count=2)
    assert vocab.words[:2] == [PAD, UNK] and vocab.words[2:] == ["a", "b"]
    assert vocab.encode(["a", "c", "zebra", "b"]) == [2, 1, 1, 3]


def test_speeches_and_lines_of_a_play():
    found = speeches(PLAY)
    assert [s for s, _ in found] == ["First Citizen", "All", "First Citizen"]
    assert found[1][1] == ["speak", "speak"]
    assert found[0][1][:3] == ["before", "we", "proceed"]
    lines = verse_lines(PLAY)
    assert len(lines) == 3 and lines[1] == ["speak", "speak"]


def test_the_order_task_gives_both_classes_the_same_bags_of_words():
    letters = "abcdefghij"
    word = [f"w{letters[n // 10]}{letters[n % 10]}" for n in range(50)]
    text = "\n".join(" ".join(word[(i * 7 + k) % 50] for k in range(6)) for i in range(400))
    texts, labels = order_task(text, seed=0, most=300)
    assert len(texts) == 300 and 0.4 < labels.mean() < 0.6
    originals = {tuple(sorted(line)): line for line in verse_lines(text)}
    for words, label in zip(texts, labels, strict=True):
        original = originals[tuple(sorted(words))]  # the same words, whichever the class
        assert (words == original) == bool(label)


def test_the_task_draws_the_same_batches_after_a_resume():
    ex = Examples([[2, 3], [4, 5, 6], [7], [8, 9]], np.array([0, 1, 0, 1]))
    a, b = ClassifyTask(ex, ex, 2, seed=5), ClassifyTask(ex, ex, 2, seed=99)
    torch.manual_seed(0)
    model = BagOfEmbeddings(10, 2, embed=4)
    a.train_loss(model, 1)
    b.load_state_dict(a.state_dict())
    assert a.train_loss(model, 2).item() == b.train_loss(model, 2).item()
    assert predict(model, ex).shape == (4,) and Counter(predict(model, ex)).keys() <= {0, 1}


def test_next_word_windows_tasks_and_scores():
    from pucklab.seqmodels.lab import nextword_model as nextword

    ids = torch.arange(2, 2 + 3 * nextword.WINDOW + 1)
    w = nextword.windows(ids)
    assert w.shape == (3, nextword.WINDOW + 1) and torch.equal(w[1, 0], w[0, -1])
    targets = torch.nn.functional.normalize(torch.randn(100, 8), dim=1)
    task = nextword.NextWordTask(torch.randint(2, 100, (500,)), ids, "regression", targets, 3)
    again = nextword.NextWordTask(task.train, ids, "regression", targets, 3)
    torch.manual_seed(0)
    model = nextword.WordLM(100, 8)
    again.load_state_dict(task.state_dict())
    assert task.train_loss(model, 1).item() == again.train_loss(model, 1).item()
    s = nextword.scores(model, "regression", w[:, :-1], targets)
    assert s.shape == (3, nextword.WINDOW, 100) and torch.isinf(s[..., :2]).all()
    assert (s.argmax(-1) > 1).all()  # never <pad> or <unk>
