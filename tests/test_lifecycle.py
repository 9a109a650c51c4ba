"""The one run lifecycle (``pucklab.runs.lifecycle.open_run``): a new trainable command written
in a few lines gets the folder, the lock, config.json, a clean stop and an exact resume."""

from __future__ import annotations

import json
import signal
from dataclasses import dataclass
from pathlib import Path

import pytest

from pucklab.runs.lifecycle import open_run
from pucklab.runs.result import RunResult
from pucklab.runs.settings import Settings, seed_setting, setting
from pucklab.runs.stopping import Interrupted, stopping
from pucklab.runs.store import RunError, checkpoint_path, load_checkpoint, run_lock, save_checkpoint


# --- a tiny trainable command: settings, a training function, a few lines --------------------
@dataclass
class CountSettings(Settings):
    steps: int = setting(20, "steps to count", low=1, resumable=True)
    seed: int = seed_setting()


def count(settings: CountSettings, run_dir: Path | None = None, *, resume: bool = False,
          signal_at: int | None = None) -> RunResult:
    """Sums step * (seed + 1); ``signal_at`` sends this process a real SIGINT mid-step."""
    with open_run("count", settings, run_dir, resume=resume, name="count",
                  load=lambda d: load_checkpoint(d, command="count")) as run:
        state = {"step": 0, "total": 0} if run.state is None else dict(run.state)
        with stopping(lambda: save_checkpoint(run.dir, state, command="count"),
                      lambda: f"at step {state['step']}") as flag:
            while state["step"] < settings.steps:
                state["step"] += 1
                if state["step"] == signal_at:
                    signal.raise_signal(signal.SIGINT)  # lands mid-step; taken at its end
                state["total"] += state["step"] * (settings.seed + 1)
                flag.check()
        save_checkpoint(run.dir, state, command="count")
    return RunResult(run.dir, {"total": float(state["total"])})
# ----------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def python_sigint():
    """Python's own Ctrl-C handler, as in a terminal (pytest in the background ignores SIGINT)."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def test_a_new_command_gets_config_stop_and_exact_resume(tmp_path):
    straight = count(CountSettings(seed=2), tmp_path / "straight")
    config = json.loads((tmp_path / "straight" / "config.json").read_text())
    assert config["command"] == "count" and config["settings"] == {"steps": 20, "seed": 2}
    with pytest.raises(Interrupted) as stop:
        count(CountSettings(seed=2), tmp_path / "split", signal_at=7)
    assert str(stop.value) == (f"interrupted at step 7; checkpoint saved, continue with: "
                               f"count --resume {tmp_path / 'split'}")
    assert load_checkpoint(tmp_path / "split")["step"] == 7  # the step finished first
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # given back
    resumed = count(CountSettings(seed=2), tmp_path / "split", resume=True)
    assert resumed.metrics == straight.metrics == {"total": 3 * 210.0}


def test_a_new_command_gets_the_folder_rules_and_the_lock(tmp_path):
    count(CountSettings(), tmp_path / "a")
    with pytest.raises(RunError, match="already holds a run; continue it with --resume"):
        count(CountSettings(), tmp_path / "a")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "config.json").write_text('{"command": "char-rnn"}')
    with pytest.raises(RunError, match="is not a count run .it is a char-rnn run."):
        count(CountSettings(), tmp_path / "other", resume=True)
    with run_lock(tmp_path / "a", new=False), pytest.raises(RunError, match="in use by another"):
        count(CountSettings(steps=30), tmp_path / "a", resume=True)
    assert count(CountSettings(steps=30), tmp_path / "a", resume=True).metrics["total"] == 465


def test_a_failed_start_leaves_no_folder(tmp_path):
    with pytest.raises(RunError, match="bad input"), \
            open_run("count", CountSettings(), tmp_path / "gone", name="count"):
        raise RunError("bad input")
    with pytest.raises(ZeroDivisionError), \
            open_run("count", CountSettings(), tmp_path / "crash", name="count"):
        _ = 1 / 0  # a bug in the command: still no empty folder
    assert not (tmp_path / "gone").exists() and not (tmp_path / "crash").exists()


def test_a_run_stopped_before_its_first_checkpoint_resumes_afresh(tmp_path):
    """Killed in its first minutes (config.json and some files, no checkpoint): the hint to
    re-run says --resume, and --resume starts the run again from its saved settings."""
    straight = count(CountSettings(steps=5), tmp_path / "straight")
    count(CountSettings(steps=5), tmp_path / "killed")
    checkpoint_path(tmp_path / "killed").unlink()  # as if killed before the first save
    (tmp_path / "killed" / "partial.log").write_text("half a row")
    with pytest.raises(RunError, match="continue it with --resume"):
        count(CountSettings(steps=5), tmp_path / "killed")
    resumed = count(CountSettings(steps=5), tmp_path / "killed", resume=True)
    assert resumed.metrics == straight.metrics
    assert not (tmp_path / "killed" / "partial.log").exists()  # no leftovers from the first try


@dataclass
class DeviceSettings(Settings):
    device: str = setting("auto", "where it computes", choices=("auto", "cpu", "cuda"))


def test_config_records_the_device_auto_chose_and_a_gpu_choice_is_said(tmp_path, monkeypatch,
                                                                       capsys):
    import torch

    def opened(settings: object, name: str) -> dict:
        with open_run("count", settings, tmp_path / name, resumable=False):
            pass
        return json.loads((tmp_path / name / "config.json").read_text())

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert opened(DeviceSettings(), "cpu")["device"] == {"setting": "auto", "used": "cpu"}
    assert capsys.readouterr().out == ""  # no choice to speak of without a GPU
    # the trainer's part of the settings holds it for char-rnn and forecast
    nested = opened({"train": {"device": "cpu"}}, "nested")["device"]
    assert nested == {"setting": "cpu", "used": "cpu"}
    assert "device" not in opened(CountSettings(), "none")  # a command without a device
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Some GPU")
    gpu = opened(DeviceSettings(), "gpu")["device"]
    assert gpu == {"setting": "auto", "used": "cuda", "name": "Some GPU"}
    assert capsys.readouterr().out == ("count: --device auto chose cuda (Some GPU); --device cpu "
                                       "keeps it on the CPU\n")
    opened(DeviceSettings(device="cpu"), "asked")  # a device asked for is not announced
    assert capsys.readouterr().out == ""
