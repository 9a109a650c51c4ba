"""A command's settings: one dataclass, the single source of flags, config files and validation.

Every trainable command (``train-agent``, ``char-rnn train``, ``forecast``) declares its
settings as a dataclass whose fields are made with :func:`setting`: the default, a one-line
help, and what a valid value is (choices, bounds). From that one declaration come

* the command-line flags (:func:`add_flags`; ``--lr``, ``--no-progress``, ...),
* ``--config FILE`` (TOML or YAML, by the same names) and ``--print-config`` (:func:`to_toml`),
* the validation every run gets, wherever its settings came from (:meth:`Settings.validate`):
  a value of the wrong type, outside its choices or bounds, or not finite is one line,
* ``config.json`` in the run folder (:meth:`Settings.to_dict` / :meth:`Settings.from_dict`).

A settings class may nest one level of settings dataclasses (the sequence commands nest the
trainer's :class:`~pucklab.seqmodels.trainer.TrainConfig`): their fields are flags and config
names of their own, flattened (``--lr``, not ``--train-lr``).
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import json
import math
import sys
import types
import typing
from collections.abc import Iterator
from dataclasses import MISSING, Field
from pathlib import Path
from typing import Any, TypeVar

from pucklab.runs.store import RunError

if sys.version_info >= (3, 11):
    import tomllib
else:  # the same parser, from PyPI
    import tomli as tomllib

S = TypeVar("S", bound="Settings")
_BASIC = (bool, int, float, str)


def setting(default: Any = MISSING, help: str = "", *, default_factory: Any = MISSING,
            choices: tuple[Any, ...] | None = None, low: float | None = None,
            high: float | None = None, above: float | None = None, below: float | None = None,
            flag: str | None = None, metavar: str | None = None, resumable: bool = False,
            cli: bool = True) -> Any:
    """A settings field: its default, help text and what a valid value is.

    Args:
        choices: The values allowed (their one source, e.g. a module's ``CELLS``).
        low, high: Inclusive bounds; ``above``, ``below``: exclusive ones.
        flag: The flag's name when it is not ``--<field-name>`` (forecast's ``--seed SEED ...``).
        resumable: A ``--resume`` may change it (a budget, the device): it does not change what
            the run computes, only how long or where.
        cli: False for a field that is no flag (set by the program, kept in config.json).
    """
    meta = {"help": help, "choices": choices, "low": low, "high": high, "above": above,
            "below": below, "flag": flag, "metavar": metavar, "resumable": resumable, "cli": cli}
    if default_factory is not MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _unwrap(tp: Any) -> tuple[Any, bool]:
    """(the type without ``| None``, whether None is allowed)."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return (args[0] if len(args) == 1 else typing.Union[tuple(args)]), len(args) < len(
            typing.get_args(tp))
    return tp, False


def _fields(cls: type) -> Iterator[tuple[Field, Any, bool]]:
    """(field, type without None, None allowed) of a settings dataclass, in order."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp, optional = _unwrap(hints[f.name])
        yield f, tp, optional


def flag_name(f: Field) -> str:
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
        for f, tp, optional in _fields(type(self)):
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
        for f, tp, _ in _fields(type(self)):
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
        flat = _flatten(cls, values, source)
        return cls._build(flat, source)

    @classmethod
    def _build(cls: type[S], flat: dict[str, Any], source: str) -> S:
        kwargs: dict[str, Any] = {}
        for f, tp, optional in _fields(cls):
            if dataclasses.is_dataclass(tp):
                default = _default(f)
                kwargs[f.name] = tp._build({**default.to_dict(), **{
                    k: v for k, v in flat.items() if k in names(tp)}}, source)
            elif f.name in flat:
                value = flat[f.name]
                if not (value is None and optional):
                    _check_type(f, tp, value, source)
                kwargs[f.name] = value
        return cls(**kwargs)

    def replace(self: S, **changes: Any) -> S:
        """A copy with ``changes`` (flat names, nested ones included)."""
        return type(self)._build({**self.to_dict(), **changes}, "settings")


def _default(f: Field) -> Any:
    return f.default_factory() if f.default_factory is not MISSING else f.default


def names(cls: type) -> set[str]:
    """Every flat setting name of a settings class (nested fields included)."""
    out: set[str] = set()
    for f, tp, _ in _fields(cls):
        out |= names(tp) if dataclasses.is_dataclass(tp) else {f.name}
    return out


def field_info(cls: type) -> dict[str, tuple[Field, Any, bool]]:
    """Flat name -> (field, type, None allowed), nested settings included."""
    out: dict[str, tuple[Field, Any, bool]] = {}
    for f, tp, optional in _fields(cls):
        if dataclasses.is_dataclass(tp):
            out.update(field_info(tp))
        else:
            out[f.name] = (f, tp, optional)
    return out


def _flatten(cls: type, values: dict[str, Any], source: str) -> dict[str, Any]:
    """Names with ``-`` or ``_``; a nested table (``[train]``) is read into the flat names."""
    known = field_info(cls)
    nested = {f.name for f, tp, _ in _fields(cls) if dataclasses.is_dataclass(tp)}
    flat: dict[str, Any] = {}
    for key, value in values.items():
        name = str(key).replace("-", "_")
        if name in nested and isinstance(value, dict):
            flat.update(_flatten(cls, value, source))
        elif name in known:
            flat[name] = value
        else:
            raise RunError(f"{source}: unknown setting {key!r}")
    return flat


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _check_type(f: Field, tp: Any, value: Any, source: str) -> None:
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


def _check_value(f: Field, tp: Any, value: Any) -> None:
    """Choices, bounds and finiteness of one value (each item of a list)."""
    name, m = flag_name(f), f.metadata
    _check_type(f, tp, value, name)
    for v in value if isinstance(value, list) else [value]:
        if m.get("choices") is not None and v not in m["choices"]:
            raise RunError(f"{name} must be one of {', '.join(map(str, m['choices']))}, "
                           f"got {v!r}")
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            _check_bounds(name, m, v)


def _check_bounds(name: str, m: Any, v: float) -> None:
    if isinstance(v, float) and not math.isfinite(v):
        raise RunError(f"{name} must be a finite number, got {v}")
    low, high, above, below = m.get("low"), m.get("high"), m.get("above"), m.get("below")
    lo = (low, ">=", "[") if low is not None else (above, ">", "(") if above is not None else None
    hi = (high, "<=", "]") if high is not None else (below, "<", ")") if below is not None else None
    ok = ((lo is None or (v >= lo[0] if lo[1] == ">=" else v > lo[0]))
          and (hi is None or (v <= hi[0] if hi[1] == "<=" else v < hi[0])))
    if ok:
        return
    if lo is not None and hi is not None:
        rule = f"in {lo[2]}{lo[0]:g}, {hi[0]:g}{hi[2]}"
    else:
        bound = lo if lo is not None else hi
        assert bound is not None
        rule = f"{bound[1]} {bound[0]:g}"
    raise RunError(f"{name} must be {rule}, got {v}")


# -- command line --------------------------------------------------------------------------------
def parse_key_values(items: list[str], flag: str) -> dict[str, Any]:
    """``["paddle_height=16", "obs_type=state"]`` -> ``{"paddle_height": 16, ...}``."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise RunError(f"{flag} takes key=value pairs, got {item!r}")
        out[key.strip()] = parse_value(value)
    return out


