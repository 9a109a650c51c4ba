"""``char-rnn``: train a character-level language model and sample from it.

    char-rnn train --corpus shakespeare|PATH [flags]     a new run (see char-rnn train -h)
    char-rnn train --resume RUN_DIR [--minutes M ...]    continue a run exactly where it stopped
    char-rnn sample RUN_DIR --prime "ROMEO:" --length 500 --temperature 0.8

Any problem the user can fix is one line on stderr and exit code 2, never a traceback; a run
stopped by a non-finite loss exits 1 (its last good checkpoint is kept); Ctrl-C saves a
checkpoint and exits 130.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pucklab.runs.cli import Parser, guarded
from pucklab.seqmodels import charrnn
from pucklab.seqmodels.trainer import (
    BUDGET,
    OPTIMIZERS,
    SCHEDULES,
    TRAIN_FIELDS,
    TrainConfig,
    resume_flags,
)

PROG = "char-rnn"
DEFAULT_EPOCHS = 10.0  # when no budget is given: about 8 minutes on Tiny Shakespeare, 2 cores


def train_parser() -> Parser:
    p = Parser(prog=f"{PROG} train", argument_default=argparse.SUPPRESS,
               description="Train a char-RNN on a UTF-8 text; ends with the validation loss.")
    d = charrnn.CharRNNArgs()
    t = TrainConfig()
    add = p.add_argument
    add("--corpus", help="a UTF-8 text file, or 'shakespeare' (Tiny Shakespeare, downloaded "
        "once; $PUCKLAB_DATA/tinyshakespeare.txt first) (default: shakespeare)")
    add("--resume", metavar="RUN_DIR", help="continue this run from its last checkpoint")
    add("--run-dir", help="where to write the run (default: runs/char-rnn-<corpus>-<cell>__<time>)")
    add("--cell", choices=("rnn", "lstm", "gru"), help=f"recurrent cell (default: {d.cell})")
    add("--impl", choices=("fused", "explicit"), help="fused torch.nn kernels or our explicit "
        f"cells (same weights) (default: {d.impl})")
    for name, help_ in (("embed", "embedding size"), ("hidden", "hidden units per layer"),
                        ("layers", "recurrent layers"), ("seq-len", "characters per BPTT chunk"),
                        ("batch-size", "parallel text streams")):
        add(f"--{name}", type=int, help=f"{help_} (default: {getattr(d, name.replace('-', '_'))})")
    add("--dropout", type=float, help=f"dropout between layers and before the head "
        f"(default: {d.dropout})")
    add("--optimizer", choices=OPTIMIZERS, help=f"(default: {t.optimizer})")
    add("--lr", type=float, help="learning rate (default: per optimiser, 2e-3 for adam)")
    add("--momentum", type=float, help=f"for momentum/nesterov (default: {t.momentum})")
    add("--weight-decay", type=float, help=f"L2 penalty; decoupled for adamw (default: "
        f"{t.weight_decay})")
    add("--schedule", choices=SCHEDULES, help="learning-rate schedule: step (lower by "
        "--lr-decay every --step-every epochs), cosine (to zero over the budget), plateau "
        f"(lower when val loss stalls) (default: {t.schedule})")
    add("--step-every", type=int, help=f"epochs between step-schedule cuts (default: {t.step_every})")
    add("--lr-decay", type=float, help=f"step / plateau factor (default: {t.lr_decay})")
    add("--plateau-patience", type=int, help=f"(default: {t.plateau_patience})")
    add("--clip", type=float, help=f"max gradient norm, 0 = off (default: {t.clip})")
    add("--epochs", type=float, help=f"budget in epochs (default: {DEFAULT_EPOCHS:g} when no "
        "budget is given)")
    add("--max-steps", type=int, help="budget in optimiser steps")
    add("--minutes", type=float, help="budget in wall-clock minutes (total, across resumes)")
    add("--eval-every", type=int, help="steps between validations (default: once per epoch)")
    add("--patience", type=int, help="early stopping: validations without improvement, 0 = off; "
        "the best weights are kept (default: 0)")
    add("--log-every", type=int, help=f"steps between metric rows (default: {t.log_every})")
    add("--seed", type=int, help=f"(default: {t.seed})")
    add("--device", choices=("auto", "cpu", "cuda"), help=f"(default: {t.device})")
    add("--progress", action=argparse.BooleanOptionalAction, help="tqdm progress bar "
        "(default: on)")
    return p


def sample_parser() -> Parser:
    p = Parser(prog=f"{PROG} sample", description="Stream text sampled from a trained run.")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--prime", default="\n", help="text to start from (default: a newline)")
    p.add_argument("--length", type=int, default=500, help="characters to generate (default: 500)")
    p.add_argument("--temperature", type=float, default=0.8, help="< 1 safer, > 1 wilder; 0 = "
                   "argmax (default: 0.8)")
    p.add_argument("--top-k", type=int, default=0, help="sample among the k likeliest only, "
                   "0 = all (default: 0)")
    p.add_argument("--argmax", action="store_true", help="always take the likeliest character")
    p.add_argument("--seed", type=int, default=0, help="(default: 0)")
    p.add_argument("--checkpoint", choices=("last.pt", "best.pt"), default="last.pt")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="cpu")
    return p


def run_train(argv: list[str]) -> int:
    given: dict[str, Any] = vars(train_parser().parse_args(argv))
    run_dir = given.pop("run_dir", None)
    if "resume" in given:
        resume_dir = given.pop("resume")
        corpus = given.pop("corpus", None)
        budget, extra = resume_flags(resume_dir, charrnn.saved_args(resume_dir), given)
        result = charrnn.resume(resume_dir, corpus, budget, **extra)
    else:
        train_kw = {k: given.pop(k) for k in list(given) if k in TRAIN_FIELDS}
        if not any(k in train_kw for k in BUDGET):
            train_kw["epochs"] = DEFAULT_EPOCHS
        args = charrnn.CharRNNArgs(**given, train=TrainConfig(**train_kw))
        result = charrnn.train(args, run_dir)
    return _report(result)


def _report(result: Any) -> int:
    print(f"run: {result.run_dir}  ({result.steps} steps, {result.epochs:.2f} epochs, "
          f"{result.wall_time_s:.0f} s; stopped: {result.stopped})")
    if result.stopped.startswith("non-finite"):
        print(f"{PROG}: {result.stopped}", file=sys.stderr)
        return 1
    print(f"final val_loss {result.val_loss:.4f} nats/char ({charrnn.bits(result.val_loss):.4f} "
          "bits/char)")
    return 130 if result.stopped == "interrupted" else 0


def run_sample(argv: list[str]) -> int:
    from pucklab.seqmodels.sample import generate

    ns = sample_parser().parse_args(argv)
    model, vocab = charrnn.load_model(ns.run_dir, ns.checkpoint, ns.device)
    vocab.encode(ns.prime)  # unknown prime characters: an error before any output
    sys.stdout.write(ns.prime)
    for ch in generate(model, vocab, ns.prime, ns.length, ns.temperature, ns.top_k, ns.argmax,
                       ns.seed, next(model.parameters()).device):
        sys.stdout.write(ch)
        sys.stdout.flush()
    sys.stdout.write("\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    usage = f"usage: {PROG} train [flags] | {PROG} sample RUN_DIR [flags]  (-h for help)"
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip() if argv else usage)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]

    def body() -> int:
        if command == "train":
            return run_train(rest)
        if command == "sample":
            return run_sample(rest)
        print(f"{PROG}: error: unknown command {command!r}; {usage}", file=sys.stderr)
        return 2

    return guarded(PROG, body)

if __name__ == "__main__":
    sys.exit(main())
