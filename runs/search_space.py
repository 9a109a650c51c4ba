"""A sweep's search space: which settings vary, over what, and which stay fixed.

A parameter is written as on the command line (``--param``) or as a value of a space file::

    lr=log:1e-4:1e-2        a float range, sampled uniformly in log space
    gamma=0.9:1.0           a float range (an int range for an int setting)
    layers=1:3:1            an int range with a step
    hidden=choice:32,64,128 a choice

or, in a TOML / YAML space file, ``[lr]`` tables with ``low``, ``high``, ``log``, ``step`` or
``choices``. Every name must be a setting of the command (flat, as ``--print-config`` shows),
and every problem is a one-line :class:`RunError` before any trial runs.
"""

from __future__ import annotations

import math
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pucklab.runs.cli import parse_key_values, parse_value
from pucklab.runs.config_files import read_config_file
from pucklab.runs.settings import Settings, field_info
from pucklab.runs.store import RunError


@dataclass(frozen=True)
class Param:
    """One searched setting: a float or int range (``log``, ``step``) or a choice."""

    name: str
    kind: str  # "float", "int" or "choice"
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()

    def grid(self, points: int) -> list[Any]:
        """``points`` values spanning the range (log-spaced where ``log``); a choice's values."""
        if self.kind == "choice":
            return list(self.choices)
        if self.log:
            values = np.geomspace(self.low, self.high, points)
        else:
            values = np.linspace(self.low, self.high, points)
        if self.kind == "int":
            return sorted({int(round(v)) for v in values})
        return [float(v) for v in values]

    def suggest(self, trial: Any, low: float | None = None, high: float | None = None) -> Any:
        """Ask an Optuna trial for a value (in ``[low, high]`` when a stage narrowed it)."""
        lo = self.low if low is None else low
        hi = self.high if high is None else high
        if self.kind == "choice":
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(self.name, int(lo), int(hi), log=self.log,
                                     step=int(self.step or 1))
        return trial.suggest_float(self.name, lo, hi, log=self.log, step=self.step)

    def describe(self) -> str:
        if self.kind == "choice":
            return f"{self.name}: one of {', '.join(map(str, self.choices))}"
        scale = "log " if self.log else ""
        step = f", step {self.step:g}" if self.step else ""
        return f"{self.name}: {self.kind} in [{self.low:g}, {self.high:g}] ({scale}uniform{step})"


def parse_param(text: str, cls: type[Settings]) -> Param:
    """``name=spec`` -> a :class:`Param` of the right kind for ``cls``'s field."""
    name, sep, spec = text.partition("=")
    if not sep or not name.strip() or not spec.strip():
        raise RunError(f"--param takes name=spec (e.g. lr=log:1e-4:1e-2), got {text!r}")
    return make_param(name.strip(), spec.strip(), cls)


def make_param(name: str, spec: str | dict[str, Any], cls: type[Settings]) -> Param:
    """A parameter from a spec string or a space-file table, checked against ``cls``."""
    name = name.replace("-", "_")
    info = field_info(cls)
    if name not in info:
        raise RunError(f"unknown setting {name!r} to search; the settings are those "
                       "--print-config shows")
    field, tp, _ = info[name]
    if isinstance(spec, dict):
        table = spec
    elif spec.startswith("choice:"):
        table = {"choices": [parse_value(v) for v in spec[len("choice:"):].split(",") if v]}
    else:
        log = spec.startswith("log:")
        parts = spec[4 if log else 0:].split(":")
        if len(parts) not in (2, 3):
            raise RunError(f"--param {name}: a range is [log:]low:high[:step], got {spec!r}")
        try:
            numbers = [float(p) for p in parts]
        except ValueError as err:
            raise RunError(f"--param {name}: not a number in {spec!r}") from err
        table = {"low": numbers[0], "high": numbers[1], "log": log,
                 "step": numbers[2] if len(parts) == 3 else None}
    return _checked(name, tp, table)


def _checked(name: str, tp: Any, table: dict[str, Any]) -> Param:
    if "choices" in table:
        choices = tuple(table["choices"])
        if not choices:
            raise RunError(f"--param {name}: an empty choice")
        return Param(name, "choice", choices=choices)
    if tp not in (int, float):
        raise RunError(f"--param {name}: {name} is not a number; give choice:a,b,...")
    try:
        low, high = float(table["low"]), float(table["high"])
    except (KeyError, TypeError, ValueError) as err:
        raise RunError(f"--param {name}: a range needs numbers low and high") from err
    step = table.get("step")
    log = bool(table.get("log", False))
    if not (math.isfinite(low) and math.isfinite(high)):
        raise RunError(f"--param {name}: the range must be finite, got [{low:g}, {high:g}]")
    if low > high:
        raise RunError(f"--param {name}: low > high ({low:g} > {high:g})")
    if log and low <= 0:
        raise RunError(f"--param {name}: a log range needs low > 0, got {low:g}")
    if step is not None and not float(step) > 0:
        raise RunError(f"--param {name}: step must be > 0, got {step}")
    if log and step is not None:
        raise RunError(f"--param {name}: give log or step, not both")
    kind = "int" if tp is int else "float"
    if kind == "int" and not (low.is_integer() and high.is_integer()):
        raise RunError(f"--param {name}: {name} is an int; give whole numbers")
    return Param(name, kind, low, high, log, None if step is None else float(step))


def read_space(path: str | Path, cls: type[Settings]) -> list[Param]:
    """The parameters of a TOML / YAML space file: ``name = "spec"`` or ``[name]`` tables."""
    data = read_config_file(path)
    return [make_param(str(k), v if isinstance(v, dict) else str(v), cls) for k, v in data.items()]


def fixed_settings(items: list[str], cls: type[Settings]) -> dict[str, Any]:
    """``--fixed k=v ...`` as settings values (checked by building the settings)."""
    fixed = {k.replace("-", "_"): v for k, v in parse_key_values(items, "--fixed").items()}
    text = {k.strip().replace("-", "_"): v.strip() for k, _, v in (i.partition("=") for i in items)}
    info = field_info(cls)
    for name, value in list(fixed.items()):
        if name not in info:
            raise RunError(f"--fixed: unknown setting {name!r}")
        if info[name][1] is str and not isinstance(value, str) and not (
                value is None and info[name][2]):
            fixed[name] = text[name]  # a text setting keeps its text: difference=none, not None
        if info[name][1] is float and isinstance(value, int) and not isinstance(value, bool):
            fixed[name] = float(value)
        if typing.get_origin(info[name][1]) is list and not isinstance(value, list):
            fixed[name] = [value]
    cls.from_dict(fixed, source="--fixed").validate()
    return fixed
