"""``--difference auto``: whether to model levels, differences, seasonal differences or both,
decided from the training part with the tests forecasters use for it.

A network fed levels cannot follow a trend past the range it was trained on (on monthly co2 the
LSTM on levels scored MASE 12.4 against seasonal naive's 1.4); fed differences, it forecasts
changes, which stay in range. But differencing a series that has no trend only adds noise. So,
on the training part only (never the validation or test part):

1. **Seasonal difference** when the season is strong: STL's seasonal strength
   ``max(0, 1 - Var(remainder) / Var(season + remainder))`` (Wang, Smith & Hyndman 2006) is at
   least :data:`SEASONAL_STRENGTH`, the threshold of R forecast's ``nsdiffs``.
2. **First difference** when what is left is not level-stationary: the KPSS test (null:
   stationary around a level) rejects at :data:`ALPHA`, as in ``ndiffs``, and the ADF test
   (null: a unit root) does not reject at :data:`ALPHA` -- both tests have to agree there is a
   unit root, which keeps a stationary cycle such as sunspots on levels.

statsmodels provides STL, KPSS and ADF; the choice and its reason are printed and stored in
the run's ``config.json``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

SEASONAL_STRENGTH = 0.64
ALPHA = 0.05


@dataclass(frozen=True)
class Choice:
    """What ``--difference auto`` chose, and the numbers it chose it by."""

    kind: str  # none, first, seasonal or both
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"chosen": self.kind, "why": self.reason}


def seasonal_strength(y: np.ndarray, season: int) -> float:
    """STL's seasonal strength in [0, 1] (0 when there is no season to measure)."""
    from statsmodels.tsa.seasonal import STL

    if season < 2 or len(y) < 2 * season + 1:
        return 0.0
    res = STL(y, period=season, robust=True).fit()
    detrended = res.seasonal + res.resid
    var = float(np.var(detrended))
    return max(0.0, 1.0 - float(np.var(res.resid)) / var) if var > 0 else 0.0


def unit_root(y: np.ndarray) -> tuple[bool, float, float]:
    """(KPSS rejects level-stationarity and ADF finds a unit root, KPSS p, ADF p)."""
    from statsmodels.tsa.stattools import adfuller, kpss

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # KPSS: "p-value is outside the table"
        kpss_p = float(kpss(y, regression="c", nlags="auto")[1])
        adf_p = float(adfuller(y, autolag="AIC")[1])
    return kpss_p < ALPHA and adf_p >= ALPHA, kpss_p, adf_p


def choose(y_train: np.ndarray, season: int) -> Choice:
    """The differencing for a series from its training part ``y_train``."""
    y = np.asarray(y_train, dtype=float)
    try:
        return _choose(y, season)
    except (ValueError, np.linalg.LinAlgError) as err:  # a series the tests cannot take
        return Choice("none", f"the tests could not run ({str(err).splitlines()[0]}); levels")


def _choose(y: np.ndarray, season: int) -> Choice:
    reasons = []
    strength = seasonal_strength(y, season)
    seasonal = strength >= SEASONAL_STRENGTH
    if season >= 2:
        reasons.append(f"seasonal strength {strength:.2f} "
                       f"{'>=' if seasonal else '<'} {SEASONAL_STRENGTH}")
    rest = y[season:] - y[:-season] if seasonal else y
    if len(rest) < 10 or np.ptp(rest) == 0:
        first, kpss_p, adf_p = False, float("nan"), float("nan")
        reasons.append("too short or flat to test for a unit root")
    else:
        first, kpss_p, adf_p = unit_root(rest)
        on = "on the seasonal differences" if seasonal else "on levels"
        reasons.append(f"{on} KPSS p {kpss_p:.3f}, ADF p {adf_p:.3f} -> "
                       f"{'a unit root' if first else 'no unit root'}")
    kind = {(False, False): "none", (True, False): "first", (False, True): "seasonal",
            (True, True): "both"}[(first, seasonal)]
    return Choice(kind, "; ".join(reasons))
