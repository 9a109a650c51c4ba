"""``benchmarks/device.py``: without CUDA it says so in one line and exits 0; its measurements
run end to end on the CPU (``--device cpu --quick``), so the code a GPU machine runs is
exercised here too."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "device.py"


def run(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *argv], capture_output=True, text=True,
                          timeout=600, env=env)


def test_without_cuda_it_says_so_in_one_line_and_exits_0():
    import os

    done = run(env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("\n") == 1 and "no CUDA device here" in done.stdout


def test_every_measurement_runs_on_the_cpu(tmp_path):
    done = run("--device", "cpu", "--quick", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "device.md").read_text()
    for section in ("Explicit cells", "char-rnn training speed", "REINFORCE", "forecast",
                    "What auto chooses"):
        assert section in text, section
    # explicit cells equal torch.nn's on the same weights, with and without cuDNN's TF32
    diffs = [float(x) for line in text.splitlines()
             if line.startswith(("| rnn |", "| lstm |", "| gru |"))
             for x in line.split("|")[2:4]]
    assert len(diffs) == 6 and max(diffs) < 1e-4
    assert "`--device auto`: cpu" in text
    assert "## Provenance" in text
