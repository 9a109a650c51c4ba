"""What goes wrong before and around a run: Ctrl-C while the command imports, envs the agent
cannot play, damaged saved settings. Each is one line on stderr and an exit code, never a
traceback, and no run folder is left behind or damaged."""

from __future__ import annotations

import importlib
import signal
import subprocess
import sys

import pytest

from pucklab.runs import launch


def test_ctrl_c_while_the_command_imports_is_one_line(monkeypatch, capsys):
    def interrupted_import(name, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(importlib, "import_module", interrupted_import)
    assert launch.launch("train-agent") == 130
    assert capsys.readouterr().err == "train-agent: interrupted\n"


def test_an_import_that_swallows_ctrl_c_cannot_make_the_command_run(monkeypatch, capsys):
    def swallowing_import(*args, **kwargs):
        try:
            signal.raise_signal(signal.SIGINT)
        except KeyboardInterrupt:
            pass
        return lambda: pytest.fail("the command ran after Ctrl-C")

    monkeypatch.setattr(launch, "load_main", swallowing_import)
    assert launch.launch("char-rnn") == 130
    assert capsys.readouterr().err == "char-rnn: interrupted\n"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.parametrize("command", ["train-agent", "forecast", "char-rnn"])
def test_ctrl_c_at_start_of_the_real_script(tmp_path, command):
    """The installed script, interrupted while torch and the rest load: exit 130, one line."""
    args = {"train-agent": [], "forecast": ["--dataset", "sunspots"],
            "char-rnn": ["train", "--corpus", "shakespeare"]}[command]
    script = ("import sys\n"
              "from pucklab.runs import launch as L\n"
              "real = L.load_main\n"
              "def load(name):\n"
              "    print('importing', flush=True)\n"
              "    return real(name)\n"
              "L.load_main = load\n"
              f"sys.exit(L.launch({command!r}))\n")
    proc = subprocess.Popen([sys.executable, "-c", script, *args, "--run-dir", str(tmp_path / "r")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "importing\n"  # torch and the rest load now
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert err == f"{command}: interrupted\n"
    assert not (tmp_path / "r").exists()


def test_every_command_has_its_entry_point():
    for name in ("train-agent", "char-rnn", "forecast", "lab", "sweep", "pucklab-demo"):
        assert callable(launch.load_main(name))
