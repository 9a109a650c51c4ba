"""char-RNN as library calls: ``run`` a training (new or resumed), load a trained run.

>>> from pucklab.seqmodels.charrnn import CharRNNSettings, run       # doctest: +SKIP
>>> run(CharRNNSettings(corpus="notes.txt", max_steps=200)).metrics  # doctest: +SKIP

A run folder holds ``config.json`` (which command, every setting), ``checkpoints/last.pt`` and
``best.pt`` (weights, optimiser, scheduler, RNG, counters, vocabulary, ``model_args``),
``metrics.csv`` + TensorBoard events, and ``loss_curve.png``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from pucklab.runs.device import resolve_device
from pucklab.runs.lifecycle import open_run
from pucklab.runs.result import Report, RunResult
from pucklab.runs.settings import Settings, setting
from pucklab.runs.store import (
    LAST_CHECKPOINT,
    RunError,
    build_model,
    checkpoint_path,
    load_checkpoint,
    load_config,
    load_run_settings,
)
from pucklab.runs.sweep_study import Trainable
from pucklab.seqmodels.cells import CELLS
from pucklab.seqmodels.charrnn.data import CharTask, Vocab, read_corpus
from pucklab.seqmodels.charrnn.model import PRECISIONS, CharRNN, auto_precision
from pucklab.seqmodels.layers import IMPLS
from pucklab.seqmodels.train_config import TrainConfig
from pucklab.seqmodels.trainer import Trainer

COMMAND = "char-rnn"
MODEL_KEYS = ("model", "model_args", "task")  # what sampling needs of a checkpoint
# The epochs the model trains unless --epochs or --max-steps say otherwise; --minutes may end a
# run sooner, never later. The defaults were chosen on 15-minute runs of about 9 epochs (2 cores,
# bf16), with the cosine schedule reaching zero there; on a CPU that fits 16 epochs into the same
# 15 minutes, this model overfits before the rate comes down (docs/char-rnn.md). So the cosine
# follows whichever ends first, the minutes or these epochs, and a faster machine trains the same
# run sooner instead of a longer, worse one.
DEFAULT_EPOCHS = 10.0
# Adam's lr for char-rnn (batch 32 x 128, decaying to zero over the budget): the best of the
# settings compared over 15 minutes on Tiny Shakespeare (docs/char-rnn.md, `sweep`).
# Other optimisers keep the trainer's per-optimiser default.
CHAR_RNN_ADAM_LR = 3e-3


@dataclass
class CharRNNSettings(Settings):
    """Model and data settings of a char-RNN run, and the trainer's (``train``)."""

    corpus: str = setting("shakespeare", "a UTF-8 text file, or 'shakespeare' (Tiny "
                          "Shakespeare, downloaded once; $PUCKLAB_DATA/tinyshakespeare.txt "
                          "first); a resume may point at the same text elsewhere",
                          resumable=True)
    cell: str = setting("lstm", "recurrent cell", choices=tuple(CELLS))
    impl: str = setting("fused", "fused torch.nn kernels or our explicit cells (same weights)",
                        choices=IMPLS)
    embed: int = setting(64, "embedding size", low=1)
    hidden: int = setting(448, "hidden units per layer", low=1)
    layers: int = setting(2, "recurrent layers", low=1)
    dropout: float = setting(0.3, "dropout between layers and before the head", low=0, below=1)
    seq_len: int = setting(128, "characters per BPTT chunk", low=1)
    batch_size: int = setting(32, "parallel text streams", low=1)
    precision: str = setting("auto", "training arithmetic: bf16 autocast (mixed precision), "
                             "fp32, or auto = bf16 on a CPU with AVX512-BF16/AMX, else fp32 (on "
                             "CUDA too: measured faster there); evaluation is always fp32",
                             choices=PRECISIONS)
    train: TrainConfig = setting(help="trainer settings",
                                 default_factory=lambda: TrainConfig(schedule="cosine",
                                                                     patience=5))

    def resolved(self) -> CharRNNSettings:
        """Unless ``--epochs`` or ``--max-steps`` is given, train at most :data:`DEFAULT_EPOCHS`
        (``--minutes`` may end the run sooner); Adam's default lr is
        :data:`CHAR_RNN_ADAM_LR`; ``precision`` auto becomes what this device computes fast
        (config.json keeps the choice, so a resume elsewhere trains the same way)."""
        out = self
        if self.precision == "auto":
            out = out.replace(precision=auto_precision(resolve_device(self.train.device)))
        if self.train.epochs is None and self.train.max_steps is None:
            out = out.replace(epochs=DEFAULT_EPOCHS)
        if self.train.lr is None and self.train.optimizer in ("adam", "adamw"):
            out = out.replace(lr=CHAR_RNN_ADAM_LR)
        return out


def _corpus_label(corpus: str) -> str:
    return corpus if corpus == "shakespeare" else Path(corpus).stem


