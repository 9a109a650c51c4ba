"""``train-agent``: train, evaluate and record agents from the command line.

    train-agent [flags]                 train (REINFORCE on pucklab/AirHockey-v0 by default)
    train-agent --resume RUN_DIR        continue a run where its last checkpoint left it
    train-agent --print-config          the resolved settings as TOML (for --config FILE)
    train-agent evaluate RUN_DIR        win rate of a trained run over K sessions
    train-agent record RUN_DIR          mp4 / gif of K sessions played by a trained run
    train-agent play [RUN_DIR]          a person against a trained Pong agent, or alone

Settings come from, in rising priority: the defaults of
:class:`~pucklab.agents.settings.AgentSettings`, a ``--config`` file (TOML or YAML), the flags.
Any problem the user can fix is one line on stderr and exit code 2; Ctrl-C saves a checkpoint
and exits with 130.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pucklab.agents.runner import COMMAND, run
from pucklab.agents.settings import MAX_SEED, VIDEO_FORMATS, AgentSettings
from pucklab.agents.trained import evaluate_run, record_run
from pucklab.runs import DEVICES, RunError
from pucklab.runs.cli import Parser, dispatch, parse_run_args, print_config

DESCRIPTION = ("Train an agent (REINFORCE, or SB3 PPO/A2C) and record it. Subcommands: "
               "evaluate RUN_DIR, record RUN_DIR, play [RUN_DIR] (see train-agent play -h).")


def run_train(argv: list[str]) -> int:
    args = parse_run_args(AgentSettings, argv, COMMAND, COMMAND, DESCRIPTION)
    if args.print_config:
        return print_config(args, COMMAND)
    s = args.settings
    result = run(s, args.run_dir, resume=args.resume)
    m = result.metrics
    mode = "sampled actions" if s.eval_stochastic else "greedy"
    print(f"trained {s.algo} on {s.env}: {m['updates']:,.0f} updates, {m['sessions']:,.0f} "
          f"sessions, {m['env_steps']:,.0f} env steps, {m['wall_time_s']:.1f} s of training")
    print(f"final evaluation: win rate {m['eval_win_rate']:.3f} over "
          f"{m['eval_sessions']:,.0f} sessions ({mode}), mean session reward "
          f"{m['eval_session_reward']:+.3f}")
    print(f"run folder: {result.run_dir}")
    for path in result.files:
        print(f"  {path}")
    return 0


def _run_parser(command: str, description: str) -> Parser:
    p = Parser(prog=f"{COMMAND} {command}", description=description)
    p.add_argument("run_dir", metavar="RUN_DIR", help="a folder train-agent wrote")
    p.add_argument("--sessions", type=int, default=None,
                   help="sessions to play (default: the run's --eval-sessions / --video-sessions)")
    p.add_argument("--stochastic", action="store_true",
                   help="sample actions instead of taking the most likely one")
    p.add_argument("--seed", type=int, default=0, help="which sessions to play (default 0)")
    p.add_argument("--device", default="cpu", choices=DEVICES, help="(default cpu)")
    return p


def _checked(ns: argparse.Namespace) -> argparse.Namespace:
    """The checks argparse cannot do: --sessions >= 1, --seed a valid 32-bit seed."""
    if ns.sessions is not None and ns.sessions < 1:
        raise RunError(f"--sessions must be >= 1, got {ns.sessions}")
    if not 0 <= ns.seed <= MAX_SEED:
        raise RunError(f"--seed must be in [0, {MAX_SEED}], got {ns.seed}")
    return ns


def run_evaluate(argv: list[str]) -> int:
    ns = _checked(_run_parser("evaluate", "Win rate of a trained run over K sessions.")
                  .parse_args(argv))
    ev = evaluate_run(Path(ns.run_dir), ns.sessions, ns.seed, ns.stochastic, ns.device)
    print(f"win rate {ev.win_rate:.3f} over {ev.sessions:,} sessions "
          f"({'sampled actions' if ns.stochastic else 'greedy'}), "
          f"mean session reward {ev.session_reward:+.3f}")
    return 0


def run_record(argv: list[str]) -> int:
    p = _run_parser("record", "Videos of K sessions played by a trained run.")
    p.add_argument("--format", choices=VIDEO_FORMATS, default="mp4")
    p.add_argument("--out", default=None,
                   help="output file without suffix (default RUN_DIR/videos/record-seed<S>)")
    p.add_argument("--side-by-side", action=argparse.BooleanOptionalAction, default=True,
                   help="show the frame difference the agent saw next to the game")
    ns = _checked(p.parse_args(argv))
    for path in record_run(Path(ns.run_dir), ns.sessions, ns.seed, ns.stochastic, ns.device,
                           ns.format, ns.out, ns.side_by_side):
        print(path)
    return 0


def run_play(argv: list[str]) -> int:
    from pucklab.agents.play import AIR_HOCKEY, PONG, game, play_game

    p = Parser(prog=f"{COMMAND} play", description="Play against a trained agent of "
               f"{PONG} (you: the left paddle), or alone without RUN_DIR. Arrow keys or W/S "
               "move your paddle; Esc or closing the window quits.")
    p.add_argument("run_dir", nargs="?", metavar="RUN_DIR", help=f"a {PONG} run to play against")
    p.add_argument("--env", choices=(AIR_HOCKEY, PONG), default=None,
                   help=f"without RUN_DIR: the game to play alone (default {AIR_HOCKEY})")
    ns = p.parse_args(argv)
    if ns.run_dir is not None and ns.env is not None:
        raise RunError("give RUN_DIR (play its agent) or --env (play alone), not both")
    play_game(game(Path(ns.run_dir) if ns.run_dir else None, ns.env))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    return dispatch(COMMAND, argv, {"train": run_train, "evaluate": run_evaluate,
                                    "record": run_record, "play": run_play}, default=run_train)


if __name__ == "__main__":
    sys.exit(main())
