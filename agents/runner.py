"""``train-agent`` as one library call: ``run(settings, run_dir=None, *, report=None)``.

>>> from pucklab.agents import AgentSettings, run                      # doctest: +SKIP
>>> result = run(AgentSettings(total_steps=640_000, seed=0))          # doctest: +SKIP
>>> result.metrics["eval_win_rate"]                                   # doctest: +SKIP

A run folder holds ``config.json`` (which command, every resolved setting), ``metrics.csv`` +
TensorBoard events, ``checkpoints/last.pt``, ``learning_curve.png`` and ``videos/``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pucklab.agents import reinforce
from pucklab.agents.env_setup import make_env
from pucklab.agents.harness import CHECKPOINT_KEYS, COMMAND, Harness
from pucklab.agents.settings import AgentSettings
from pucklab.runs.device import resolve_device
from pucklab.runs.lifecycle import open_run
from pucklab.runs.result import Report, RunResult
from pucklab.runs.store import RunError, load_checkpoint
from pucklab.runs.sweep_study import Trainable

Train = Callable[[AgentSettings, Path, "dict[str, Any] | None", "Report | None"], Harness]


def _trainer(algo: str) -> Train:
    """The training function of ``algo``: REINFORCE's, or stable-baselines3's (imported only
    for its algorithms: it takes a second to load)."""
    if algo == "reinforce":
        return reinforce.train
    from pucklab.agents import sb3

    return sb3.train


def run(settings: AgentSettings, run_dir: Path | str | None = None, *,
        report: Report | None = None, resume: bool = False) -> RunResult:
    """Train an agent with ``settings`` in ``run_dir`` (default ``runs/<env>-<algo>__<time>``).

    Args:
        settings: What to train (validated here; the per-algorithm defaults are filled in).
        run_dir: The run folder; with ``resume=True``, a folder this command wrote.
        report: ``report(env_steps, metrics)`` after each evaluation; if it raises, the run
            writes its checkpoint and lets the exception through.
        resume: Continue the run in ``run_dir`` from its last checkpoint.

    Returns:
        The run folder and its final metrics: ``eval_win_rate``, ``eval_session_reward``,
        ``eval_sessions``, ``env_steps``, ``sessions``, ``updates``, ``wall_time_s``.
    """
    settings.validate()
    settings = settings.resolved()
    device = resolve_device(settings.device)  # fail before a run folder exists
    total_steps, seconds = settings.budget()

    def load(path: Path) -> dict[str, Any]:
        state = load_checkpoint(path, command=COMMAND, keys=CHECKPOINT_KEYS)
        if state.get("env") != settings.env or state.get("algo") != settings.algo:
            raise RunError(f"{path} holds a {state.get('algo')} checkpoint for "
                           f"{state.get('env')}, not {settings.algo} on {settings.env}")
        return state

    with open_run(COMMAND, settings, run_dir, resume=resume, load=load,
                  name=f"{settings.env.replace('/', '-')}-{settings.algo}",
                  facts={"resolved": {"device": str(device), "total_steps": total_steps,
                                      "seconds": seconds}}) as opened:
        harness = _trainer(settings.algo)(settings, opened.dir, opened.state, report)
    c, ev = harness.c, harness.final
    assert ev is not None
    return RunResult(opened.dir, {
        "eval_win_rate": ev.win_rate, "eval_session_reward": ev.session_reward,
        "eval_sessions": float(ev.sessions), "env_steps": float(c.env_steps),
        "sessions": float(c.sessions), "updates": float(c.updates),
        "wall_time_s": c.wall_time_s}, files=harness.files, details=c)


def check(settings: AgentSettings) -> None:
    """What :func:`run` checks before it starts, without starting: the settings, the device, and
    that the env can be made with its kwargs (``--print-config`` and sweeps call it)."""
    settings.validate()
    settings = settings.resolved()
    resolve_device(settings.device)
    make_env(settings.env, 1, settings.env_kwargs, noop=settings.noop,
             observation=settings.observation).close()


METRICS = ("eval_win_rate", "eval_session_reward", "eval_sessions", "env_steps", "sessions",
           "updates", "wall_time_s")

#: What ``sweep train-agent`` searches with: the final evaluation win rate, maximised.
TRAINABLE = Trainable(COMMAND, AgentSettings, run, metric="eval_win_rate", direction="maximize",
                      metrics=METRICS, check=check)
