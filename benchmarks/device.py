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
  fused torch.nn stack's weights, on the device: the largest difference of their outputs, with
  cuDNN's TF32 (its default: float32 recurrent kernels on the tensor cores, 10-bit mantissas)
  and without it (``torch.backends.cudnn.allow_tf32 = False``: float32 throughout);
- **REINFORCE**: ``train-agent`` with its defaults on ``pucklab/AirHockey-v0`` (seed 0) on the
  CPU and on the device, each for at most ``--rl-minutes``: training seconds to the first
  evaluation at 90% (evaluation time not counted), env steps per training second, and the
  final evaluation;
- **char-rnn**: the default ``char-rnn train`` model and batch (its settings' defaults: 2 x 448
  LSTM, 64-dim embedding, dropout 0.3, 32 x 128 characters; 65 symbols) trained with Adam on
  random batches for ``--steps`` steps: characters per second, fused and explicit cells, in
  float32 and under ``torch.autocast(bfloat16)``, on the CPU and on the device;
- **forecast**: the plain ``forecast --dataset sunspots --horizon 10`` on the CPU and on the
  device: wall seconds and the default forecaster's test MASE;
- **auto**: what ``--device auto`` and char-rnn's ``--precision auto`` choose on this machine.
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

from pucklab.runs.device import resolve_device  # noqa: E402
from pucklab.runs.provenance import cpu_model, publish  # noqa: E402
from pucklab.seqmodels.cells import CELLS  # noqa: E402
from pucklab.seqmodels.charrnn.model import CharRNN, auto_precision  # noqa: E402
from pucklab.seqmodels.charrnn.runner import CharRNNSettings  # noqa: E402
from pucklab.seqmodels.layers import make_recurrent  # noqa: E402


def cells_match(device: torch.device, hidden: int, tf32: bool) -> dict[str, float]:
    """Largest |explicit - fused| output of each cell kind on ``device``, same weights; with
    ``tf32`` False, cuDNN computes in full float32 (on the CPU it changes nothing)."""
    out = {}
    before = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = tf32
    try:
        for cell in CELLS:
            out[cell] = _cell_difference(cell, device, hidden)
    finally:
        torch.backends.cudnn.allow_tf32 = before
    return out


def _cell_difference(cell: str, device: torch.device, hidden: int) -> float:
    torch.manual_seed(0)
    fused = make_recurrent(cell, 16, hidden, 2, 0.0, "fused").to(device).eval()
    explicit = make_recurrent(cell, 16, hidden, 2, 0.0, "explicit").to(device).eval()
    explicit.load_state_dict(fused.state_dict())
    x = torch.randn(8, 50, 16, device=device)
    with torch.no_grad():
        return float((explicit(x)[0] - fused(x)[0]).abs().max())


def chars_per_second(device: torch.device, impl: str, bf16: bool, steps: int,
                     s: CharRNNSettings) -> float:
    """Training characters per second of the char-rnn model ``s`` describes, on random
    batches of its shape."""
    torch.manual_seed(0)
    model = CharRNN(65, s.embed, s.hidden, s.layers, s.dropout, s.cell, impl).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    batch, seq = s.batch_size, s.seq_len
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


def reinforce(device: str, minutes: float, work: Path, quick: bool) -> tuple[float, float, float]:
    """(training seconds to a 90% evaluation win rate, or inf; env steps per training second;
    the final evaluation)."""
    from pucklab.agents import AgentSettings, run

    run_dir = work / f"reinforce-{device}"
    settings = AgentSettings(device=device, seed=0, minutes=minutes, video_sessions=0,
                             progress=False)
    if quick:  # the code path, not the numbers: small evaluations
        settings = settings.replace(eval_sessions=16, batch_sessions=32)
    result = run(settings, run_dir)
    reached = first_reach(run_dir, 0.9)
    m = result.metrics
    return ((reached[0] if reached else math.inf), m["env_steps"] / max(m["wall_time_s"], 1e-9),
            float(m["eval_win_rate"]))


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
    quick, steps = ns.quick, (3 if ns.quick else ns.steps)
    model = CharRNNSettings()
    if quick:
        model = model.replace(embed=8, hidden=32, batch_size=4, seq_len=16)
    cpu_bf16 = auto_precision(torch.device("cpu")) == "bf16"  # native there: worth timing
    work = Path(tempfile.mkdtemp(prefix="device-"))
    lines = [f"# The GPU path: {name} against the CPU ({torch.get_num_threads()} threads of "
             f"{cpu_model()})", ""]

    cell_batch = 16 if quick else 128
    tf32, full = cells_match(dev, cell_batch, True), cells_match(dev, cell_batch, False)
    lines += ["## Explicit cells against torch.nn on the device", "",
              "| cell | largest difference, cuDNN TF32 (default) | without TF32 |", "|---|---|---|",
              *(f"| {c} | {tf32[c]:.2e} | {full[c]:.2e} |" for c in tf32), ""]

    lines += [f"## char-rnn training speed (characters / s; {model.layers} x {model.hidden} "
              f"{model.cell}, batch {model.batch_size} x {model.seq_len})", "",
              "| cells | precision | CPU | " + ("device |" if dev.type == "cuda" else "(cpu) |"),
              "|---|---|---|---|"]
    for impl in ("fused", "explicit"):
        for bf16 in (False, True):
            cpu = (f"{chars_per_second(torch.device('cpu'), impl, bf16, steps, model):,.0f}"
                   if cpu_bf16 or not bf16 else "- (emulated)")
            there = chars_per_second(dev, impl, bf16, steps, model)
            lines.append(f"| {impl} | {'bf16 autocast' if bf16 else 'float32'} | {cpu} | "
                         f"{there:,.0f} |")
    lines.append("")

    rl = {d: reinforce(d, 0.05 if quick else ns.rl_minutes, work, quick)
          for d in dict.fromkeys(("cpu", ns.device))}
    lines += ["## REINFORCE on pucklab/AirHockey-v0 (train-agent defaults, seed 0)", "",
              "| device | seconds to 90% | env steps / training s | final evaluation |",
              "|---|---|---|---|",
              *(f"| {d} | {'never' if math.isinf(t) else f'{t:.0f}'} | {r:,.0f} | {w:.3f} |"
                for d, (t, r, w) in rl.items()), ""]

    fc = {d: forecast(d, work, quick) for d in dict.fromkeys(("cpu", ns.device))}
    lines += ["## forecast --dataset sunspots --horizon 10", "",
              "| device | wall seconds | default's test MASE |", "|---|---|---|",
              *(f"| {d} | {t:.0f} | {m:.3f} |" for d, (t, m) in fc.items()), ""]

    auto = resolve_device("auto")
    lines += ["## What auto chooses here", "",
              f"- `--device auto`: {auto.type} (every command; a run's config.json records it)",
              f"- char-rnn `--precision auto`: {auto_precision(auto)} on {auto.type}, "
              f"{auto_precision(torch.device('cpu'))} on the CPU", ""]
    text = "\n".join(lines)
    print(text)
    if ns.out:
        publish(ns.out / "device.md", text, [0])
        print(f"wrote {ns.out / 'device.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
