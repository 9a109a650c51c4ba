"""Classes of hostile input and fault a replay of ~550 drills found, one test per class: each is
one line on stderr and exit code 2 (or a clean run where the input was fine), no traceback,
nothing left behind or damaged."""

from __future__ import annotations

import hashlib
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import pucklab.envs
from helpers import make_corpus, one_line_error
from pucklab.agents import cli as agent_cli
from pucklab.runs import lab, sweep
from pucklab.runs.store import checkpoint_path
from pucklab.seqmodels.charrnn import cli as char_cli
from pucklab.seqmodels.forecast import cli as forecast_cli

NOBODY = 65534
TINY_AGENT = ["--env-kwargs", "obs_type=state", "--batch-sessions", "8", "--eval-sessions", "8",
              "--video-sessions", "0", "--no-progress"]


def tiny_char_rnn(corpus: Path) -> list[str]:
    return ["train", "--corpus", str(corpus), "--hidden", "16", "--embed", "8", "--layers", "1",
            "--seq-len", "16", "--batch-size", "4", "--max-steps", "12", "--eval-every", "4",
            "--no-progress"]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- a read-only install, used by a user without a writable home --------------------------------
def test_the_env_runs_from_a_read_only_install_without_a_writable_home():
    """numba caches beside the source, else in ~/.cache; with neither writable it compiles
    without a cache instead of refusing ("cannot cache function ... no locator available")."""
    base = Path(tempfile.mkdtemp(prefix="pucklab-ro-install-"))  # under /tmp: nobody reaches it
    try:
        shutil.copytree(Path(pucklab.envs.__file__).parent, base / "pucklab" / "envs",
                        ignore=shutil.ignore_patterns("__pycache__"))
        for folder, _, files in os.walk(base):
            os.chmod(folder, 0o555)
            for name in files:
                os.chmod(Path(folder) / name, 0o444)
        # The child loads Python, numba and gymnasium as the user running the tests (the
        # interpreter may live where nobody cannot read), then becomes nobody and imports
        # pucklab's env from the read-only copy: what a system-wide install meets.
        code = ("import os, sys, tempfile, gymnasium as gym, numba, numpy\n"
                "from numba.misc.appdirs import AppDirs\n"
                "numba.njit(lambda x: x + 1)(1)  # numba's compiler, loaded\n"
                "gym.make('CartPole-v1').reset(seed=0)\n"
                f"if os.geteuid() == 0: os.setgid({NOBODY}); os.setuid({NOBODY})\n"
                f"sys.path.insert(0, {str(base)!r})\n"
                "import pucklab.envs as e\n"
                f"assert e.__file__.startswith({str(base)!r}), e.__file__\n"
                "env = gym.make('pucklab/AirHockey-v0'); env.reset(seed=0)\n"
                "vec = gym.make_vec('pucklab/AirHockey-v0', num_envs=4); vec.reset(seed=0)\n"
                "env.step(0); vec.step(vec.action_space.sample())\n"
                "print('cache', e.jit.CACHE)\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", "XDG_"))}
        env["HOME"] = "/nonexistent"
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env=env, cwd="/", timeout=300)
        assert proc.returncode == 0 and proc.stderr == "", proc.stderr
        assert proc.stdout == "cache False\n"
    finally:
        for folder, _, _ in os.walk(base):
            os.chmod(folder, 0o755)
        shutil.rmtree(base, ignore_errors=True)


