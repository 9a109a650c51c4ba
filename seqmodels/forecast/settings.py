"""Every setting of a ``forecast`` run: the data, the model, the evaluation, the trainer's.

The flags, ``--config`` files, ``--print-config`` and ``config.json`` all come from
:class:`ForecastSettings` (see :mod:`pucklab.runs.settings`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pucklab.runs.settings import MAX_SEED, Settings, setting
from pucklab.runs.store import RunError
from pucklab.seqmodels.cells import CELLS
from pucklab.seqmodels.forecast.metrics import BASELINES
from pucklab.seqmodels.forecast.model import STRATEGIES
from pucklab.seqmodels.forecast.series import MISSING
from pucklab.seqmodels.forecast.windows import DIFFERENCES
from pucklab.seqmodels.layers import IMPLS
from pucklab.seqmodels.train_config import TrainConfig

ENSEMBLE = 5  # networks per run by default
DEFAULT_EPOCHS = 300.0  # when no budget is given; early stopping usually ends a run far sooner


def forecast_training() -> TrainConfig:
    """The trainer's defaults for forecasting. Small data: many short epochs, validation every
    epoch, stop after 30 without progress, lower the LR on a plateau of 10."""
    return TrainConfig(optimizer="adam", lr=1e-3, clip=1.0, patience=30, log_every=5,
                       schedule="plateau", plateau_patience=10)


@dataclass
class ForecastSettings(Settings):
    """Data, model and evaluation settings of a forecasting run (the trainer's: ``train``)."""

    dataset: str | None = setting(None, "a statsmodels data set: sunspots, co2, nile, ... "
                                  "(sunspots when no --csv)")
    csv: str | None = setting(None, "your own series, one row per time", metavar="FILE")
    column: str | None = setting(None, "the column to forecast (default: the only numeric one)")
    time_column: str | None = setting(None, "the column of dates or numbers that orders the rows")
    missing: str = setting("interpolate", "missing values: fill interior gaps linearly "
                           "(dropping leading/trailing ones) or stop", choices=MISSING)
    resample: str | None = setting(None, "average onto a pandas frequency first, e.g. MS for "
                                   "monthly (needs dates)", metavar="FREQ")
    season: int | None = setting(None, "seasonal period (default: from the frequency, 12 for "
                                 "monthly, 1 when unknown)", low=1)
    difference: str = setting("auto", "model differences instead of levels so trends "
                              "extrapolate; deseason(+first): exponential smoothing's seasonal "
                              "indices out first (an ES-RNN-style hybrid, only when asked); "
                              "auto tries none, first, seasonal, both and keeps the one that "
                              "forecasts the validation part best",
                              choices=("auto", *DIFFERENCES))
    horizon: int = setting(10, "steps to forecast", low=1)
    lookback: int | None = setting(None, "input window (default: chosen on the validation "
                                   "part from max(3 x horizon, 2 x season), half and double "
                                   "that)", low=1)
    val_frac: float = setting(0.15, "validation part (where the model is chosen)", above=0,
                              below=1)
    test_frac: float = setting(0.2, "test part, backtested", above=0, below=1)
    origin_step: int = setting(1, "steps between backtest origins", low=1)
    cell: str = setting("lstm", "recurrent cell", choices=tuple(CELLS))
    impl: str = setting("fused", "fused torch.nn kernels or our explicit cells", choices=IMPLS)
    hidden: int = setting(64, "hidden units", low=1)
    layers: int = setting(1, "recurrent layers", low=1)
    dropout: float = setting(0.0, "dropout", low=0, below=1)
    strategy: str = setting("direct", "emit all H steps at once, or one step fed back H times",
                            choices=STRATEGIES)
    autoregressive: bool = setting(True, "add a linear autoregression on the lookback window "
                                   "to the network's output (LSTNet's highway), so forecasts "
                                   "keep the input's level; off: the network alone")
    batch_size: int = setting(32, "windows per batch", low=1)
    seeds: list[int] = setting(help="one network per seed; they forecast as an ensemble (the "
                               "mean of their forecasts); the first --select-seeds of "
                               "them choose the differencing and lookback",
                               default_factory=lambda: list(range(ENSEMBLE)), flag="--seed",
                               metavar="SEED", low=0, high=MAX_SEED)
    select_seeds: int = setting(2, "networks per candidate while the differencing and "
                                "lookback are chosen (the first N seeds; more: a choice that "
                                "depends less on the seeds, and a slower run)", low=1)
    baselines: list[str] = setting(help="which baselines to run",
                                   default_factory=lambda: list(BASELINES), choices=BASELINES,
                                   metavar="NAME")
    train: TrainConfig = field(default_factory=forecast_training)

    def check(self) -> None:
        if self.csv is not None and self.dataset is not None:
            raise RunError("give exactly one of --dataset or --csv")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise RunError("--seed takes one or more distinct integers")

    def resolved(self) -> ForecastSettings:
        """sunspots when no data is named; :data:`DEFAULT_EPOCHS` when no budget is given."""
        changes: dict[str, Any] = {}
        if self.csv is None and self.dataset is None:
            changes["dataset"] = "sunspots"
        if not self.train.budget_given():
            changes["epochs"] = DEFAULT_EPOCHS
        return self.replace(**changes) if changes else self

    def source(self) -> str:
        return self.dataset if self.dataset else Path(self.csv or "csv").stem
