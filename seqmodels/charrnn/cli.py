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
from dataclasses import dataclass

from pucklab.runs.cli import dispatch, parse_run_args, parse_settings, print_config
from pucklab.runs.device import DEVICES
from pucklab.runs.result import Stop
from pucklab.runs.settings import Settings, seed_setting, setting
from pucklab.runs.store import BEST_CHECKPOINT, LAST_CHECKPOINT, checkpoint_path
from pucklab.seqmodels.charrnn.runner import COMMAND, CharRNNSettings, bits, check, load_model, run
from pucklab.seqmodels.sample import generate

DESCRIPTION = "Train a char-RNN on a UTF-8 text; ends with the best and the last validation loss."


def run_train(argv: list[str]) -> int:
    args = parse_run_args(CharRNNSettings, argv, f"{COMMAND} train", COMMAND, DESCRIPTION)
    if args.print_config:
        return print_config(args, f"{COMMAND} train", check)
    result = run(args.settings, args.run_dir, resume=args.resume)
    m = result.metrics
    print(f"run: {result.run_dir}  ({m['steps']:.0f} steps, {m['epochs']:.2f} epochs, "
          f"{m['wall_time_s']:.0f} s; stopped: {result.stopped})")
    if result.stopped is Stop.NON_FINITE:
        print(f"{COMMAND}: {result.message}", file=sys.stderr)
        return 1
    print(f"best val_loss {m['best_val_loss']:.4f} nats/char ({bits(m['best_val_loss']):.4f} "
          f"bits/char; checkpoints/best.pt, what sample uses), last {m['val_loss']:.4f}")
    return 0


#: The longest sample: about a minute of generation on 2 CPU cores.
MAX_SAMPLE = 100_000


@dataclass
class SampleSettings(Settings):
    """``char-rnn sample``: text streamed from a trained run."""

    run_dir: str = setting(help="a folder char-rnn train wrote", positional=True,
                           metavar="RUN_DIR")
    prime: str = setting("\n", "text to start from")
    length: int = setting(500, "characters to generate", low=0, high=MAX_SAMPLE)
    temperature: float = setting(0.8, "< 1 safer, > 1 wilder; 0 = argmax", low=0)
    top_k: int = setting(0, "sample among the k likeliest only, 0 = all", low=0)
    argmax: bool = setting(False, "always take the likeliest character")
    seed: int = seed_setting("which sample to draw")
    checkpoint: str | None = setting(None, "the weights to sample from (default: best.pt, the "
                                     "lowest validation loss; last.pt when the run has not "
                                     "validated yet)", choices=(BEST_CHECKPOINT, LAST_CHECKPOINT))
    device: str = setting("cpu", "where to sample", choices=DEVICES)


def run_sample(argv: list[str]) -> int:
    ns = parse_settings(SampleSettings, argv, f"{COMMAND} sample",
                        "Stream text sampled from a trained run.")
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