def run(settings: CharRNNSettings, run_dir: Path | str | None = None, *,
        report: Report | None = None, resume: bool = False) -> RunResult:
    """Train a char-RNN (in ``run_dir``, or ``runs/char-rnn-<corpus>-<cell>__<time>``).

    Args:
        settings: What to train; validated here.
        run_dir: The run folder; with ``resume=True``, a folder this command wrote.
        report: ``report(step, metrics)`` after each validation (``val_loss``,
            ``best_val_loss``, ...); if it raises, ``last.pt`` is written and it goes on.
        resume: Continue ``run_dir`` from its last checkpoint: weights, optimiser, schedule,
            RNG, counters. The corpus may have moved; a different vocabulary is refused.

    Returns:
        ``metrics``: ``best_val_loss``, ``val_loss`` (of the model the run leaves), ``steps``,
        ``epochs``, ``wall_time_s``; ``stopped``: done, early stopping or non-finite loss.
    """
    settings.validate()
    if resume and run_dir is not None and settings.precision == "auto" and \
            "precision" not in load_config(run_dir).get("settings", {}):
        settings = settings.replace(precision="fp32")  # a run from before --precision existed
    settings = settings.resolved()
    text, path = read_corpus(settings.corpus)
    if settings.corpus != "shakespeare":  # a resume from elsewhere finds the same file
        settings = settings.replace(corpus=str(path.resolve()))
    task = CharTask(text, settings.seq_len, settings.batch_size)
    torch.manual_seed(settings.train.seed)  # the initial weights come from the seed too
    model = CharRNN(len(task.vocab), settings.embed, settings.hidden, settings.layers,
                    settings.dropout, settings.cell, settings.impl, settings.precision)

    def load(folder: Path) -> dict[str, Any]:
        """The checkpoint a resume goes on from: its vocabulary and model, checked against the
        text and the settings before anything in the folder is rewritten."""
        ckpt = load_checkpoint(folder, map_location="cpu", command=COMMAND, keys=MODEL_KEYS)
        _check_vocab(ckpt, folder)
        _same_vocab(Vocab(tuple(ckpt["task"]["vocab"])), text)
        _check_shape(ckpt["model_args"], settings, folder)
        return ckpt

    with open_run(COMMAND, settings, run_dir, resume=resume, resume_with=f"{COMMAND} train",
                  name=f"char-rnn-{_corpus_label(settings.corpus)}-{settings.cell}", load=load,
                  facts={"corpus_chars": len(text), "vocab_size": len(task.vocab),
                         "parameters": _count(model)}) as opened:
        folder = opened.dir
        if opened.resumed:  # the checkpoint's vocabulary and model
            ckpt = opened.state
            task = CharTask(text, settings.seq_len, settings.batch_size,
                            vocab=Vocab(tuple(ckpt["task"]["vocab"])))
            model = CharRNN(**dict(ckpt["model_args"], impl=settings.impl),
                            precision=settings.precision)
        fit = Trainer(model, task, settings.train, folder, resume=opened.resumed,
                      extra={"model_args": model.model_args}, report=report,
                      command=COMMAND).fit()
    return RunResult(folder, {"best_val_loss": fit.best_val_loss, "val_loss": fit.val_loss,
                              "steps": float(fit.steps), "epochs": fit.epochs,
                              "wall_time_s": fit.wall_time_s},
                     stopped=fit.stopped, message=fit.message,
                     files=[checkpoint_path(folder), folder / "loss_curve.png"], details=fit)


def _same_vocab(vocab: Vocab, text: str) -> Vocab:
    theirs = Vocab.from_text(text)
    if theirs != vocab:
        extra = sorted(set(theirs.chars) - set(vocab.chars))
        raise RunError(f"vocabulary mismatch: the run was trained on {len(vocab)} characters, "
                       f"this corpus has {len(theirs)}"
                       + (f" (new: {''.join(extra)!r})" if extra else "")
                       + "; resume with the corpus the run was trained on")
    return vocab


def saved_settings(run_dir: Path | str) -> CharRNNSettings:
    return load_run_settings(run_dir, CharRNNSettings, COMMAND)


def load_model(run_dir: Path | str, checkpoint: str = LAST_CHECKPOINT, device: str = "auto",
               impl: str | None = None) -> tuple[CharRNN, Vocab]:
    """The trained model and vocabulary of a run (on ``device``; ``impl`` may be switched)."""
    dev = resolve_device(device)
    ckpt = load_checkpoint(run_dir, checkpoint, map_location=dev, command=COMMAND,
                           keys=MODEL_KEYS)
    _check_vocab(ckpt, run_dir)
    model_args = dict(ckpt["model_args"], **({"impl": impl} if impl else {}))
    model = build_model(CharRNN, model_args, ckpt["model"], f"the checkpoint in {run_dir} is "
                        "damaged: its weights do not fit its model_args").to(dev)
    model.eval()
    return model, Vocab(tuple(ckpt["task"]["vocab"]))


def _check_vocab(ckpt: dict, run_dir: Path | str) -> None:
    task = ckpt.get("task")
    if not isinstance(task, dict) or not isinstance(task.get("vocab"), list) or \
            not isinstance(ckpt.get("model_args"), dict):
        raise RunError(f"the checkpoint in {run_dir} is damaged: no vocabulary or model_args")


def _check_shape(model_args: dict, settings: CharRNNSettings, run_dir: Path) -> None:
    """The model a run's checkpoint holds is the one its settings describe."""
    for name in ("embed", "hidden", "layers", "dropout", "cell"):
        if model_args.get(name) != getattr(settings, name):
            raise RunError(f"{run_dir}: config.json says {name} {getattr(settings, name)!r}, its "
                           f"checkpoint holds a model with {name} {model_args.get(name)!r}; "
                           "the two files disagree")


def bits(nats: float) -> float:
    return nats / math.log(2)


def _count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def check(settings: CharRNNSettings) -> None:
    """What :func:`run` checks before it starts, without starting: the settings, the corpus
    and the device (``--print-config`` and sweeps call it)."""
    settings.validate()
    settings = settings.resolved()
    read_corpus(settings.corpus)
    resolve_device(settings.train.device)


#: What ``sweep char-rnn`` searches with: the best validation loss, minimised.
TRAINABLE = Trainable(COMMAND, CharRNNSettings, run, metric="best_val_loss",
                      direction="minimize",
                      metrics=("best_val_loss", "val_loss", "steps", "epochs", "wall_time_s"),
                      check=check)
