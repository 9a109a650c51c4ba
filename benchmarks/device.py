"""The GPU path, measured: our explicit cells against torch.nn on the device, REINFORCE's time to
a 90% evaluation win rate, char-rnn's training speed (fused and explicit cells, with and
without bf16 autocast) and a forecast run, each on the CPU and on CUDA in the same run.

    python benchmarks/device.py --out benchmarks/results    # on a machine with CUDA
    python benchmarks/device.py                              # without CUDA: one line, exit 0
    python benchmarks/device.py --device cpu --quick         # the same code on the CPU, tiny

Without a CUDA device there is nothing to compare, and the script says so in one line and exits
0. ``--device cpu`` runs every measurement with the CPU on both sides (the tests run it with
``--quick``, so the code a GPU machine runs is exercised everywhere).

Each measurement:

- **cells**: RNN, LSTM and GRU stacks (2 layers, 128 units), our explicit cells loaded with a
  fused torch.nn stack's weights, on the device: the largest difference of their outputs;
- **REINFORCE**: ``train-agent`` with its defaults on ``pucklab/AirHockey-v0`` (seed 0) on the
  CPU and on the device, each for at most ``--rl-minutes``: training seconds to the first
  evaluation at 90% (evaluation time not counted), and the final evaluation;
- **char-rnn**: the default char-rnn model (2 x 256 LSTM, 64-dim embedding, 65 symbols) trained
  with Adam on random batches of 32 x 128 characters for ``--steps`` steps: characters per
  second, fused and explicit cells, in float32 and under ``torch.autocast(bfloat16)`` (CUDA
  only: bf16 autocast on the CPU is not the question here);
- **forecast**: the plain ``forecast --dataset sunspots --horizon 10`` on the CPU and on the
  device: wall seconds and the default forecaster's test MASE.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rl_race import first_reach  # noqa: E402

from pucklab.runs.provenance import publish  # noqa: E402
from pucklab.seqmodels.cells import CELLS  # noqa: E402
from pucklab.seqmodels.charrnn.model import CharRNN  # noqa: E402
from pucklab.seqmodels.layers import make_recurrent  # noqa: E402


def cells_match(device: torch.device, hidden: int) -> dict[str, float]:
    """Largest |explicit - fused| output of each cell kind on ``device``, same weights."""
    out = {}
    for cell in CELLS:
        torch.manual_seed(0)
        fused = make_recurrent(cell, 16, hidden, 2, 0.0, "fused").to(device).eval()
        explicit = make_recurrent(cell, 16, hidden, 2, 0.0, "explicit").to(device).eval()
        explicit.load_state_dict(fused.state_dict())
        x = torch.randn(8, 50, 16, device=device)
        with torch.no_grad():
            out[cell] = float((explicit(x)[0] - fused(x)[0]).abs().max())
    return out


def chars_per_second(device: torch.device, impl: str, bf16: bool, steps: int, batch: int,
                     seq: int, hidden: int) -> float:
    """Training characters per second of the char-rnn model on random batches."""
    torch.manual_seed(0)
    model = CharRNN(65, 64, hidden, 2, 0.0, "lstm", impl).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    data = torch.randint(0, 65, (batch, seq + 1), device=device)

    def step() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            logits, _ = model(data[:, :-1])
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 65).float(),
                                                     data[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(3):  # warm-up: kernels, allocator
        step()
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    return steps * batch * seq / (time.perf_counter() - t0)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reinforce(device: str, minutes: float, work: Path, quick: bool) -> tuple[float, float]:
    """(training seconds to a 90% evaluation win rate, or inf; the final evaluation)."""
    from pucklab.agents import AgentSettings, run

    run_dir = work / f"reinforce-{device}"
    settings = AgentSettings(device=device, seed=0, minutes=minutes, video_sessions=0,
                             progress=False)
    if quick:  # the code path, not the numbers: small evaluations
        settings = settings.replace(eval_sessions=16, batch_sessions=32)
    result = run(settings, run_dir)
    reached = first_reach(run_dir, 0.9)
    return (reached[0] if reached else math.inf), float(result.metrics["eval_win_rate"])


def forecast(device: str, work: Path, quick: bool) -> tuple[float, float]:
    """(wall seconds, the default forecaster's test MASE) of the plain sunspots command."""
    from pucklab.seqmodels.forecast import ForecastSettings, run

    settings = ForecastSettings(dataset="sunspots", horizon=10).replace(device=device,
                                                                         progress=False)
    if quick:
        settings = settings.replace(seeds=[0], difference="none", lookback=30, max_steps=20)
    t0 = time.perf_counter()
    result = run(settings, work / f"forecast-{device}")
    return time.perf_counter() - t0, float(result.metrics["test_mase"])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda", choices=("cuda", "cpu"),
                   help="what to compare with the CPU (cpu: the code path alone, for tests)")
    p.add_argument("--quick", action="store_true", help="tiny sizes: seconds, not minutes")
    p.add_argument("--rl-minutes", type=float, default=3.0, help="REINFORCE's budget per device")
    p.add_argument("--steps", type=int, default=100, help="char-rnn training steps timed")
    p.add_argument("--out", type=Path, help="write device.md (stamped) into this folder")
    ns = p.parse_args()
    if ns.device == "cuda" and not torch.cuda.is_available():
        print("benchmarks/device.py: no CUDA device here, nothing to compare; run it on a "
              "machine with a GPU (every other benchmark measures the CPU path)")
        return 0
    dev = torch.device(ns.device)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "the CPU"
    quick = ns.quick
    hidden, batch, seq, steps = (32, 4, 16, 3) if quick else (256, 32, 128, ns.steps)
    work = Path(tempfile.mkdtemp(prefix="device-"))
    lines = [f"# The GPU path: {name} against the CPU ({torch.get_num_threads()} threads)", ""]

    diffs = cells_match(dev, 16 if quick else 128)
    lines += ["## Explicit cells against torch.nn on the device", "",
              "| cell | largest difference |", "|---|---|",
              *(f"| {c} | {d:.2e} |" for c, d in diffs.items()), ""]

    lines += ["## char-rnn training speed (characters / s)", "",
              "| cells | precision | CPU | " + ("device |" if dev.type == "cuda" else "(cpu) |"),
              "|---|---|---|---|"]
    for impl in ("fused", "explicit"):
        for bf16 in (False, True):
            if bf16 and dev.type != "cuda":
                continue
            cpu = chars_per_second(torch.device("cpu"), impl, False, steps, batch, seq, hidden) \
                if not bf16 else math.nan
            there = chars_per_second(dev, impl, bf16, steps, batch, seq, hidden)
            lines.append(f"| {impl} | {'bf16 autocast' if bf16 else 'float32'} | "
                         f"{cpu:,.0f} | {there:,.0f} |")
    lines.append("")

    rl = {d: reinforce(d, 0.05 if quick else ns.rl_minutes, work, quick)
          for d in dict.fromkeys(("cpu", ns.device))}
    lines += ["## REINFORCE on pucklab/AirHockey-v0 (train-agent defaults, seed 0)", "",
              "| device | seconds to 90% | final evaluation |", "|---|---|---|",
              *(f"| {d} | {'never' if math.isinf(s) else f'{s:.0f}'} | {w:.3f} |"
                for d, (s, w) in rl.items()), ""]

    fc = {d: forecast(d, work, quick) for d in dict.fromkeys(("cpu", ns.device))}
    lines += ["## forecast --dataset sunspots --horizon 10", "",
              "| device | wall seconds | default's test MASE |", "|---|---|---|",
              *(f"| {d} | {s:.0f} | {m:.3f} |" for d, (s, m) in fc.items()), ""]
    text = "\n".join(lines)
    print(text)
    if ns.out:
        publish(ns.out / "device.md", text, [0])
        print(f"wrote {ns.out / 'device.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
