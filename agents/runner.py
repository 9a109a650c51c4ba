"""``train-agent`` as one library call: ``run(settings, run_dir=None, *, report=None)``.

>>> from pucklab.agents import AgentSettings, run                      # doctest: +SKIP
>>> result = run(AgentSettings(total_steps=640_000, seed=0))          # doctest: +SKIP
>>> result.metrics["eval_win_rate"]                                   # doctest: +SKIP

A run folder holds ``config.json`` (which command, every resolved setting), ``metrics.csv`` +
TensorBoard events, ``checkpoints/last.pt``, ``learning_curve.png`` and ``videos/``.
"""

from __future__ import annotations

from pathlib import Path

from pucklab.agents import reinforce, sb3
from pucklab.agents.harness import CHECKPOINT_KEYS, COMMAND
from pucklab.agents.settings import AgentSettings
from pucklab.runs import (
    Report,
    RunError,
    RunResult,
    claim_run_dir,
    discard_unstarted,
    load_checkpoint,
    resolve_device,
    run_lock,
    save_run_config,
)
from pucklab.runs.sweep_study import Trainable

TRAINERS = {"reinforce": reinforce.train, "ppo": sb3.train, "a2c": sb3.train}


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
    state = None
    if resume:
        if run_dir is None:
            raise RunError("resume needs the run folder")
        path = Path(run_dir)
        state = load_checkpoint(path, command=COMMAND, keys=CHECKPOINT_KEYS)
        if state.get("env") != settings.env or state.get("algo") != settings.algo:
            raise RunError(f"{path} holds a {state.get('algo')} checkpoint for "
                           f"{state.get('env')}, not {settings.algo} on {settings.env}")
    else:
        path = claim_run_dir(run_dir, f"{settings.env.replace('/', '-')}-{settings.algo}")
    total_steps, seconds = settings.budget()
    with run_lock(path, new=not resume):
        try:
            device = resolve_device(settings.device)
            save_run_config(path, COMMAND, settings, resolved={
                "device": str(device), "total_steps": total_steps, "seconds": seconds})
            harness = TRAINERS[settings.algo](settings, path, state, report)
        except RunError:
            if not resume:
                discard_unstarted(path)  # a bad env id must not leave an empty run behind
            raise
    c, ev = harness.c, harness.final
    assert ev is not None
    return RunResult(path, {
        "eval_win_rate": ev.win_rate, "eval_session_reward": ev.session_reward,
        "eval_sessions": float(ev.sessions), "env_steps": float(c.env_steps),
        "sessions": float(c.sessions), "updates": float(c.updates),
        "wall_time_s": c.wall_time_s}, files=harness.files, details=c)


#: What ``sweep train-agent`` searches with: the final evaluation win rate, maximised.
TRAINABLE = Trainable(COMMAND, AgentSettings, run, metric="eval_win_rate", direction="maximize")
