"""Forecast the future from a trained run with its default forecaster: the network ensemble
(every seed's final network, averaged), combined with ETS and ARIMA with the weights the
calibration part gave, and its prediction intervals."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from shlex import quote
from typing import Any

import numpy as np
import torch

from pucklab.runs.device import resolve_device
from pucklab.runs.store import (
    LAST_CHECKPOINT,
    RunError,
    checkpoint_path,
    load_config,
    saved_fact,
)
from pucklab.seqmodels.forecast import metrics as fc
from pucklab.seqmodels.forecast.combine import (
    LEVELS,
    Combination,
    Conformal,
    quantile_average,
)
from pucklab.seqmodels.forecast.fit import FINAL, kept_network, seed_dir
from pucklab.seqmodels.forecast.model import Forecaster
from pucklab.seqmodels.forecast.runner import saved_settings
from pucklab.seqmodels.forecast.task import load
from pucklab.seqmodels.forecast.windows import Transform


@dataclass
class Prediction:
    """The next H steps: their times, the default forecast, its intervals, each seed's."""

    times: list[Any]
    forecast: np.ndarray  # (H,) the default forecaster's
    bounds: dict[float, tuple[np.ndarray, np.ndarray]]  # level -> (lower, upper), (H,) each
    per_seed: np.ndarray  # (S, H) each network's
    weights: dict[str, float]  # what the default combines, and how


def load_models(run_dir: Path | str) -> tuple[list[Forecaster], Transform]:
    """The final network of every seed of a run, and the scaler they were trained with."""
    args = saved_settings(run_dir)
    models, transform = [], None
    for seed in args.seeds:
        d = seed_dir(Path(run_dir) / FINAL, seed)
        if not checkpoint_path(d, LAST_CHECKPOINT).is_file():
            raise RunError(f"{run_dir} has no trained model for seed {seed}; finish it with "
                           f"forecast --resume {quote(str(run_dir))}")
        model, transform = kept_network(d, LAST_CHECKPOINT)
        models.append(model)
    assert transform is not None
    return models, transform


def predict(run_dir: Path | str, dataset: str | None = None, csv_path: str | None = None,
            column: str | None = None, time_column: str | None = None, device: str = "cpu"
            ) -> Prediction:
    """Forecast the H steps after the end of a series (the run's own, or the one given), with
    the networks on ``device`` and the members and weights the run chose."""
    dev = resolve_device(device)
    args = saved_settings(run_dir)
    if dataset is not None or csv_path is not None:
        same_kind_csv = csv_path is not None and args.csv is not None
        args.column = column if column is not None else (args.column if same_kind_csv else None)
        args.time_column = time_column if time_column is not None else (
            args.time_column if same_kind_csv else None)
        args.dataset, args.csv = dataset, csv_path
    config = load_config(run_dir)
    if not all(k in config for k in ("selection", "combination", "intervals", "members")):
        raise RunError(f"{run_dir} has not finished (no forecaster was chosen); finish it with "
                       f"forecast --resume {quote(str(run_dir))}")
    models, transform = load_models(run_dir)
    series = load(args)
    lookback = saved_fact(run_dir, "series", "lookback", kind=int)
    need = lookback + transform.offset
    if len(series) < need:
        raise RunError(f"the series has {len(series)} points; this run needs the last {need} "
                       f"(--lookback {lookback} + {transform.offset} for differencing)")
    z = transform.forward(series.values)
    x = torch.tensor(z[-lookback:], dtype=torch.float32, device=dev).unsqueeze(0)
    with torch.no_grad():
        per_seed = np.stack([transform.inverse(series.values,
                                               m.to(dev).forecast(x)[0].double().cpu().numpy())
                             for m in models])
    weights = Combination.from_dict(config["combination"]).weights
    last = np.array([len(series) - 1])
    rebuilt = {m: fc.rebuild(config["members"][m]) for m in weights if m != "network"}
    parts = {"network": per_seed.mean(axis=0),
             **{m: f(series.values, last, args.horizon)[0] for m, f in rebuilt.items()}}
    forecast = np.sum([w * parts[m] for m, w in weights.items()], axis=0)
    conformal = Conformal.from_dict(config["intervals"])
    if config["intervals"].get("of") != "network":  # a run from before quantile averaging
        bounds = {lv: conformal.bounds(forecast, lv) for lv in LEVELS}
    else:
        by_member = {"network": {lv: conformal.bounds(parts["network"], lv) for lv in LEVELS}}
        for m, f in rebuilt.items():
            ends = f.intervals(series.values, last, args.horizon, LEVELS)
            by_member[m] = {lv: (lo[0], hi[0]) for lv, (lo, hi) in ends.items()}
        bounds = quantile_average(by_member, weights)
    return Prediction(series.future_index(args.horizon), forecast, bounds, per_seed, weights)
