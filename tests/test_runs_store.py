"""Run plumbing: atomic files, safe checkpoints, config, metrics CSV and curves."""

import json

import numpy as np
import pytest
import torch

from pucklab.runs.metrics import MetricsLogger, plot_curves, read_metrics
from pucklab.runs.store import (
    RunError,
    atomic_write,
    load_checkpoint,
    load_config,
    new_run_dir,
    save_checkpoint,
    save_config,
)


def test_new_run_dirs_are_distinct(tmp_path):
    a = new_run_dir("pucklab/AirHockey-v0__reinforce", root=tmp_path)
    b = new_run_dir("pucklab/AirHockey-v0__reinforce", root=tmp_path)
    assert a != b and a.is_dir() and b.is_dir() and a.parent == tmp_path


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "x.bin"
    atomic_write(path, lambda f: f.write(b"old"))

    def broken(f):
        f.write(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, broken)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.bin"]  # no temp file left behind


def test_checkpoint_round_trip_with_rng_states(tmp_path):
    model = torch.nn.Linear(3, 2)
    rng = np.random.default_rng(5)
    state = {"model": model.state_dict(), "torch_rng": torch.get_rng_state(),
             "numpy_rng": rng.bit_generator.state, "counters": {"env_steps": 1234, "t": 1.5}}
    save_checkpoint(tmp_path, state, command="test")
    loaded = load_checkpoint(tmp_path, command="test", keys=("model", "counters"))
    assert loaded["written_by"] == {"command": "test", "format": 1}
    assert loaded["counters"] == {"env_steps": 1234, "t": 1.5}
    torch.testing.assert_close(loaded["model"]["weight"], model.weight.detach())
    rng2 = np.random.default_rng()
    rng2.bit_generator.state = loaded["numpy_rng"]
    assert rng2.random() == rng.random()


def test_checkpoints_that_would_run_code_are_refused(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    torch.save({"evil": RunError("x")}, tmp_path / "checkpoints" / "last.pt")
    with pytest.raises(RunError, match="cannot load checkpoint"):
        load_checkpoint(tmp_path)


@pytest.mark.parametrize("content, kw, message", [
    ([1, 2, 3], {}, "is not a pucklab checkpoint"),
    ({"model": {}}, {}, "is not a pucklab checkpoint"),  # says nothing of what wrote it
    ({"written_by": {"command": "char-rnn", "format": 99}}, {}, "format 99"),
    ({"written_by": {"command": "char-rnn", "format": 1}}, {"command": "train-agent"},
     "is a char-rnn checkpoint; train-agent needs"),
    ({"written_by": {"command": "forecast", "format": 1}, "model": {}},
     {"command": "forecast", "keys": ("model", "model_args")}, "damaged: it lacks model_args"),
])
def test_checkpoints_say_what_wrote_them_and_are_checked(tmp_path, content, kw, message):
    (tmp_path / "checkpoints").mkdir()
    torch.save(content, tmp_path / "checkpoints" / "last.pt")
    with pytest.raises(RunError, match=message):
        load_checkpoint(tmp_path, **kw)


def test_missing_checkpoint_and_config_are_run_errors(tmp_path):
    with pytest.raises(RunError, match="no checkpoint"):
        load_checkpoint(tmp_path)
    with pytest.raises(RunError, match="not a run folder"):
        load_config(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(RunError, match="cannot read"):
        load_config(tmp_path)


def test_config_records_versions(tmp_path):
    save_config(tmp_path, {"lr": 0.001, "env": "pucklab/AirHockey-v0"})
    config = load_config(tmp_path)
    assert config["lr"] == 0.001
    assert torch.__version__.startswith(config["versions"]["torch"].split("+")[0])
    assert json.loads((tmp_path / "config.json").read_text())["env"] == "pucklab/AirHockey-v0"


def test_metrics_resume_drops_rows_after_the_checkpoint(tmp_path):
    cols = ["env_steps", "win_rate", "loss"]
    log = MetricsLogger(tmp_path, cols, tags={"win_rate": "charts/win_rate"})
    for step in (100, 200, 300):
        log.log({"env_steps": step, "win_rate": step / 1000, "loss": 1.0})
    log.close()
    log = MetricsLogger(tmp_path, cols, resume_from=200, tensorboard=False)
    log.log({"env_steps": 300, "win_rate": 0.9})
    log.close()
    rows = read_metrics(tmp_path)
    assert [r["env_steps"] for r in rows] == [100, 200, 300]
    assert rows[-1]["win_rate"] == 0.9 and np.isnan(rows[-1]["loss"])
    assert any(p.name.startswith("events.out.tfevents") for p in tmp_path.iterdir())
    png = plot_curves(tmp_path, "env_steps", ["win_rate", "loss"], "curve.png", title="t")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
