"""What a sweep writes: results.csv, results.md, best.toml and figures.

``results.csv``: one row per trial (number, state, each parameter, the objective, seconds, run
folder; with ``--seeds K`` the objective is the seeds' mean, and their standard deviation and
values follow it). ``results.md``: the space, the best trial, the top ten and parameter importances.
``best.toml``: the best trial's settings, loadable by the command's ``--config``. results.md
ends with the sweep's provenance (the command, commit, code fingerprint of the command's half,
machine; with ``--seeds K`` the seed offsets 0..K-1), which ``lab check`` holds against the code. Figures from
``optuna.visualization.matplotlib``: optimisation history, importances, objective against each
parameter.
"""

from __future__ import annotations

import csv
import io
import math
import warnings
from pathlib import Path
from typing import Any

from pucklab.runs.config_files import to_toml
from pucklab.runs.figures import save_figure
from pucklab.runs.provenance import stamp
from pucklab.runs.store import atomic_write
from pucklab.runs.sweep_study import SweepConfig, Trainable
from pucklab.runs.tables import markdown_table


def rows(study: Any, cfg: SweepConfig) -> list[dict[str, Any]]:
    out = []
    for t in study.get_trials(deepcopy=False):
        seconds = ((t.datetime_complete - t.datetime_start).total_seconds()
                   if t.datetime_complete and t.datetime_start else math.nan)
        out.append({"trial": t.number, "state": t.state.name.lower(),
                    **{p.name: t.params.get(p.name, "") for p in cfg.space()},
                    cfg.metric: t.value if t.value is not None else math.nan,
                    **({"seed_std": t.user_attrs.get("seed_std", math.nan),
                        "seed_values": " ".join(f"{v:.5g}" for v in
                                                t.user_attrs.get("seed_values", []))}
                       if cfg.seeds > 1 else {}),
                    "seconds": round(seconds, 1), "run_dir": t.user_attrs.get("run_dir", ""),
                    **({"stage": t.user_attrs.get("stage", "")}
                       if cfg.sampler == "coarse-to-fine" else {})})
    return out


def importances(study: Any) -> dict[str, float]:
    import optuna

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return optuna.importance.get_param_importances(study)
    except (RuntimeError, ValueError):  # too few finished trials, or a single value each
        return {}


def best_trial(study: Any) -> Any:
    try:
        return study.best_trial
    except ValueError:  # nothing finished yet
        return None


def write_results(run_dir: Path, study: Any, cfg: SweepConfig, trainable: Trainable) -> str:
    """Every file of the sweep so far; returns the markdown summary."""
    table = rows(study, cfg)
    columns = list(table[0]) if table else ["trial", "state", cfg.metric]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(table)
    atomic_write(run_dir / "results.csv", lambda f: f.write(buf.getvalue().encode()))
    best = best_trial(study)
    if best is not None:
        settings = trainable.settings.from_dict({**cfg.fixed, **best.params})
        title = f"{cfg.command} settings of sweep trial {best.number} ({cfg.metric} {best.value:.6g})"
        atomic_write(run_dir / "best.toml", lambda f: f.write(to_toml(settings, title).encode()))
    md = summary(study, cfg, table, best)
    made = stamp(trainable.run.__module__, cfg.extra.get("command", f"sweep {cfg.command}"),
                 range(cfg.seeds) if cfg.seeds > 1 else ())
    text = md + "\n" + made.markdown()
    atomic_write(run_dir / "results.md", lambda f: f.write(text.encode()))
    draw(run_dir, study, cfg)
    return md


def summary(study: Any, cfg: SweepConfig, table: list[dict[str, Any]], best: Any) -> str:
    states = {s: sum(r["state"] == s for r in table) for s in ("complete", "pruned", "fail")}
    lines = [f"# sweep {cfg.command}", "",
             f"{len(table)} trials ({states['complete']} complete, {states['pruned']} pruned, "
             f"{states['fail']} failed); sampler {cfg.sampler}, pruner {cfg.pruner}, seed "
             f"{cfg.seed}; {cfg.direction} {cfg.metric}"
             + (f", the mean of {cfg.seeds} seed runs per trial" if cfg.seeds > 1 else "")
             + ".", "", "Space:", ""]
    lines += [f"- {p.describe()}" for p in cfg.space()]
    if cfg.fixed:
        lines += ["", "Fixed: " + ", ".join(f"{k} = {v}" for k, v in cfg.fixed.items())]
    if cfg.sampler == "coarse-to-fine":
        lines += ["", "Stages (ranges around the best quarter of the finished trials):", ""]
        seen: dict[Any, Any] = {}
        for t in study.get_trials(deepcopy=False):
            seen.setdefault(t.user_attrs.get("stage"), t.user_attrs.get("ranges"))
        lines += [f"- stage {s}: {r or 'the whole space'}" for s, r in sorted(
            (k, v) for k, v in seen.items() if k is not None)]
    if best is not None:
        lines += ["", f"Best: trial {best.number}, {cfg.metric} {best.value:.6g}, "
                  + ", ".join(f"{k} = {v:.4g}" if isinstance(v, float) else f"{k} = {v}"
                              for k, v in best.params.items())
                  + " (settings in best.toml)"]
    done = [r for r in table if r["state"] == "complete"]
    top = sorted(done, key=lambda r: r[cfg.metric], reverse=cfg.direction == "maximize")[:10]
    if top:
        lines += ["", "Top ten:", "", markdown_table(list(top[0]), top)]
    imp = importances(study)
    if imp:
        lines += ["", "Parameter importances (fANOVA): "
                  + ", ".join(f"{k} {v:.2f}" for k, v in imp.items())]
    return "\n".join(lines) + "\n"


def draw(run_dir: Path, study: Any, cfg: SweepConfig) -> None:
    """history.png, importances.png (when computable), slice.png; silent on too few trials."""
    from optuna.visualization import matplotlib as vis

    from pucklab.runs.figures import pyplot

    pyplot()  # the Agg backend, before optuna touches matplotlib
    plots: dict[str, Any] = {"history.png": vis.plot_optimization_history,
                             "slice.png": vis.plot_slice}
    if importances(study):
        plots["importances.png"] = vis.plot_param_importances
    for name, plot in plots.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # optuna marks its matplotlib plots experimental
            try:
                ax = plot(study)
            except (ValueError, RuntimeError):
                continue
            fig = (ax.flat[0] if hasattr(ax, "flat") else ax).figure
            if name == "slice.png":
                _arrange_slices(fig, list(ax.flat) if hasattr(ax, "flat") else [ax])
            else:
                fig.set_size_inches(9, 4.5)
                fig.tight_layout()
        save_figure(fig, run_dir / name)


def _arrange_slices(fig: Any, panels: list[Any]) -> None:
    """A panel per parameter, optuna's colour bar (trial number) clear of them on the right,
    and log axes labelled at the decades only."""
    from matplotlib.ticker import NullFormatter

    fig.set_size_inches(max(9.0, 2.8 * len(panels) + 2), 4.5)
    fig.subplots_adjust(left=0.07, right=0.88, bottom=0.15, wspace=0.3)
    for bar in set(fig.axes) - set(panels):
        bar.set_position([0.91, 0.15, 0.015, 0.73])
    for panel in panels:
        if panel.get_xscale() == "log":
            panel.xaxis.set_minor_formatter(NullFormatter())


def format_rows(table: list[dict[str, Any]], metric: str) -> str:
    """The printed table: every trial, best marked."""
    if not table:
        return "no trials yet"
    return markdown_table(list(table[0]), table, {metric: ".5g"})
