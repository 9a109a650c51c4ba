"""``train-agent``: train, evaluate and record agents from the command line.

    train-agent [flags]                 train (REINFORCE on pucklab/AirHockey-v0 by default)
    train-agent --resume RUN_DIR        continue a run where its last checkpoint left it
    train-agent evaluate RUN_DIR        win rate of a trained run over K sessions
    train-agent record RUN_DIR          mp4 / gif of K sessions played by a trained run

Settings come from, in rising priority: the defaults of :class:`~pucklab.agents.args.TrainArgs`,
a ``--config`` file (TOML or YAML), the flags. Any problem the user can fix is one line on stderr
and exit code 2; Ctrl-C saves a checkpoint and exits with 130.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pucklab.agents.args import (
    FIELDS,
    RESUMABLE,
    TrainArgs,
    check_types,
    parse_env_kwargs,
    read_config_file,
)
from pucklab.runs import RunError, load_config
from pucklab.runs.cli import Parser, guarded

PROG = "train-agent"
SUBCOMMANDS = ("train", "evaluate", "record")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def train_parser() -> Parser:
    p = Parser(prog=PROG, description="Train an agent (REINFORCE, or SB3 PPO/A2C) and record "
               "it. Subcommands: evaluate RUN_DIR, record RUN_DIR (see train-agent evaluate -h).",
               argument_default=argparse.SUPPRESS)
    for name, f in FIELDS.items():
        kind = str(f.type)
        helptext = f.metadata["help"]
        if name == "env_kwargs":
            p.add_argument(_flag(name), nargs="+", action="extend", metavar="KEY=VALUE",
                           help=f"{helptext} (repeatable)")
        elif kind.startswith("bool"):
            p.add_argument(_flag(name), action=argparse.BooleanOptionalAction,
                           help=f"{helptext} (default: {f.default})")
        else:
            typ = int if kind.startswith("int") else float if kind.startswith("float") else str
            default = f.default if f.default is not None else "see text"
            p.add_argument(_flag(name), type=typ, help=f"{helptext} (default: {default})",
                           metavar=name.upper() if typ is str else None)
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="continue the run in RUN_DIR from its last checkpoint (its settings; "
                        "only budget, evaluation, video and device flags may change)")
    p.add_argument("--config", metavar="FILE", help="TOML or YAML file of settings "
                   "(names as the flags, with - or _); flags override it")
    return p


def resolve_args(ns: argparse.Namespace) -> tuple[TrainArgs, Path | None]:
    """TrainArgs from defaults <- run config (resume) <- --config file <- flags."""
    given: dict[str, Any] = {k: v for k, v in vars(ns).items() if k in FIELDS}
    if "env_kwargs" in given:
        given["env_kwargs"] = parse_env_kwargs(given["env_kwargs"])
    from_file: dict[str, Any] = {}
    if getattr(ns, "config", None):
        from_file = read_config_file(ns.config)
        check_types(from_file, ns.config)
    resume_dir = Path(ns.resume) if getattr(ns, "resume", None) else None
    if resume_dir is None:
        return TrainArgs(**{**from_file, **given}), None
    saved = load_config(resume_dir).get("train_args")
    if not isinstance(saved, dict):
        raise RunError(f"{resume_dir}/config.json holds no train-agent settings")
    base = TrainArgs(**{k: v for k, v in saved.items() if k in FIELDS})
    changes = {**from_file, **given}
    for name, value in changes.items():
        if name not in RESUMABLE and value != getattr(base, name):
            raise RunError(f"--resume continues {resume_dir} as it was set up: {_flag(name)} "
                           f"cannot change ({getattr(base, name)!r} -> {value!r})")
    return TrainArgs(**{**base.to_dict(), **changes}), resume_dir


def run_train(argv: list[str]) -> int:
    from pucklab.agents.train import start

    ns = train_parser().parse_args(argv)
    args, resume_dir = resolve_args(ns)
    summary = start(args, resume_dir)
    c = summary.counters
    mode = "sampled actions" if args.eval_stochastic else "greedy"
    print(f"trained {args.algo} on {args.env}: {c.updates:,} updates, {c.sessions:,} sessions, "
          f"{c.env_steps:,} env steps, {c.wall_time_s:.1f} s of training")
    print(f"final evaluation: win rate {summary.eval_win_rate:.3f} over "
          f"{summary.eval_sessions:,} sessions ({mode}), mean session reward "
          f"{summary.eval_session_reward:+.3f}")
    print(f"run folder: {summary.run_dir}")
    for path in summary.files:
        print(f"  {path}")
    return 0


def _run_parser(command: str, description: str) -> Parser:
    p = Parser(prog=f"{PROG} {command}", description=description)
    p.add_argument("run_dir", metavar="RUN_DIR", help="a folder train-agent wrote")
    p.add_argument("--sessions", type=int, default=None,
                   help="sessions to play (default: the run's --eval-sessions / --video-sessions)")
    p.add_argument("--stochastic", action="store_true",
                   help="sample actions instead of taking the most likely one")
    p.add_argument("--seed", type=int, default=0, help="which sessions to play (default 0)")
    p.add_argument("--device", default="cpu", help="auto, cpu or cuda (default cpu)")
    return p


def run_evaluate(argv: list[str]) -> int:
    from pucklab.agents.play import evaluate_run

    p = _run_parser("evaluate", "Win rate of a trained run over K sessions.")
    ns = p.parse_args(argv)
    win, reward, n = evaluate_run(Path(ns.run_dir), ns.sessions, ns.seed, ns.stochastic,
                                  ns.device)
    print(f"win rate {win:.3f} over {n:,} sessions "
          f"({'sampled actions' if ns.stochastic else 'greedy'}), "
          f"mean session reward {reward:+.3f}")
    return 0


def run_record(argv: list[str]) -> int:
    from pucklab.agents.play import record_run

    p = _run_parser("record", "Videos of K sessions played by a trained run.")
    p.add_argument("--format", choices=("mp4", "gif", "both"), default="mp4")
    p.add_argument("--out", default=None,
                   help="output file without suffix (default RUN_DIR/videos/record-seed<S>)")
    p.add_argument("--side-by-side", action=argparse.BooleanOptionalAction, default=True,
                   help="show the frame difference the agent saw next to the game")
    ns = p.parse_args(argv)
    paths = record_run(Path(ns.run_dir), ns.sessions, ns.seed, ns.stochastic, ns.device,
                       ns.format, ns.out, ns.side_by_side)
    for path in paths:
        print(path)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv and argv[0] in SUBCOMMANDS else "train"
    rest = argv[1:] if argv and argv[0] in SUBCOMMANDS else argv
    from pucklab.agents.train import Interrupted

    def body() -> int:
        try:
            if command == "evaluate":
                return run_evaluate(rest)
            if command == "record":
                return run_record(rest)
            return run_train(rest)
        except Interrupted as err:  # Ctrl-C in training: the checkpoint is saved
            print(f"{PROG}: {err}", file=sys.stderr)
            return 130

    return guarded(PROG, body)

if __name__ == "__main__":
    sys.exit(main())