def parse_value(text: str) -> Any:
    """``3`` -> 3, ``0.5`` -> 0.5, ``true`` -> True, ``pixels`` -> "pixels"."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def add_flags(parser: argparse.ArgumentParser, cls: type, defaults: Any = None,
              group_titles: dict[str, str] | None = None) -> None:
    """One flag per setting of ``cls`` (nested settings too), help with choices and default.

    Flags are parsed with ``argparse.SUPPRESS`` defaults: what the namespace holds was given.
    An outer setting's flag wins over a nested one of the same name (forecast's
    ``--seed SEED ...`` over the trainer's ``seed``, which forecast sets per network).
    """
    defaults = defaults if defaults is not None else cls()
    for f, tp, _ in _fields(cls):
        if not f.metadata.get("cli", True):
            continue
        value = getattr(defaults, f.name)
        if dataclasses.is_dataclass(tp):
            add_flags(parser, tp, value)
            continue
        m = f.metadata
        text = m.get("help", "")
        if m.get("choices"):
            text += f" (one of: {', '.join(map(str, m['choices']))})"
        shown = "see text" if value is None else (" ".join(map(str, value)) if isinstance(
            value, list) else value)
        kw: dict[str, Any] = {"dest": f.name, "default": argparse.SUPPRESS,
                              "help": f"{text} (default: {shown})" if value != {} else text}
        origin = typing.get_origin(tp)
        if tp is bool:
            kw["action"] = argparse.BooleanOptionalAction
        elif origin is dict:
            kw.update(nargs="+", action="extend", metavar="KEY=VALUE")
        elif origin is list:
            (item,) = typing.get_args(tp)
            kw.update(nargs="+", type=item, metavar=m.get("metavar") or f.name.upper().rstrip("S"))
        else:
            kw.update(type=tp, metavar=m.get("metavar") or (f.name.upper() if tp is str else None))
        if flag_name(f) not in parser._option_string_actions:
            parser.add_argument(flag_name(f), **kw)


def given_settings(cls: type, ns: argparse.Namespace) -> dict[str, Any]:
    """The settings the flags gave (``KEY=VALUE`` tables parsed), by flat name."""
    info = field_info(cls)
    given = {k: v for k, v in vars(ns).items() if k in info}
    for name, value in given.items():
        if typing.get_origin(info[name][1]) is dict:
            given[name] = parse_key_values(value, flag_name(info[name][0]))
    return given


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The table of a TOML or YAML settings file (names as the flags, with ``-`` or ``_``)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise RunError(f"cannot read config {path}: {getattr(err, 'strerror', None) or err}"
                       ) from err
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".yaml", ".yml"):
        raise RunError(f"config {path} must be .toml, .yaml or .yml")
    try:
        if suffix == ".toml":
            data = tomllib.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text) or {}
    except Exception as err:  # tomllib.TOMLDecodeError, yaml.YAMLError
        raise RunError(f"cannot parse config {path}: {str(err).splitlines()[0]}") from err
    if not isinstance(data, dict):
        raise RunError(f"config {path} must be a table of settings, got {type(data).__name__}")
    return data


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(str(k))} = {_toml_value(v)}"
                                for k, v in value.items()) + " }"
    raise TypeError(f"no TOML for {value!r}")


def to_toml(settings: Settings, title: str = "") -> str:
    """The settings as a TOML file that ``--config`` reads back; unset ones (None) as comments."""
    lines = [f"# {title}"] if title else []
    for name, value in settings.to_dict().items():
        lines.append(f"# {name} = (not set)" if value is None else f"{name} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"
