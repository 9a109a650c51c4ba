"""The rolling-origin backtest of a forecast run: the default forecaster, the network ensemble,
the combination and the baselines, on the same test origins, with prediction intervals.

Rows, in this order (``backtest.csv``; the first is what ``forecast predict`` uses):

- ``default``: the network ensemble, ETS and ARIMA weighted by their inverse validation MSE
  (:mod:`.combine`), with split-conformal intervals calibrated on the validation part;
- the cell's name (``lstm`` ...): the ensemble, the mean forecast of every seed's network, with
  the spread of the seeds' own MASE beside it (``mase_std``; each seed's row is in
  ``backtest_seeds.csv``) and its conformal intervals;
- ``combination``: the equal mean of the network ensemble, ETS and ARIMA, fixed in advance;
- the baselines (naive, seasonal naive, drift, ETS, ARIMA); ETS and ARIMA with their own
  model-based intervals from statsmodels.

The members of ``default`` are fitted for the validation part on the training part only (the
networks early-stopped there), and for the test part on everything before it, as every model
of the backtest is (the networks' final fits, for as many epochs as their early stopping
found best).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pucklab.seqmodels.forecast import metrics as fc
from pucklab.seqmodels.forecast.combine import (
    LEVELS,
    Bounds,
    Combination,
    Conformal,
    combined,
    equal,
    inverse_mse_weights,
)
from pucklab.seqmodels.forecast.fit import ensemble_forecasts
from pucklab.seqmodels.forecast.model import Forecaster
from pucklab.seqmodels.forecast.select import validation_origins
from pucklab.seqmodels.forecast.settings import ForecastSettings
from pucklab.seqmodels.forecast.task import Prepared

DEFAULT = "default"
COMBINATION = "combination"


@dataclass
class Outcome:
    """What the backtest computed, and what ``forecast predict`` needs to repeat it."""

    backtest: fc.Backtest
    seed_table: dict[str, dict[str, float]]  # "lstm/seed-0" -> its metrics
    bounds: dict[str, Bounds]  # model -> level -> (lower, upper), (O, H) each
    combination: Combination
    conformal: Conformal  # the default forecaster's interval offsets
    members: dict[str, dict[str, Any]] = field(default_factory=dict)  # ets / arima parameters
    val_mase: float = float("nan")  # the network ensemble's validation MASE


def run_backtest(prep: Prepared, final: Prepared, settings: ForecastSettings,
                 val_models: dict[int, Forecaster], models: dict[int, Forecaster],
                 val_scale: float) -> Outcome:
    """Every row on the test origins, from ``models`` (the final fits, on ``final``'s scaler);
    the default's weights and intervals from the validation origins, where ``val_models``
    (trained on the training part, with ``prep``'s scaler) and ETS and ARIMA fitted on the
    training part forecast."""
    y, h, season, cell = prep.y, settings.horizon, prep.season, settings.cell
    sp = prep.split
    origins, v_origins = sp.test_origins(), validation_origins(prep)
    actual, v_actual = fc.actuals(y, origins, h), fc.actuals(y, v_origins, h)
    per_seed = ensemble_forecasts(models, final, origins)
    seed_table = {f"{cell}/seed-{s}": fc.scores(actual, f, prep.scale)
                  for s, f in per_seed.items()}
    net = np.mean(list(per_seed.values()), axis=0)
    v_net = np.mean(list(ensemble_forecasts(val_models, prep, v_origins).values()), axis=0)

    members = [m for m in ("ets", "arima") if m in settings.baselines]
    fitted = fc.baseline_forecasters(y[:sp.test_start], season, tuple(settings.baselines))
    made = {name: make() for name, make in fitted.items()}  # fitted before the test part
    baselines = {name: f(y, origins, h) for name, f in made.items()}
    on_train = fc.baseline_forecasters(y[:sp.val_start], season, tuple(members))
    v_forecasts: dict[str, np.ndarray] = {"network": v_net}
    v_forecasts.update({m: make()(y, v_origins, h) for m, make in on_train.items()})
    weights = inverse_mse_weights(v_forecasts, v_actual, val_scale)
    test_members: dict[str, np.ndarray] = {"network": net}
    test_members.update({m: baselines[m] for m in members})
    default = combined(test_members, weights.weights)
    conformal = Conformal.fit(v_actual, combined(v_forecasts, weights.weights))
    fixed = equal(tuple(test_members))
    everything = combined(test_members, fixed)

    forecasts: dict[str, np.ndarray] = {DEFAULT: default, cell: net, COMBINATION: everything,
                                        **baselines}
    bounds: dict[str, Bounds] = {
        DEFAULT: {lv: conformal.bounds(default, lv) for lv in LEVELS},
        cell: {lv: Conformal.fit(v_actual, v_net).bounds(net, lv) for lv in LEVELS},
        COMBINATION: {lv: Conformal.fit(v_actual, combined(v_forecasts, fixed))
                      .bounds(everything, lv) for lv in LEVELS}}
    for m in members:
        one_pass = made[m]
        assert isinstance(one_pass, fc.OnePass)
        bounds[m] = one_pass.intervals(y, origins, h, LEVELS)
    params = {m: made[m].params for m in weights.members  # type: ignore[attr-defined]
              if m in made}
    v_mase = float(np.mean(np.abs(v_actual - v_net)) / val_scale)
    return Outcome(fc.Backtest(origins, actual, forecasts, prep.scale), seed_table, bounds,
                   weights, conformal, params, v_mase)
