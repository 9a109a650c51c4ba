"""Settings files: ``--config FILE`` reads TOML or YAML; ``--print-config`` writes TOML.

Names are the settings' own (``-`` or ``_``); a nested settings table may be flat or a table of
its own (``[train]``). What :func:`to_toml` writes, :func:`read_config_file` reads back.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pucklab.runs.settings import Settings
from pucklab.runs.store import RunError

if sys.version_info >= (3, 11):
    import tomllib
else:  # the same parser, from PyPI
    import tomli as tomllib


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
