"""pucklab.runs: the run plumbing shared by agents and seqmodels, written once.

    settings      a command's settings dataclass: fields made with ``setting(...)``, validation
    cli           settings -> flags, ``--config`` / ``--print-config``, one-line errors, exit codes
    config_files  TOML / YAML settings files, and settings written back as TOML
    lifecycle     ``open_run``: claim or resume a folder, lock, config.json, the end of a run
    stopping      the stop flag (Ctrl-C, SIGTERM taken at the end of a step) and ``Interrupted``
    result        ``RunResult``, ``Stop`` and the ``report`` callback of the run API
    store         run folders, config.json, atomic writes, checkpoints (``weights_only`` load)
    metrics       metrics.csv + TensorBoard, curve plots
    figures       headless figures, progress bars
    device        ``--device`` choices; rng: RNG state; optim: optimisers by name
    lab           the ``lab`` runner (the experiments live beside what they study)
    stats         intervals over seeds, the one decision rule, sanity checks
    provenance    what produced a results file, and whether its code changed since
    tables        rows as markdown and CSV (intervals as mean [low, high])
    sweep, sweep_study, sweep_report, search_space   the ``sweep`` command on Optuna
    launch        the console scripts (import-light: Ctrl-C while torch loads is one line)
    registry      every built-in command, trainable and lab experiment, by name

Import names from their module (``from pucklab.runs.store import RunError``): this file imports
nothing, so that ``pucklab.runs.launch`` starts without torch or matplotlib.

The folder doubles as the default output place: commands write their runs to
``./runs/<name>/``, and those subfolders are git-ignored.
"""
