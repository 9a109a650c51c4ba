"""The rolling-origin backtest of a forecast run: the default forecaster, the network ensemble,
the combination and the baselines, on the same test origins, with prediction intervals.

Rows, in this order (``backtest.csv``; the first is what ``forecast predict`` uses):

- ``default``: the network ensemble, ETS and ARIMA weighted by their inverse MSE on the
  calibration part (:mod:`.combine`, :mod:`.calibrate`); its intervals the same weighted
  mean of the members' interval ends (quantile averaging);
- the cell's name (``lstm`` ...): the ensemble, the mean forecast of every seed's network, with
  the spread of the seeds' own MASE beside it (``mase_std``; each seed's row is in
  ``backtest_seeds.csv``) and its conformal intervals, calibrated on the calibration part;
- ``combination``: the equal mean of the network ensemble, ETS and ARIMA, fixed in advance,
  its intervals averaged equally;
- the baselines (naive, seasonal naive, drift, ETS, ARIMA); ETS and ARIMA with their own
  model-based intervals from statsmodels.

The members of ``default`` are fitted for the calibration part on the points before it (the
networks for as many epochs as their early stopping found best), and for the test part on
everything before it, as every model of the backtest is (the networks' final fits, as long).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pucklab.seqmodels.forecast import metrics as fc
from pucklab.seqmodels.forecast.calibrate import VALIDATION, Calibration
from pucklab.seqmodels.forecast.combine import (
    LEVELS,
    Bounds,
    Combination,
    Conformal,
    combined,
    equal,
    inverse_mse_weights,
    quantile_average,
)
from pucklab.seqmodels.forecast.fit import ensemble_forecasts
from pucklab.seqmodels.forecast.model import Forecaster
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
    conformal: Conformal  # the network ensemble's interval offsets (the default's average
    # them with ETS's and ARIMA's own: combine.quantile_average)
    members: dict[str, dict[str, Any]] = field(default_factory=dict)  # ets / arima parameters
    val_mase: float = float("nan")  # the network ensemble's validation MASE


def run_backtest(prep: Prepared, final: Prepared, settings: ForecastSettings,
                 val_models: dict[int, Forecaster], models: dict[int, Forecaster],
                 val_scale: float, calibration: Calibration | None = None) -> Outcome:
    """Every row on the test origins, from ``models`` (the final fits, on ``final``'s scaler);
    the default's weights and intervals from ``calibration`` (:mod:`.calibrate`), or, without
    one, from the validation origins, where ``val_models`` (trained on the training part, with
    ``prep``'s scaler) and ETS and ARIMA fitted on the training part forecast."""
    y, h, cell = prep.y, settings.horizon, settings.cell
    origins = prep.split.test_origins()
    actual = fc.actuals(y, origins, h)
    per_seed = ensemble_forecasts(models, final, origins)
    seed_table = {f"{cell}/seed-{s}": fc.scores(actual, f, prep.scale)
                  for s, f in per_seed.items()}
    net = np.mean(list(per_seed.values()), axis=0)
    on_validation = Calibration(VALIDATION, prep, val_models, val_scale)
    held = calibration or on_validation

    members = [m for m in ("ets", "arima") if m in settings.baselines]
    fitted = fc.baseline_forecasters(y[:prep.split.test_start], prep.season,
                                     tuple(settings.baselines))
    made = {name: make() for name, make in fitted.items()}  # fitted before the test part
    baselines = {name: f(y, origins, h) for name, f in made.items()}
    try:
        h_forecasts = held.forecasts(members)
    except (ValueError, np.linalg.LinAlgError):  # ETS or ARIMA cannot fit the shorter start
        held = on_validation
        h_forecasts = held.forecasts(members)
    h_actual = held.actual()
    weights = inverse_mse_weights(h_forecasts, h_actual, held.scale, held.part)
    test_members: dict[str, np.ndarray] = {"network": net}
    test_members.update({m: baselines[m] for m in members})
    default = combined(test_members, weights.weights)
    conformal = Conformal.fit(h_actual, h_forecasts["network"])
    fixed = equal(tuple(test_members))
    everything = combined(test_members, fixed)

    forecasts: dict[str, np.ndarray] = {DEFAULT: default, cell: net, COMBINATION: everything,
                                        **baselines}
    bounds: dict[str, Bounds] = {cell: {lv: conformal.bounds(net, lv) for lv in LEVELS}}
    for m in members:
        one_pass = made[m]
        assert isinstance(one_pass, fc.OnePass)
        bounds[m] = one_pass.intervals(y, origins, h, LEVELS)
    by_member: dict[str, Bounds] = {"network": bounds[cell], **{m: bounds[m] for m in members}}
    bounds[DEFAULT] = quantile_average(by_member, weights.weights)
    bounds[COMBINATION] = quantile_average(by_member, fixed)
    params = {m: made[m].params for m in weights.members  # type: ignore[attr-defined]
              if m in made}
    v_net = h_forecasts["network"] if held is on_validation else \
        on_validation.forecasts([])["network"]
    v_mase = fc.mase(on_validation.actual(), v_net, val_scale)
    return Outcome(fc.Backtest(origins, actual, forecasts, prep.scale), seed_table, bounds,
                   weights, conformal, params, v_mase)
