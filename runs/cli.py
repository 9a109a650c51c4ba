"""Command-line pieces every command shares: settings from argv, one-line errors, exit codes.

A trainable command's CLI is three steps: :func:`parse_run_args` (argv -> settings, from the
settings dataclass: defaults <- ``--config`` file <- flags, or the saved settings of a
``--resume`` run with only its resumable fields changed), the command's
``run(settings, run_dir, resume=...)``, and a printout. :func:`guarded` turns what goes wrong
into one line and an exit code.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import sys
import typing
from collections.abc import Callable, Iterator
from dataclasses import Field, dataclass
from pathlib import Path
from typing import Any, NoReturn

from pucklab.runs.config_files import read_config_file, to_toml
from pucklab.runs.settings import (
    S,
    Settings,
    defaults,
    field_info,
    fields_of,
    flag_name,
    flat_names,
    walk,
)
from pucklab.runs.stopping import Interrupted
from pucklab.runs.store import RunError, load_run_settings


class Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line (and exit code 2), like every other error here."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


Handler = Callable[[list[str]], int]


def dispatch(prog: str, argv: list[str], commands: dict[str, Handler],
             default: Handler | None = None, usage: str = "", doc: str = "") -> int:
    """Run ``prog NAME ARGS`` as ``commands[NAME](ARGS)``, :func:`guarded`.

    Anything else goes whole to ``default`` (``train-agent [flags]``). Without a default, ``-h``
    prints ``doc``, no arguments print ``usage`` on stderr (exit 2) and an unknown name is one
    line."""
    if argv and argv[0] in commands:
        handler, rest = commands[argv[0]], argv[1:]
    elif default is not None:
        handler, rest = default, argv
    elif argv and argv[0] in ("-h", "--help"):
        print(doc)
        return 0
    elif not argv:  # a usage error: what to type, on stderr
        print(usage, file=sys.stderr)
        return 2
    else:
        def handler(_: list[str]) -> int:
            raise RunError(f"unknown command {argv[0]!r}; {usage}")
        rest = argv
    return guarded(prog, lambda: handler(rest))


def guarded(prog: str, body: Callable[[], int]) -> int:
    """Run a command's ``body`` and turn what it raises into our exit codes, never a traceback:
    :class:`RunError` -> one line on stderr and 2; argparse's exit (``--help`` 0, usage 2) as
    is; Ctrl-C -> 130 (a run says where its checkpoint is and how to continue)."""
    try:
        return body()
    except RunError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    except SystemExit as exit_:  # already printed by argparse
        return exit_.code if isinstance(exit_.code, int) else 2
    except Interrupted as err:
        print(f"{prog}: {err}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


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


def flag_owners(cls: type) -> dict[str, Field[Any]]:
    """Flag -> the setting of ``cls`` it sets. Settings that are no flag (``cli=False``) own
    none; where an outer and a nested setting share a flag, the outer one owns it (forecast's
    ``--seed SEED ...`` over the trainer's ``seed``, which forecast sets per network)."""
    owners: dict[str, Field[Any]] = {}
    for f, _, _, _ in sorted(walk(cls), key=lambda e: e[3]):  # outer settings first
        if f.metadata.get("cli", True):
            owners.setdefault(flag_name(f), f)
    return owners


def add_flags(parser: argparse.ArgumentParser, cls: type) -> None:
    """One flag per setting of ``cls`` (nested settings too), help with choices and default;
    ``positional`` settings as arguments.

    Flags are parsed with ``argparse.SUPPRESS`` defaults: what the namespace holds was given.
    An outer setting's flag wins over a nested one of the same name (forecast's
    ``--seed SEED ...`` over the trainer's ``seed``, which forecast sets per network).
    """
    shown = defaults(cls)
    owners = flag_owners(cls)
    for f, tp, _, _ in sorted(walk(cls), key=lambda e: e[3]):
        m = f.metadata
        if owners.get(flag_name(f)) is not f:
            continue
        kw = _argument(f, tp, shown.get(f.name))
        if m.get("positional"):
            if f.name in shown:
                kw["nargs"] = "?"
            parser.add_argument(f.name, **{k: v for k, v in kw.items() if k != "dest"})
        else:
            parser.add_argument(flag_name(f), **kw)


def changed_flags(settings: Settings, base: Settings) -> list[str]:
    """The command-line arguments that turn ``base`` into ``settings``: the inverse of
    :func:`add_flags` for the settings that differ, in declaration order (``--no-x`` for a
    switched-off switch, a list's items after its flag, a table as ``KEY=VALUE``), so that a
    result can print the command a reader retypes. A setting with no flag, or one set to None
    where the base has a value, has no argument that says it: :class:`RunError`."""
    owners = flag_owners(type(settings))
    argv: list[str] = []
    for (f, tp, value), (_, _, was) in zip(_leaves(settings), _leaves(base), strict=True):
        if value == was:
            continue
        flag = flag_name(f)
        if owners.get(flag) is not f or value is None:
            raise RunError(f"{f.name} = {value!r} has no command-line flag that sets it")
        if tp is bool:
            argv.append(flag if value else "--no-" + flag[2:])
            continue
        words = ([f"{k}={v}" for k, v in value.items()] if isinstance(value, dict) else
                 [str(v) for v in value] if isinstance(value, list) else [str(value)])
        argv += words if f.metadata.get("positional") else [flag, *words]
    return argv


def _leaves(settings: Any) -> Iterator[tuple[Field[Any], Any, Any]]:
    """(field, type, value) of every setting, nested settings' own included, in :func:`walk`'s
    order (an outer and a nested setting may share a name: forecast's and its trainer's seed)."""
    for f, tp, _ in fields_of(type(settings)):
        value = getattr(settings, f.name)
        if dataclasses.is_dataclass(tp):
            yield from _leaves(value)
        else:
            yield f, tp, value


def _argument(f: Field[Any], tp: Any, default: Any) -> dict[str, Any]:
    """argparse's keywords for setting ``f``: its help (choices, the default), type, arity."""
    m = f.metadata
    text = m.get("help", "")
    if m.get("choices"):
        text += f" (one of: {', '.join(map(str, m['choices']))})"
    if m.get("sizes") is not None:
        full, quick = (" ".join(map(str, v)) if isinstance(v, (list, tuple)) else f"{v:,}"
                       if isinstance(v, int) else str(v) for v in m["sizes"])
        shown = f"{full}; {quick} with --quick"
    elif default is None or default == {}:  # the help text says what an unset value means
        shown = ""
    elif isinstance(default, list):
        shown = " ".join(map(str, default))
    else:
        shown = str(default) if str(default).isprintable() else repr(default)
    kw: dict[str, Any] = {"dest": f.name, "default": argparse.SUPPRESS,
                          "help": f"{text} (default: {shown})" if shown else text}
    origin = typing.get_origin(tp)
    if tp is bool:
        kw["action"] = argparse.BooleanOptionalAction
    elif origin is dict:
        kw.update(nargs="+", action="extend", metavar="KEY=VALUE")
    elif origin is list:
        (item,) = typing.get_args(tp)
        kw.update(nargs="+", type=item, action="extend",  # repeatable: --param a --param b
                  metavar=m.get("metavar") or f.name.upper().rstrip("S"))
    else:
        kw.update(type=tp, metavar=m.get("metavar") or (f.name.upper() if tp is str else None))
    return kw


def parse_settings(cls: type[S], argv: list[str], prog: str, description: str = "") -> S:
    """A command's settings from ``argv``: one flag per setting (:func:`add_flags`), the
    defaults for the rest, validated (:meth:`Settings.validate`) and resolved."""
    p = Parser(prog=prog, description=description, argument_default=argparse.SUPPRESS)
    add_flags(p, cls)
    settings = cls.from_dict(given_settings(cls, p.parse_args(argv)), source="flags")
    settings.validate()
    return settings.resolved()


def given_settings(cls: type, ns: argparse.Namespace) -> dict[str, Any]:
    """The settings the flags gave (``KEY=VALUE`` tables parsed), by flat name."""
    info = field_info(cls)
    given = {k: v for k, v in vars(ns).items() if k in info}
    for name, value in given.items():
        if typing.get_origin(info[name][1]) is dict:
            given[name] = parse_key_values(value, flag_name(info[name][0]))
    return given


@dataclass
class RunArgs:
    """A trainable command's parsed command line."""

    settings: Any  # the command's Settings dataclass, validated
    run_dir: Path | None
    resume: bool
    print_config: bool


def run_parser(cls: type[Settings], prog: str, description: str) -> Parser:
    """Flags of every setting of ``cls``, plus ``--run-dir``, ``--resume``, ``--config`` and
    ``--print-config``."""
    p = Parser(prog=prog, description=description, argument_default=argparse.SUPPRESS)
    add_flags(p, cls)
    p.add_argument("--run-dir", help="where to write the run (default: runs/<name>__<time>)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its "
                   "last checkpoint, with its settings (only the budget, the device, evaluation "
                   "and progress flags may change)")
    p.add_argument("--config", metavar="FILE", help="TOML or YAML file of settings (names as "
                   "the flags, with - or _); flags override it")
    p.add_argument("--print-config", action="store_true", help="print the resolved settings "
                   "as TOML (loadable by --config) and exit")
    return p


def parse_run_args(cls: type[Settings], argv: list[str], prog: str, command: str,
                   description: str) -> RunArgs:
    """Settings from the command line: defaults <- --config file <- flags; with ``--resume``,
    the run's saved settings, where only fields marked resumable may change."""
    ns = run_parser(cls, prog, description).parse_args(argv)
    changes: dict[str, Any] = {}
    if getattr(ns, "config", None):
        data = read_config_file(ns.config)
        in_file = set(flat_names(cls, data, f"config {ns.config}"))
        from_file = cls.from_dict(data, source=f"config {ns.config}").to_dict()
        changes = {k: v for k, v in from_file.items() if k in in_file}
    changes.update(given_settings(cls, ns))
    show = bool(getattr(ns, "print_config", False))
    resume_dir = getattr(ns, "resume", None)
    run_dir = getattr(ns, "run_dir", None)
    if resume_dir is None:
        settings = cls.from_dict(changes, source="flags")
        settings.validate()
        return RunArgs(settings.resolved(), Path(run_dir) if run_dir else None, False, show)
    if run_dir is not None and Path(run_dir) != Path(resume_dir):
        raise RunError("give --resume RUN_DIR or --run-dir, not both")
    saved = load_run_settings(resume_dir, cls, command)
    info, before = field_info(cls), saved.to_dict()
    for name, value in changes.items():
        field, _, _ = info[name]
        if not field.metadata.get("resumable") and value != before[name]:
            raise RunError(f"--resume continues {resume_dir} as it was set up: "
                           f"{flag_name(field)} cannot change ({before[name]!r} -> {value!r})")
    settings = saved.replace(**changes)
    settings.validate()
    return RunArgs(settings, Path(resume_dir), True, show)


def print_config(args: RunArgs, prog: str, check: Callable[[Any], None]) -> int:
    """``--print-config``: the resolved settings as TOML on stdout, once ``check(settings)``
    (the command's checks before a start: files, env ids, devices) found nothing wrong."""
    check(args.settings)
    sys.stdout.write(to_toml(args.settings, title=f"{prog} settings (load with --config FILE)"))
    return 0
