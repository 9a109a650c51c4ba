"""Any flags, of the right type or not, at the edges of their type or past them: each command's
parsing and validation ends in settings or in one line with exit code 2, never a traceback.

Parse and validate only (no run starts): the trainable commands through
:func:`pucklab.runs.cli.parse_run_args`, the subcommands that read a run (evaluate, record,
sample, predict) through their ``main`` with a run folder that does not exist, which they
reach only after their own flags are checked.
"""

from __future__ import annotations

import math
import typing

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pucklab.agents import cli as agent_cli
from pucklab.agents.settings import AgentSettings
from pucklab.runs.cli import parse_run_args
from pucklab.runs.settings import field_info, flag_name
from pucklab.runs.store import RunError
from pucklab.seqmodels.charrnn import cli as char_cli
from pucklab.seqmodels.charrnn.runner import CharRNNSettings
from pucklab.seqmodels.forecast import cli as forecast_cli
from pucklab.seqmodels.forecast.settings import ForecastSettings

#: Values a flag may get: numbers at and past the edges of int, float and float32, words,
#: the strings that mean something to our parsers, and anything.
VALUES = st.one_of(
    st.integers(-2**70, 2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", " ", "x", "0", "1", "-1", "2", "0.5", "1e-320", "1e309", "-1e309",
                     "inf", "-inf", "nan", "true", "none", "auto", "cpu", "cuda", "cuda:7",
                     "=", "a=b", "obs_type=state", "paddle_height=0", "[1]", "--", "-"]),
    st.text(max_size=6),
)


def typed(tp: type, choices: tuple | None) -> st.SearchStrategy[str]:
    """Values of a flag's own type, most of them at or past its edges, or anything (VALUES)."""
    if choices:
        own = st.sampled_from([str(c) for c in choices])
    elif tp is int:
        own = st.one_of(st.integers(-3, 3), st.sampled_from([2**31, 2**63, -2**63, 10**20]),
                        st.integers(-2**70, 2**70)).map(str)
    elif tp is float:
        own = st.one_of(st.floats(-2, 2), st.floats(allow_nan=True, allow_infinity=True),
                        st.sampled_from([math.inf, -math.inf, math.nan, 1e-320, 1e308])).map(repr)
    else:
        own = VALUES
    return st.one_of(own, own, own, VALUES)


@st.composite
def flags(draw: st.DrawFn, cls: type) -> list[str]:
    """Up to four of ``cls``'s flags, each with one or two drawn values."""
    info = field_info(cls)
    names = draw(st.lists(st.sampled_from(sorted(info)), max_size=4))
    argv: list[str] = []
    for name in names:
        field, tp, _ = info[name]
        flag = flag_name(field)
        if tp is bool:
            argv.append(draw(st.sampled_from([flag, "--no-" + flag[2:]])))
            continue
        origin = typing.get_origin(tp)
        item = typing.get_args(tp)[0] if origin is list else tp
        values = typed(item, field.metadata.get("choices"))
        argv += [flag, *draw(st.lists(values, min_size=1, max_size=2 if origin else 1))]
    return argv


def outcome(call: typing.Callable[[], object]) -> int:
    """0 for settings, 2 for a one-line refusal; anything else escapes and fails the test."""
    try:
        call()
    except RunError:
        return 2
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 2
    return 0


FUZZ = settings(max_examples=200, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize(("cls", "command"), [(AgentSettings, "train-agent"),
                                              (CharRNNSettings, "char-rnn"),
                                              (ForecastSettings, "forecast")])
@FUZZ
@given(data=st.data())
def test_trainable_flags_parse_to_settings_or_one_line(cls, command, data, capsys):
    argv = data.draw(flags(cls))
    parsed = []
    code = outcome(lambda: parsed.append(parse_run_args(cls, argv, command, command, "")))
    assert code in (0, 2)
    if code == 2:
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) <= 1 and "Traceback" not in err, err
        return
    s = parsed[0].settings
    s.validate()
    s.resolved().validate()
    for name, value in s.to_dict().items():  # what got through is a number a run can use
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, float):
                assert math.isfinite(v), (name, v)
            elif isinstance(v, int):
                assert -2**63 < v < 2**63, (name, v)


READERS = {
    "train-agent evaluate": (agent_cli.main, ["evaluate"], ["--sessions", "--seed", "--device"],
                             ["--stochastic"]),
    "train-agent record": (agent_cli.main, ["record"], ["--sessions", "--seed", "--device",
                                                        "--format", "--out"],
                           ["--stochastic", "--side-by-side", "--no-side-by-side"]),
    "char-rnn sample": (char_cli.main, ["sample"], ["--prime", "--length", "--temperature",
                                                    "--top-k", "--seed", "--device",
                                                    "--checkpoint"], ["--argmax"]),
    "forecast predict": (forecast_cli.main, ["predict"], ["--dataset", "--csv", "--column",
                                                          "--time-column", "--out",
                                                          "--device"], []),
}


@pytest.mark.parametrize("name", sorted(READERS))
@FUZZ
@given(data=st.data())
def test_run_readers_check_their_flags_in_one_line(name, data, tmp_path, capsys):
    main, head, valued, switches = READERS[name]
    argv = [*head, str(tmp_path / "no-such-run")]
    for flag in data.draw(st.lists(st.sampled_from(valued + switches), max_size=5)):
        argv += [flag] if flag in switches else [flag, data.draw(VALUES)]
    assert main(argv) == 2  # the flags are refused, or else the missing run folder is
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
