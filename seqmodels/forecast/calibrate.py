"""The part of the series where the default forecaster's weights and intervals are set.

The validation part chooses the network: its differencing, its lookback (the best of about six
candidates) and its epochs (early stopping). So the network's validation error is its *best*
error of many tries, and it is optimistic: on the 11-series benchmark the network's validation
MSE relative to ARIMA's was lower than on the test part on every series (a median 0.65 of the
test ratio). Weights set there lean on the network more than it earns, and conformal intervals
calibrated there are too narrow.

So weights and intervals come from a **calibration part**: the stretch just before the
validation part, as long as it. Every member is fitted before it -- ETS and ARIMA on the points
before it, the network as chosen (same differencing, lookback and epochs, every seed, its scaler
refitted) on the windows whose targets lie before it -- and forecasts it, origin by origin, as
the test part is forecast. Nothing chosen on the validation part saw it, so every member's error
there is a fair one. Where the series is too short to spare it, the validation part serves, as
before, and ``config.json`` says which part it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from pucklab.runs.store import RunError
from pucklab.seqmodels.forecast import metrics as fc
from pucklab.seqmodels.forecast.fit import ensemble_forecasts
from pucklab.seqmodels.forecast.model import Forecaster
from pucklab.seqmodels.forecast.select import validation_origins
from pucklab.seqmodels.forecast.task import Prepared
from pucklab.seqmodels.forecast.windows import Transform, mase_scale

CALIBRATION = "calibration"  # also the folder of its networks, in the run folder
VALIDATION = "validation"


@dataclass
class Calibration:
    """Members' forecasts over one held part: ``prep``'s *validation* windows, each member
    fitted on what lies before them (``prep.split.val_start`` points)."""

    part: str  # CALIBRATION or VALIDATION
    prep: Prepared  # the network's data; its validation part is the held part
    models: dict[int, Forecaster]  # each seed's network, trained before the held part
    scale: float  # MASE's scale there: the seasonal-naive error of the points before it

    @property
    def origins(self) -> np.ndarray:
        """Every origin whose targets lie in the held part."""
        return validation_origins(self.prep)

    def actual(self) -> np.ndarray:
        return fc.actuals(self.prep.y, self.origins, self.prep.split.horizon)

    def forecasts(self, members: Sequence[str]) -> dict[str, np.ndarray]:
        """(O, H) forecasts of the network ensemble and of ``members`` (ETS, ARIMA), each
        fitted on the points before the held part; raises what a baseline's fit raises."""
        y, origins, h = self.prep.y, self.origins, self.prep.split.horizon
        out = {"network": np.mean(list(ensemble_forecasts(self.models, self.prep, origins)
                                        .values()), axis=0)}
        fitted = fc.baseline_forecasters(y[:self.prep.split.val_start], self.prep.season,
                                         tuple(members))
        out.update({m: make()(y, origins, h) for m, make in fitted.items()})
        return out


def calibration_prepared(prep: Prepared) -> Prepared | None:
    """``prep`` moved back by one validation length: its validation part becomes the
    calibration part (just before the real one), its scaler is fitted on what precedes it; None
    when the series cannot spare it (no training window, or a first window before the data)."""
    sp = prep.split
    start = sp.val_start - (sp.test_start - sp.val_start)
    moved = replace(sp, val_start=start, test_start=sp.val_start)
    if len(moved.train_origins()) < 1 or sp.offset + sp.lookback > start:
        return None
    try:
        transform = Transform.fit(prep.y, prep.transform.lags, start,
                                  len(prep.transform.seasonal))
        scale = mase_scale(prep.y[:start], prep.season)
    except (RunError, ValueError):  # too few points for the season's indices or the scale
        return None
    return replace(prep, split=moved, transform=transform, z=transform.forward(prep.y),
                   scale=scale)
