"""A command's settings: one dataclass, the single source of flags, config files and validation.

Every trainable command (``train-agent``, ``char-rnn train``, ``forecast``) declares its
settings as a dataclass whose fields are made with :func:`setting`: the default, a one-line
help, and what a valid value is (choices, bounds). From that one declaration come

* the command-line flags (:func:`pucklab.runs.cli.add_flags`; ``--lr``, ``--no-progress``),
* ``--config FILE`` (TOML or YAML, by the same names) and ``--print-config``
  (:mod:`pucklab.runs.config_files`),
* the validation every run gets, wherever its settings came from (:meth:`Settings.validate`):
  a value of the wrong type, outside its choices or bounds, or not finite is one line,
* ``config.json`` in the run folder (:meth:`Settings.to_dict` / :meth:`Settings.from_dict`).

A settings class may nest one level of settings dataclasses (the sequence commands nest the
trainer's :class:`~pucklab.seqmodels.trainer.TrainConfig`): their fields are flags and config
names of their own, flattened (``--lr``, not ``--train-lr``).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import operator
import types
import typing
from collections.abc import Iterator
from dataclasses import MISSING, Field
from typing import Any, TypeVar

from pucklab.runs.store import RunError

S = TypeVar("S", bound="Settings")


#: The seeds every command takes: numpy's, Gymnasium's and scikit-learn's are unsigned 32-bit.
MAX_SEED = 2**32 - 1


def seed_setting(help: str = "random seed", **kw: Any) -> Any:
    """A ``--seed`` field: 0 by default, any seed numpy, Gymnasium and torch all accept."""
    return setting(0, help, low=0, high=MAX_SEED, metavar="SEED", **kw)


def setting(default: Any = MISSING, help: str = "", *, default_factory: Any = MISSING,
            choices: tuple[Any, ...] | None = None, low: float | None = None,
            high: float | None = None, above: float | None = None, below: float | None = None,
            flag: str | None = None, metavar: str | None = None, resumable: bool = False,
            cli: bool = True, positional: bool = False,
            sizes: tuple[Any, Any] | None = None) -> Any:
    """A settings field: its default, help text and what a valid value is.

    Args:
        choices: The values allowed (their one source, e.g. a module's ``CELLS``).
        low: The inclusive lower bound (``above``: the exclusive one).
        high: The inclusive upper bound (``below``: the exclusive one).
        above: An exclusive lower bound.
        below: An exclusive upper bound.
        flag: The flag's name when it is not ``--<field-name>`` (forecast's ``--seed SEED ...``).
        resumable: A ``--resume`` may change it (a budget, the device): it does not change what
            the run computes, only how long or where.
        cli: False for a field that is no flag (set by the program, kept in config.json).
        positional: An argument, not a flag (``RUN_DIR``); optional when it has a default.
        sizes: For a lab experiment's size (steps, epochs, seeds ...) whose default is None:
            (the value of the default run, the value under ``--quick``).
    """
    meta = {"help": help, "choices": choices, "low": low, "high": high, "above": above,
            "below": below, "flag": flag, "metavar": metavar, "resumable": resumable, "cli": cli,
            "positional": positional, "sizes": sizes}
    if default_factory is not MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _unwrap(tp: Any) -> tuple[Any, bool]:
    """(the type without ``| None``, whether None is allowed)."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return (args[0] if len(args) == 1 else functools.reduce(operator.or_, args)), len(args) < len(
            typing.get_args(tp))
    return tp, False