# --- seeds: one type, one range, every command --------------------------------------------------
@pytest.mark.parametrize("main, argv", [
    (lab.main, ["vanishing-gradients", "--seed", "99999999999999999999"]),
    (lab.main, ["vanishing-gradients", "--seed", "-1"]),
    (lab.main, ["perceptron", "--seed", "-1"]),  # scikit-learn's digits behind it
    (lab.main, ["gradient-descent", "--seed", "4294967295", "--seeds", "2"]),
    (agent_cli.main, ["--seed", "4294967296"]),
    (sweep.main, ["forecast", "--param", "hidden=choice:8", "--seed", "-3"]),
])
def test_seeds_out_of_range_are_one_line(main, argv, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    one_line_error(main, argv, capsys, "--seed must be in [0, ")
    assert not (tmp_path / "runs").exists()


def test_sample_seed_and_length_are_bounded(tmp_path, capsys):
    run_dir = tmp_path / "c"
    assert char_cli.main([*tiny_char_rnn(make_corpus(tmp_path / "w.txt")),
                          "--run-dir", str(run_dir)]) == 0
    capsys.readouterr()
    one_line_error(char_cli.main, ["sample", str(run_dir), "--seed", "99999999999999999999"],
                   capsys, "--seed must be in [0, 4294967295]")
    one_line_error(char_cli.main, ["sample", str(run_dir), "--length", "99999999999999999999"],
                   capsys, "--length must be in [0, 100000]")


# --- a refused input prints one line only: no library warning before it ------------------------
def test_a_legacy_pickle_checkpoint_is_refused_in_one_line(tmp_path, capsys):
    run_dir = tmp_path / "a"
    assert agent_cli.main([*TINY_AGENT, "--total-steps", "50", "--run-dir", str(run_dir)]) == 0
    capsys.readouterr()
    with open(checkpoint_path(run_dir), "wb") as f:
        pickle.dump({"policy": {}}, f, protocol=4)  # what torch.save wrote before zip files
    for argv in (["evaluate", str(run_dir)], ["--resume", str(run_dir)]):
        one_line_error(agent_cli.main, argv, capsys, "cannot load checkpoint")


def test_a_csv_with_unparseable_dates_is_one_line(tmp_path, capsys):
    csv = tmp_path / "d.csv"
    csv.write_text("when,y\n" + "".join(f"day {i},{i}\n" for i in range(60)))
    one_line_error(forecast_cli.main, ["--csv", str(csv), "--column", "y", "--time-column",
                                       "when", "--run-dir", str(tmp_path / "r")], capsys,
                   "holds neither numbers nor dates")
    assert not (tmp_path / "r").exists()


# --- a run stopped before its first checkpoint can be resumed -----------------------------------
def test_a_char_rnn_run_killed_before_its_first_checkpoint_resumes_afresh(tmp_path, capsys):
    argv = tiny_char_rnn(make_corpus(tmp_path / "w.txt"))
    assert char_cli.main([*argv, "--run-dir", str(tmp_path / "straight")]) == 0
    assert char_cli.main([*argv, "--run-dir", str(tmp_path / "killed")]) == 0
    shutil.rmtree(tmp_path / "killed" / "checkpoints")  # what a kill -9 at the start leaves
    capsys.readouterr()
    one_line_error(char_cli.main, [*argv, "--run-dir", str(tmp_path / "killed")], capsys,
                   "continue it with --resume")
    assert char_cli.main(["train", "--resume", str(tmp_path / "killed")]) == 0
    rows = [(tmp_path / d / "metrics.csv").read_text().splitlines() for d in ("straight", "killed")]
    strip = [[",".join(c for i, c in enumerate(r.split(",")) if i != 2) for r in rs]
             for rs in rows]  # wall_time_s aside
    assert strip[0] == strip[1]


# --- sweep: the whole sweep is checked before its first trial -----------------------------------
FORECAST = ["forecast", "--fixed", "dataset=sunspots", "horizon=3", "max_steps=4", "hidden=4",
            "baselines=naive", "progress=false", "--pruner", "none", "--sampler", "random"]


def test_a_sweep_is_checked_before_its_first_trial(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    corpus = make_corpus(tmp_path / "w.txt")
    for argv, expect in (
            (["char-rnn", "--param", "lr=log:1e-3:1e-2", "--fixed", "corpus=nope.txt"],
             "corpus 'nope.txt' not found"),
            (["char-rnn", "--param", "lr=log:1e-3:1e-2", "--fixed", f"corpus={corpus}",
              "--metric", "nosuch"], "--metric must be one of"),
            ([*FORECAST, "--param", "lr=0:1e-2"], "low end of the space cannot run: --lr")):
        one_line_error(sweep.main, [*argv, "--run-dir", str(tmp_path / "s")], capsys, expect)
        assert not (tmp_path / "s").exists()
    assert sweep.main([*FORECAST, "--param", "lr=log:1e-3:1e-2", "--trials", "1",
                       "--run-dir", str(tmp_path / "s")]) == 0
    capsys.readouterr()
    saved = (tmp_path / "s" / "sweep.json").read_text()
    one_line_error(sweep.main, [*FORECAST, "--param", "hidden=choice:4,8",
                                "--run-dir", str(tmp_path / "s")], capsys, "keeps its space")
    one_line_error(sweep.main, ["char-rnn", "--run-dir", str(tmp_path / "s")], capsys,
                   "holds a forecast sweep")
    assert (tmp_path / "s" / "sweep.json").read_text() == saved
    assert sweep.main(["show", "--help"]) == 0
    assert capsys.readouterr().out.startswith("usage: sweep show")


# --- --print-config checks what a start checks --------------------------------------------------
def test_print_config_refuses_what_a_run_refuses(tmp_path, capsys):
    one_line_error(agent_cli.main, ["--print-config", "--env-kwargs", "bogus=1"], capsys,
                   "bad --env-kwargs")
    one_line_error(forecast_cli.main, ["--print-config", "--csv", str(tmp_path / "nope.csv")],
                   capsys, "no such file")
    assert forecast_cli.main(["--print-config", "--dataset", "sunspots"]) == 0
    assert capsys.readouterr().out.startswith("# forecast settings")


# --- no arguments: the usage, on stderr, exit 2 -------------------------------------------------
@pytest.mark.parametrize("main, usage", [(char_cli.main, "usage: char-rnn"),
                                         (sweep.main, "usage: sweep"),
                                         (lab.main, "usage: lab")])
def test_no_arguments_print_the_usage_on_stderr(main, usage, capsys):
    assert main([]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(usage)


# --- nothing on stderr for a run that went well, in a pipe --------------------------------------
def _start(command: str, *argv: str, cwd: Path) -> subprocess.Popen:
    """The console script ``command`` started in a pipe, without a display's variables."""
    script = f"import sys; from pucklab.runs.launch import launch; sys.exit(launch({command!r}))"
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_RUNTIME_DIR", "SDL_VIDEODRIVER")}
    return subprocess.Popen([sys.executable, "-c", script, *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=cwd, env=env)


def test_a_good_run_in_a_pipe_leaves_stderr_empty(tmp_path):
    """No progress bar unless asked (--help: "default: when stderr is a terminal"), and no
    SDL chatter from a Gymnasium env's off-screen renderer."""
    corpus = make_corpus(tmp_path / "w.txt")
    argv = [a for a in tiny_char_rnn(corpus) if a != "--no-progress"]
    runs = [_start("char-rnn", *argv, "--run-dir", "c", cwd=tmp_path),  # side by side
            _start("train-agent", "--env", "FrozenLake-v1", "--total-steps", "300",
                   "--eval-sessions", "8", "--video-sessions", "1", "--run-dir", "f",
                   cwd=tmp_path),
            _start("sweep", *[a for a in FORECAST if a != "progress=false"], "--param",
                   "lr=log:1e-3:1e-2", "--trials", "1", "--run-dir", "s", cwd=tmp_path)]
    for proc in runs:
        _, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0 and stderr == "", stderr
    assert (tmp_path / "f" / "videos" / "final.mp4").is_file()


# --- resuming a finished run changes nothing ----------------------------------------------------
def test_resuming_a_finished_run_leaves_its_checkpoint_as_it_was(tmp_path):
    assert agent_cli.main([*TINY_AGENT, "--total-steps", "50", "--run-dir",
                           str(tmp_path / "a")]) == 0
    assert char_cli.main([*tiny_char_rnn(make_corpus(tmp_path / "w.txt")), "--run-dir",
                          str(tmp_path / "c")]) == 0
    before = {d: _sha(checkpoint_path(tmp_path / d)) for d in ("a", "c")}
    assert agent_cli.main(["--resume", str(tmp_path / "a")]) == 0
    assert char_cli.main(["train", "--resume", str(tmp_path / "c")]) == 0
    assert {d: _sha(checkpoint_path(tmp_path / d)) for d in ("a", "c")} == before


# --- a start that fails leaves nothing ----------------------------------------------------------
def test_a_lab_experiment_that_crashes_leaves_no_folder(tmp_path, monkeypatch, capsys):
    from pucklab.seqmodels.lab import gradients

    def crash(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(gradients.VANISHING_GRADIENTS, "measure", crash)  # the first task
    with pytest.raises(RuntimeError, match="a bug"):
        lab.main(["vanishing-gradients", "--quick", "--run-dir", str(tmp_path / "lab")])
    assert not (tmp_path / "lab").exists()


# --- a refused resume leaves the folder as it was -----------------------------------------------
def test_a_refused_resume_rewrites_nothing(tmp_path, capsys):
    from pucklab.agents import AgentSettings
    from pucklab.agents import run as agent_run
    from pucklab.runs.store import RunError
    from pucklab.seqmodels.charrnn import CharRNNSettings
    from pucklab.seqmodels.charrnn import run as char_run

    corpus = make_corpus(tmp_path / "w.txt")
    assert char_cli.main([*tiny_char_rnn(corpus), "--run-dir", str(tmp_path / "c")]) == 0
    assert agent_cli.main([*TINY_AGENT, "--total-steps", "50", "--run-dir",
                           str(tmp_path / "a")]) == 0
    before = {d: (tmp_path / d / "config.json").read_text() for d in ("c", "a")}
    other = tmp_path / "other.txt"
    other.write_text(corpus.read_text() + "Z!")  # characters the run never saw
    with pytest.raises(RunError, match="vocabulary mismatch"):
        char_run(CharRNNSettings(corpus=str(other)), tmp_path / "c", resume=True)
    with pytest.raises(RunError, match="holds a reinforce checkpoint"):
        agent_run(AgentSettings(algo="ppo", env_kwargs={"obs_type": "state"}), tmp_path / "a",
                  resume=True)
    assert {d: (tmp_path / d / "config.json").read_text() for d in ("c", "a")} == before
