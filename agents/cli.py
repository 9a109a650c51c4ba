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

import sys
from dataclasses import dataclass
from pathlib import Path

from pucklab.agents.play import AIR_HOCKEY, PONG
from pucklab.agents.runner import COMMAND, check, run
from pucklab.agents.settings import VIDEO_FORMATS, AgentSettings
from pucklab.agents.trained import evaluate_run, record_run
from pucklab.runs.cli import dispatch, parse_run_args, parse_settings, print_config
from pucklab.runs.device import DEVICES
from pucklab.runs.settings import Settings, seed_setting, setting
from pucklab.runs.store import RunError

DESCRIPTION = ("Train an agent (REINFORCE, or SB3 PPO/A2C) and record it. Subcommands: "
               "evaluate RUN_DIR, record RUN_DIR, play [RUN_DIR] (see train-agent play -h).")


def run_train(argv: list[str]) -> int:
    args = parse_run_args(AgentSettings, argv, COMMAND, COMMAND, DESCRIPTION)
    if args.print_config:
        return print_config(args, COMMAND, check)
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


@dataclass
class TrainedSettings(Settings):
    """``train-agent evaluate RUN_DIR``: a trained run's play over fixed sessions."""

    run_dir: str = setting(help="a folder train-agent wrote", positional=True, metavar="RUN_DIR")
    sessions: int | None = setting(None, "sessions to play (default: the run's --eval-sessions "
                                   "/ --video-sessions)", low=1)
    stochastic: bool = setting(False, "sample actions instead of taking the most likely one")
    seed: int = seed_setting("which sessions to play")
    device: str = setting("cpu", "where the policy runs", choices=DEVICES)


@dataclass
class RecordSettings(TrainedSettings):
    """``train-agent record RUN_DIR``: videos of sessions a trained run plays."""

    format: str = setting("mp4", "video file format", choices=VIDEO_FORMATS)
    out: str | None = setting(None, "output file without suffix (default: "
                              "RUN_DIR/videos/record-seed<S>)")
    side_by_side: bool = setting(True, "show the frame difference the agent saw next to the game")


@dataclass
class PlaySettings(Settings):
    """``train-agent play [RUN_DIR]``: a person against a trained Pong agent, or alone."""

    run_dir: str | None = setting(None, f"a {PONG} run to play against", positional=True,
                                  metavar="RUN_DIR")
    env: str | None = setting(None, f"without RUN_DIR: the game to play alone (default "
                              f"{AIR_HOCKEY})", choices=(AIR_HOCKEY, PONG))

    def check(self) -> None:
        if self.run_dir is not None and self.env is not None:
            raise RunError("give RUN_DIR (play its agent) or --env (play alone), not both")


def run_evaluate(argv: list[str]) -> int:
    ns = parse_settings(TrainedSettings, argv, f"{COMMAND} evaluate",
                        "Win rate of a trained run over K sessions.")
    ev = evaluate_run(Path(ns.run_dir), ns.sessions, ns.seed, ns.stochastic, ns.device)
    print(f"win rate {ev.win_rate:.3f} over {ev.sessions:,} sessions "
          f"({'sampled actions' if ns.stochastic else 'greedy'}), "
          f"mean session reward {ev.session_reward:+.3f}")
    return 0


def run_record(argv: list[str]) -> int:
    ns = parse_settings(RecordSettings, argv, f"{COMMAND} record",
                        "Videos of K sessions played by a trained run.")
    for path in record_run(Path(ns.run_dir), ns.sessions, ns.seed, ns.stochastic, ns.device,
                           ns.format, ns.out, ns.side_by_side):
        print(path)
    return 0


def run_play(argv: list[str]) -> int:
    from pucklab.agents.play import game, play_game

    ns = parse_settings(PlaySettings, argv, f"{COMMAND} play", f"Play against a trained agent "
                        f"of {PONG} (you: the left paddle), or alone without RUN_DIR. Arrow "
                        "keys or W/S move your paddle; Esc or closing the window quits.")
    play_game(game(Path(ns.run_dir) if ns.run_dir else None, ns.env))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    return dispatch(COMMAND, argv, {"train": run_train, "evaluate": run_evaluate,
                                    "record": run_record, "play": run_play}, default=run_train)


if __name__ == "__main__":
    sys.exit(main())
