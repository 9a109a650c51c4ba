"""Settings dataclasses: one source for flags, config files, --print-config and validation."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

from pucklab.agents import AgentSettings
from pucklab.agents import cli as agent_cli
from pucklab.runs.cli import parse_run_args
from pucklab.runs.config_files import read_config_file, to_toml
from pucklab.runs.settings import Settings, setting
from pucklab.runs.store import RunError
from pucklab.seqmodels.charrnn import CharRNNSettings
from pucklab.seqmodels.charrnn import cli as charrnn_cli
from pucklab.seqmodels.forecast import ForecastSettings
from pucklab.seqmodels.forecast import cli as forecast_cli
from pucklab.seqmodels.train_config import TrainConfig


@dataclass
class Inner(Settings):
    rate: float = setting(0.5, "a rate", above=0, below=1)


@dataclass
class Outer(Settings):
    kind: str = setting("a", "a kind", choices=("a", "b"))
    count: int = setting(1, "a count", low=1)
    share: float = setting(0.5, "a share", low=0, high=1)
    size: int | None = setting(None, "optional", low=2)
    seeds: list[int] = setting(help="seeds", default_factory=lambda: [0], low=0)
    inner: Inner = setting(help="nested", default_factory=Inner)


@pytest.mark.parametrize("values, message", [
    ({"kind": "c"}, "--kind must be one of a, b, got 'c'"),
    ({"count": 0}, "--count must be >= 1, got 0"),
    ({"share": 1.5}, "--share must be in [0, 1], got 1.5"),
    ({"share": math.inf}, "--share must be a finite number"),
    ({"size": 1}, "--size must be >= 2, got 1"),
    ({"seeds": [0, -1]}, "--seeds must be >= 0, got -1"),
    ({"rate": 1.0}, "--rate must be in (0, 1), got 1.0"),
])
def test_validation_comes_from_the_fields(values, message):
    settings = Outer.from_dict(values)
    with pytest.raises(RunError) as err:
        settings.validate()
    assert str(err.value).startswith(message)


def test_types_unknown_names_and_nested_tables():
    with pytest.raises(RunError, match="count must be int, got 'many'"):
        Outer.from_dict({"count": "many"}, source="f.toml")
    with pytest.raises(RunError, match="f.toml: unknown setting 'colour'"):
        Outer.from_dict({"colour": 1}, source="f.toml")
    with pytest.raises(RunError, match="seeds must be a list of int"):
        Outer.from_dict({"seeds": 3})
    nested = Outer.from_dict({"inner": {"rate": 0.25}, "count": 3})
    assert nested.inner.rate == 0.25 and nested.count == 3
    assert nested.to_dict() == {"kind": "a", "count": 3, "share": 0.5, "size": None,
                                "seeds": [0], "rate": 0.25}
    assert nested.replace(rate=0.75).inner.rate == 0.75 and nested.inner.rate == 0.25


@pytest.mark.parametrize("cls, argv", [
    (AgentSettings, ["--lr", "0.02", "--env-kwargs", "obs_type=state", "--minutes", "2"]),
    (CharRNNSettings, ["--corpus", "notes.txt", "--hidden", "32", "--lr", "0.01"]),
    (ForecastSettings, ["--dataset", "co2", "--seed", "0", "2", "--baselines", "naive"]),
])
def test_print_config_round_trips_through_config(cls, argv, tmp_path):
    printed = parse_run_args(cls, [*argv, "--print-config"], "p", "p", "")
    assert printed.print_config
    path = tmp_path / "c.toml"
    path.write_text(to_toml(printed.settings))
    again = parse_run_args(cls, ["--config", str(path)], "p", "p", "").settings
    assert again == printed.settings
    override = parse_run_args(cls, ["--config", str(path), "--lr", "0.5"], "p", "p", "")
    assert override.settings.to_dict()["lr"] == 0.5  # flags override the file
    assert set(read_config_file(path)) <= set(printed.settings.to_dict())


@pytest.mark.parametrize("main, argv", [
    (agent_cli.main, []), (charrnn_cli.main, ["train"]), (forecast_cli.main, [])])
def test_every_command_prints_its_config(main, argv, capsys):
    assert main([*argv, "--print-config", "--seed", "7"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# ") and "lr = " in out and "optimizer = \"adam\"" in out
    assert "seed = 7" in out or "seeds = [7]" in out


def test_defaults_that_depend_on_other_settings_are_resolved():
    assert CharRNNSettings().resolved().train.epochs == 10.0
    assert CharRNNSettings().resolved().precision in ("bf16", "fp32")  # auto, resolved
    # minutes may end a run sooner than the epochs, never later
    assert CharRNNSettings().replace(minutes=1.0).resolved().train.epochs == 10.0
    assert CharRNNSettings().replace(max_steps=5).resolved().train.epochs is None
    forecast = ForecastSettings().resolved()
    assert forecast.dataset == "sunspots" and forecast.train.epochs == 300.0
    assert forecast.train.lr == 1e-3 and forecast.train.schedule == "plateau"
    assert AgentSettings(algo="ppo").resolved().lr == 2.5e-4
    assert AgentSettings().resolved().gamma == 0.999  # pucklab's short sessions (the sweep)
    assert AgentSettings(env="ALE/Pong-v5").resolved().gamma == 0.99  # pg-pong's, per point
    assert AgentSettings(env="ALE/Pong-v5", gamma=0.9).resolved().gamma == 0.9


def test_cross_field_rules():
    with pytest.raises(RunError, match="nesterov needs --momentum > 0"):
        TrainConfig(optimizer="nesterov", momentum=0.0).validate()
    with pytest.raises(RunError, match="exactly one of --dataset or --csv"):
        ForecastSettings(dataset="co2", csv="x.csv").validate()


@pytest.mark.parametrize("cls, changes", [
    (Outer, {"kind": "b", "count": 3, "seeds": [1, 2], "rate": 0.25, "size": 4}),
    (AgentSettings, {"env": "pucklab/Pong-v0", "lr": 0.003, "side_by_side": False,
                     "eval_stochastic": True, "seed": 7}),
    (ForecastSettings, {"dataset": "co2", "horizon": 12, "seeds": [0, 1, 2],
                        "autoregressive": False, "lr": 0.01, "patience": 7}),
    (CharRNNSettings, {"cell": "gru", "minutes": 1.5, "progress": False}),
])
def test_changed_flags_parse_back_to_the_settings_they_came_from(cls, changes):
    """The command a result prints is the command that makes the same settings again."""
    from pucklab.runs.cli import changed_flags, parse_settings

    base = cls()
    settings = base.replace(**changes)
    argv = changed_flags(settings, base)
    assert len([a for a in argv if a.startswith("--")]) == len(changes)
    assert parse_settings(cls, argv, "test") == settings.resolved()


def test_changed_flags_say_when_no_flag_can_set_a_value():
    from pucklab.runs.cli import changed_flags

    assert changed_flags(Outer(), Outer()) == []
    with pytest.raises(RunError, match="size = None has no command-line flag"):
        changed_flags(Outer(), Outer(size=3))