def fields_of(cls: type) -> Iterator[tuple[Field[Any], Any, bool]]:
    """(field, type without None, None allowed) of a settings dataclass, in order."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp, optional = _unwrap(hints[f.name])
        yield f, tp, optional


def flag_name(f: Field[Any]) -> str:
    return f.metadata.get("flag") or "--" + f.name.replace("_", "-")


class Settings:
    """What every settings dataclass shares: validation from its fields, flat dicts, replace.

    Subclasses are dataclasses; they may add :meth:`check` (rules across fields) and
    :meth:`resolved` (fill the defaults that depend on other settings).
    """

    def check(self) -> None:
        """Rules that involve several fields; raise :class:`RunError`. Override as needed."""

    def resolved(self: S) -> S:
        """A copy with derived defaults filled in (``lr`` by algorithm, ...). Override."""
        return self

    def validate(self) -> None:
        """One line (:class:`RunError`) for the first value no run could use."""
        for f, tp, optional in fields_of(type(self)):
            value = getattr(self, f.name)
            if dataclasses.is_dataclass(tp):
                value.validate()
            elif not (value is None and optional):
                _check_value(f, tp, value)
        self.check()

    def to_dict(self) -> dict[str, Any]:
        """Every setting by name, nested settings flattened (what config.json and
        ``--print-config`` hold)."""
        out: dict[str, Any] = {}
        for f, tp, _ in fields_of(type(self)):
            value = getattr(self, f.name)
            if dataclasses.is_dataclass(tp):
                out.update(value.to_dict())
            else:
                out[f.name] = json.loads(json.dumps(value))  # a deep, plain copy
        return out

    @classmethod
    def from_dict(cls: type[S], values: dict[str, Any], source: str = "settings") -> S:
        """Settings from a flat (or nested) dict by field names; unknown names and values of the
        wrong type are a one-line :class:`RunError` naming ``source``."""
        if not isinstance(values, dict):
            raise RunError(f"{source} must be a table of settings, got {type(values).__name__}")
        flat = flat_names(cls, values, source)
        return cls._build(flat, source)

    @classmethod
    def _build(cls: type[S], flat: dict[str, Any], source: str) -> S:
        kwargs: dict[str, Any] = {}
        for f, tp, optional in fields_of(cls):
            if dataclasses.is_dataclass(tp):
                default = _default(f)
                inner = typing.cast("type[Settings]", tp)
                kwargs[f.name] = inner._build({**default.to_dict(), **{
                    k: v for k, v in flat.items() if k in names(inner)}}, source)
            elif f.name in flat:
                value = flat[f.name]
                if not (value is None and optional):
                    _check_type(f, tp, value, source)
                kwargs[f.name] = value
        return cls(**kwargs)

    def replace(self: S, **changes: Any) -> S:
        """A copy with ``changes`` (flat names, nested ones included)."""
        return type(self)._build({**self.to_dict(), **changes}, "settings")


def _default(f: Field[Any]) -> Any:
    return f.default_factory() if f.default_factory is not MISSING else f.default


def names(cls: type) -> set[str]:
    """Every flat setting name of a settings class (nested fields included)."""
    return set(field_info(cls))


def walk(cls: type, depth: int = 0) -> Iterator[tuple[Field[Any], Any, bool, int]]:
    """Every setting of ``cls``, nested settings included, in order: (field, type without
    None, None allowed, depth; 0 for a field of ``cls`` itself). The one walk of the settings
    tree that flags, config files and validation share."""
    for f, tp, optional in fields_of(cls):
        if dataclasses.is_dataclass(tp):
            yield from walk(typing.cast(type, tp), depth + 1)
        else:
            yield f, tp, optional, depth


def field_info(cls: type) -> dict[str, tuple[Field[Any], Any, bool]]:
    """Flat name -> (field, type, None allowed), nested settings included."""
    return {f.name: (f, tp, optional) for f, tp, optional, _ in walk(cls)}


def flat_names(cls: type, values: dict[str, Any], source: str) -> dict[str, Any]:
    """``values`` by flat setting name: names with ``-`` or ``_``; a nested table (``[train]``)
    read into the flat names; an unknown name is a one-line :class:`RunError`."""
    known = field_info(cls)
    nested = {f.name for f, tp, _ in fields_of(cls) if dataclasses.is_dataclass(tp)}
    flat: dict[str, Any] = {}
    for key, value in values.items():
        name = str(key).replace("-", "_")
        if name in nested and isinstance(value, dict):
            flat.update(flat_names(cls, value, source))
        elif name in known:
            flat[name] = value
        else:
            raise RunError(f"{source}: unknown setting {key!r}")
    return flat


def defaults(cls: type) -> dict[str, Any]:
    """Each setting's default by flat name (a nested class's as its outer field sets it); a
    field without one (a required ``RUN_DIR``) is absent."""
    out: dict[str, Any] = {}
    for f, tp, _ in fields_of(cls):
        if dataclasses.is_dataclass(tp):
            out.update(_default(f).to_dict())
        elif f.default is not MISSING or f.default_factory is not MISSING:
            out[f.name] = _default(f)
    return out


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _check_type(f: Field[Any], tp: Any, value: Any, source: str) -> None:
    """A config value of the wrong type (a string for lr, say) is one line."""
    origin = typing.get_origin(tp)
    if origin is list:
        (item,) = typing.get_args(tp)
        ok = isinstance(value, list) and all(_is(item, v) for v in value)
        kind = f"a list of {_type_name(item)}"
    elif origin is dict or tp is dict:
        ok, kind = isinstance(value, dict), "a table"
    else:
        ok, kind = _is(tp, value), _type_name(tp)
    if not ok:
        raise RunError(f"{source}: {f.name} must be {kind}, got {value!r}")


def _is(tp: Any, value: Any) -> bool:
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is str:
        return isinstance(value, str)
    return True


def _check_value(f: Field[Any], tp: Any, value: Any) -> None:
    """Choices, bounds and finiteness of one value (each item of a list); whole numbers fit
    int64."""
    name, m = flag_name(f), f.metadata
    _check_type(f, tp, value, name)
    for v in value if isinstance(value, list) else [value]:
        if m.get("choices") is not None and v not in m["choices"]:
            raise RunError(f"{name} must be one of {', '.join(map(str, m['choices']))}, "
                           f"got {v!r}")
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            _check_bounds(name, m, v)


def _number(x: float) -> str:
    return str(x) if isinstance(x, int) else f"{x:g}"


#: Whole numbers a run can hand to numpy and torch (int64).
INT_RANGE = (-2**63, 2**63 - 1)


def _check_bounds(name: str, m: Any, v: float) -> None:
    if isinstance(v, float) and not math.isfinite(v):
        raise RunError(f"{name} must be a finite number, got {v}")
    low, high, above, below = m.get("low"), m.get("high"), m.get("above"), m.get("below")
    lo = (low, ">=", "[") if low is not None else (above, ">", "(") if above is not None else None
    hi = (high, "<=", "]") if high is not None else (below, "<", ")") if below is not None else None
    ok = ((lo is None or (v >= lo[0] if lo[1] == ">=" else v > lo[0]))
          and (hi is None or (v <= hi[0] if hi[1] == "<=" else v < hi[0])))
    if ok:
        if isinstance(v, int) and not INT_RANGE[0] <= v <= INT_RANGE[1]:
            raise RunError(f"{name} is too large for a 64-bit integer: {v}")
        return
    if lo is not None and hi is not None:
        rule = f"in {lo[2]}{_number(lo[0])}, {_number(hi[0])}{hi[2]}"
    else:
        bound = lo if lo is not None else hi
        assert bound is not None
        rule = f"{bound[1]} {_number(bound[0])}"
    raise RunError(f"{name} must be {rule}, got {v}")
