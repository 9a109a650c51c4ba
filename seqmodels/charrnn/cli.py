"""``char-rnn``: train a character-level language model and sample from it.

    char-rnn train --corpus shakespeare|PATH [flags]     a new run (see char-rnn train -h)
    char-rnn train --resume RUN_DIR [--minutes M ...]    continue a run exactly where it stopped
    char-rnn train --print-config [flags]                the resolved settings as TOML
    char-rnn sample RUN_DIR --prime "ROMEO:" --length 500 --temperature 0.8

Any problem the user can fix is one line on stderr and exit code 2, never a traceback; a run
stopped by a non-finite loss exits 1 (its last good checkpoint is kept); Ctrl-C saves a
checkpoint and exits 130.
"""

from __future__ import annotations

import sys

from pucklab.runs import DEVICES, checkpoint_path
from pucklab.runs.cli import Parser, dispatch, parse_run_args, print_config
from pucklab.runs.store import LAST_CHECKPOINT
from pucklab.seqmodels.charrnn.runner import COMMAND, CharRNNSettings, bits, load_model, run
from pucklab.seqmodels.sample import generate
from pucklab.seqmodels.trainer import BEST_CHECKPOINT

DESCRIPTION = "Train a char-RNN on a UTF-8 text; ends with the best and the last validation loss."


def run_train(argv: list[str]) -> int:
    args = parse_run_args(CharRNNSettings, argv, f"{COMMAND} train", COMMAND, DESCRIPTION)
    if args.print_config:
        return print_config(args, f"{COMMAND} train")
    result = run(args.settings, args.run_dir, resume=args.resume)
    m = result.metrics
    print(f"run: {result.run_dir}  ({m['steps']:.0f} steps, {m['epochs']:.2f} epochs, "
          f"{m['wall_time_s']:.0f} s; stopped: {result.details.stopped})")
    if result.stopped.startswith("non-finite"):
        print(f"{COMMAND}: {result.stopped}", file=sys.stderr)
        return 1
    print(f"best val_loss {m['best_val_loss']:.4f} nats/char ({bits(m['best_val_loss']):.4f} "
          f"bits/char; checkpoints/best.pt, what sample uses), last {m['val_loss']:.4f}")
    return 0


def sample_parser() -> Parser:
    p = Parser(prog=f"{COMMAND} sample", description="Stream text sampled from a trained run.")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--prime", default="\n", help="text to start from (default: a newline)")
    p.add_argument("--length", type=int, default=500, help="characters to generate (default: 500)")
    p.add_argument("--temperature", type=float, default=0.8, help="< 1 safer, > 1 wilder; 0 = "
                   "argmax (default: 0.8)")
    p.add_argument("--top-k", type=int, default=0, help="sample among the k likeliest only, "
                   "0 = all (default: 0)")
    p.add_argument("--argmax", action="store_true", help="always take the likeliest character")
    p.add_argument("--seed", type=int, default=0, help="(default: 0)")
    p.add_argument("--checkpoint", choices=("best.pt", "last.pt"), default=None,
                   help="the weights to sample from (default: best.pt, the lowest validation "
                   "loss; last.pt when the run has not validated yet)")
    p.add_argument("--device", choices=DEVICES, default="cpu")
    return p


def run_sample(argv: list[str]) -> int:
    ns = sample_parser().parse_args(argv)
    checkpoint = ns.checkpoint or (BEST_CHECKPOINT if checkpoint_path(ns.run_dir, BEST_CHECKPOINT)
                                   .is_file() else LAST_CHECKPOINT)
    model, vocab = load_model(ns.run_dir, checkpoint, ns.device)
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
    usage = f"usage: {COMMAND} train [flags] | {COMMAND} sample RUN_DIR [flags]  (-h for help)"
    return dispatch(COMMAND, argv, {"train": run_train, "sample": run_sample}, usage=usage,
                    doc=__doc__.strip())


if __name__ == "__main__":
    sys.exit(main())
