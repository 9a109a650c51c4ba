"""char-RNN as library functions: train (or resume) a run, load a trained run, sample from it.

The ``char-rnn`` command (cli.py) is a thin layer over these, and tests and benchmarks call them
directly. A run folder holds ``config.json`` (every setting), ``checkpoints/last.pt`` and
``best.pt`` (weights, optimiser, scheduler, RNG, counters, vocabulary, ``model_args``),
``metrics.csv`` + TensorBoard events, and ``loss_curve.png``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from pucklab.runs import (
    RunError,
    discard_unstarted,
    load_checkpoint,
    load_config,
    new_run_dir,
    require_choice,
    save_config,
)
from pucklab.seqmodels.chardata import CharTask, Vocab, read_corpus
from pucklab.seqmodels.models import IMPLS, KINDS, CharRNN
from pucklab.seqmodels.trainer import (
    Result,
    TrainConfig,
    Trainer,
    resolve_device,
    settings_from_dict,
)

CONFIG_KEY = "char_rnn"


@dataclass
class CharRNNArgs:
    """Model and data settings of a char-RNN run (the trainer's are a :class:`TrainConfig`)."""

    corpus: str = "shakespeare"
    cell: str = "lstm"
    impl: str = "fused"
    embed: int = 64
    hidden: int = 256
    layers: int = 2
    dropout: float = 0.0
    seq_len: int = 128
    batch_size: int = 32  # twice the updates of 64 at about the same chars/s: learns faster
    train: TrainConfig = field(default_factory=TrainConfig)

    def check(self) -> None:
        require_choice("--cell", self.cell, KINDS)
        require_choice("--impl", self.impl, IMPLS)
        for name in ("embed", "hidden", "layers", "seq_len", "batch_size"):
            if getattr(self, name) < 1:
                raise RunError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.dropout < 1:
            raise RunError(f"--dropout must be in [0, 1), got {self.dropout}")
        self.train.check()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CharRNNArgs:
        return settings_from_dict(cls, d)


def _corpus_label(corpus: str) -> str:
    return corpus if corpus == "shakespeare" else Path(corpus).stem


def train(args: CharRNNArgs, run_dir: Path | str | None = None) -> Result:
    """Start a new run (in ``run_dir``, or ``runs/char-rnn-<corpus>-<cell>__<time>``)."""
    args.check()
    if run_dir is not None and (Path(run_dir) / "checkpoints").exists():
        raise RunError(f"{run_dir} already holds a run; continue it with --resume {run_dir} "
                       "or choose another --run-dir")
    text, path = read_corpus(args.corpus)
    task = CharTask(text, args.seq_len, args.batch_size)
    torch.manual_seed(args.train.seed)  # the initial weights come from the seed too
    model = CharRNN(len(task.vocab), args.embed, args.hidden, args.layers, args.dropout,
                    args.cell, args.impl)
    if run_dir is None:
        run_dir = new_run_dir(f"char-rnn-{_corpus_label(args.corpus)}-{args.cell}")
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if args.corpus != "shakespeare":
        args.corpus = str(path.resolve())  # a resume from elsewhere finds the same file
    save_config(run_dir, {CONFIG_KEY: args.to_dict(), "corpus_chars": len(text),
                          "vocab_size": len(task.vocab), "parameters": _count(model)})
    try:
        trainer = Trainer(model, task, args.train, run_dir, extra={"model_args": model.model_args})
    except RunError:
        discard_unstarted(run_dir)  # e.g. --device cuda without a GPU: leave no empty run
        raise
    return trainer.fit()


def saved_args(run_dir: Path | str) -> CharRNNArgs:
    config = load_config(run_dir)
    if CONFIG_KEY not in config:
        raise RunError(f"{run_dir} is not a char-rnn run (its config.json has no {CONFIG_KEY})")
    return CharRNNArgs.from_dict(config[CONFIG_KEY])


def resume(run_dir: Path | str, corpus: str | None = None,
           budget: dict[str, Any] | None = None, **overrides: Any) -> Result:
    """Continue ``run_dir`` from its last checkpoint: weights, optimiser, schedule, RNG, counters.

    ``corpus`` may point at the same text elsewhere; a different vocabulary is refused.
    ``budget`` (epochs / max_steps / minutes) replaces the saved budget, to train further;
    ``overrides`` may set trainer fields that do not change the result (device, progress).
    """
    args = saved_args(run_dir)
    if corpus is not None:
        args.corpus = corpus
    for key, value in (budget or {}).items():
        setattr(args.train, key, value)
    for key, value in overrides.items():
        setattr(args.train, key, value)
    args.check()
    text, _ = read_corpus(args.corpus)
    ckpt = load_checkpoint(run_dir, map_location="cpu")
    vocab = Vocab(tuple(ckpt["task"]["vocab"]))
    task = CharTask(text, args.seq_len, args.batch_size, vocab=_same_vocab(vocab, text))
    model = CharRNN(**dict(ckpt["model_args"], impl=args.impl))
    save_config(run_dir, {**load_config(run_dir), CONFIG_KEY: args.to_dict()})
    trainer = Trainer(model, task, args.train, run_dir, resume=True,
                      extra={"model_args": model.model_args})
    return trainer.fit()


def _same_vocab(vocab: Vocab, text: str) -> Vocab:
    theirs = Vocab.from_text(text)
    if theirs != vocab:
        extra = sorted(set(theirs.chars) - set(vocab.chars))
        raise RunError(f"vocabulary mismatch: the run was trained on {len(vocab)} characters, "
                       f"this corpus has {len(theirs)}"
                       + (f" (new: {''.join(extra)!r})" if extra else "")
                       + "; resume with the corpus the run was trained on")
    return vocab


def load_model(run_dir: Path | str, checkpoint: str = "last.pt", device: str = "auto",
               impl: str | None = None) -> tuple[CharRNN, Vocab]:
    """The trained model and vocabulary of a run (on ``device``; ``impl`` may be switched)."""
    dev = resolve_device(device)
    ckpt = load_checkpoint(run_dir, checkpoint, map_location=dev)
    if "model_args" not in ckpt or "vocab" not in ckpt.get("task", {}):
        raise RunError(f"{run_dir} does not hold a char-rnn checkpoint")
    model_args = dict(ckpt["model_args"], **({"impl": impl} if impl else {}))
    model = CharRNN(**model_args).to(dev)
    model.load_state_dict(ckpt["model"])
    model.eval()
    return model, Vocab(tuple(ckpt["task"]["vocab"]))


def bits(nats: float) -> float:
    return nats / math.log(2)


def _count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
