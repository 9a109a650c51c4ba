"""The shared Trainer on toy tasks: optimisers, clipping, schedules, early stopping, resume."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from pucklab.runs.metrics import read_metrics
from pucklab.runs.optim import OPTIMIZERS
from pucklab.runs.result import Stop
from pucklab.runs.stopping import Interrupted
from pucklab.runs.store import RunError, load_checkpoint
from pucklab.seqmodels.trainer import TrainConfig, Trainer


class Regression:
    """y = x A on fixed random data; ``val`` may be scripted to test early stopping."""

    units = "mse"

    def __init__(self, steps_per_epoch: int = 4, scale: float = 1.0, vals=None, nan_at=None):
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(64, 5, generator=g)
        self.y = self.x @ torch.randn(5, 3, generator=g) * scale
        self.steps_per_epoch, self.vals, self.nan_at = steps_per_epoch, list(vals or []), nan_at
        self.snapshots: list[dict[str, torch.Tensor]] = []

    def to(self, device):
        return self

    def train_loss(self, model, step):
        if self.nan_at is not None and step >= self.nan_at:
            return model(self.x).sum() * math.nan
        rows = slice(16 * (step % 4), 16 * (step % 4 + 1))
        return ((model(self.x[rows]) - self.y[rows]) ** 2).mean()

    def val_loss(self, model):
        self.snapshots.append({k: v.clone() for k, v in model.state_dict().items()})
        if self.vals:
            return self.vals.pop(0)
        return float(((model(self.x) - self.y) ** 2).mean())

    def state_dict(self):
        return {}

    def load_state_dict(self, d):
        pass


def fit(tmp_path, task=None, name="run", model=None, **cfg):
    torch.manual_seed(0)
    model = model or nn.Linear(5, 3)
    cfg = TrainConfig(progress=False, log_every=1, **cfg)
    trainer = Trainer(model, task or Regression(), cfg, tmp_path / name)
    return trainer, trainer.fit()


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_every_optimiser_steps_and_lowers_the_loss(tmp_path, optimizer):
    lr = {"sgd": 0.05, "momentum": 0.02, "nesterov": 0.02, "rmsprop": 0.02, "adam": 0.05,
          "adamw": 0.05, "adadelta": 20.0}[optimizer]
    trainer, result = fit(tmp_path, optimizer=optimizer, lr=lr, max_steps=40)
    rows = read_metrics(tmp_path / "run")
    losses = [r["train_loss"] for r in rows if not math.isnan(r["train_loss"])]
    assert result.steps == 40 and len(losses) == 40
    assert sum(losses[-4:]) < 0.7 * sum(losses[:4]), (optimizer, losses[:4], losses[-4:])


def test_clipping_bounds_the_update(tmp_path):
    torch.manual_seed(0)
    model = nn.Linear(5, 3)
    before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
    task = Regression(scale=100.0)  # gradients far above the clip
    trainer, _ = fit(tmp_path, task, model=model, optimizer="sgd", lr=1.0, clip=0.1, max_steps=1)
    after = torch.cat([p.detach().flatten() for p in model.parameters()])
    grad_norm = read_metrics(tmp_path / "run")[0]["grad_norm"]
    assert grad_norm > 10  # the logged norm is before clipping ...
    assert (after - before).norm() <= 0.1 + 1e-5  # ... the step used the clipped one
    _, _ = fit(tmp_path, Regression(scale=100.0), name="free", optimizer="sgd", lr=1e-4, clip=0,
               max_steps=1)


def test_l1_adds_l1_times_the_sign_of_each_weight_to_its_gradient(tmp_path):
    steps = {}
    for l1 in (0.0, 0.5):
        torch.manual_seed(0)
        model = nn.Linear(5, 3)
        before = model.weight.detach().clone()
        fit(tmp_path, model=model, name=f"l1-{l1}", optimizer="sgd", lr=0.1, clip=0, l1=l1,
            max_steps=1)
        steps[l1] = (before, model.weight.detach().clone(), model.bias.detach().clone())
    w0, plain, bias_plain = steps[0.0]
    _, penalised, bias_penalised = steps[0.5]
    torch.testing.assert_close(penalised - plain, -0.1 * 0.5 * torch.sign(w0))
    torch.testing.assert_close(bias_penalised, bias_plain)  # biases are not penalised
    logged = [read_metrics(tmp_path / f"l1-{l1}")[0]["train_loss"] for l1 in (0.0, 0.5)]
    assert logged[0] == logged[1]  # the logged loss is the data loss alone


def test_step_decay_lowers_the_lr_every_epochs(tmp_path):
    _, result = fit(tmp_path, optimizer="sgd", lr=0.1, schedule="step", step_every=2,
                    lr_decay=0.5, epochs=6)
    lr_by_epoch = {int(r["epoch"]): r["lr"] for r in read_metrics(tmp_path / "run")
                   if r["epoch"] == int(r["epoch"]) and not math.isnan(r["lr"])}
    assert lr_by_epoch[1] == pytest.approx(0.1)
    assert lr_by_epoch[2] == pytest.approx(0.05) and lr_by_epoch[3] == pytest.approx(0.05)
    assert lr_by_epoch[4] == pytest.approx(0.025) and lr_by_epoch[6] == pytest.approx(0.0125)


def test_cosine_reaches_zero_at_the_end_and_plateau_cuts(tmp_path):
    _, _ = fit(tmp_path, name="cos", lr=0.01, schedule="cosine", max_steps=20)
    lrs = [r["lr"] for r in read_metrics(tmp_path / "cos") if not math.isnan(r["lr"])]
    assert lrs[0] < 0.01 and lrs[-1] == pytest.approx(0.0, abs=1e-12)
    assert all(a >= b for a, b in zip(lrs[:-1], lrs[1:], strict=True))
    task = Regression(steps_per_epoch=1, vals=[1.0, 1.0, 1.0, 1.0, 1.0])
    trainer, _ = fit(tmp_path, task, name="plateau", lr=0.01, schedule="plateau",
                     plateau_patience=1, lr_decay=0.1, max_steps=5)
    assert trainer.lr() < 0.01 * 0.1 + 1e-12


def test_early_stopping_stops_and_restores_the_best(tmp_path):
    task = Regression(steps_per_epoch=1, vals=[3.0, 2.0, 1.0, 2.0, 3.0, 4.0, 5.0])
    trainer, result = fit(tmp_path, task, patience=2, max_steps=50)
    assert result.stopped == "early stopping" and result.steps == 5
    assert result.val_loss == 1.0 == result.best_val_loss
    best = task.snapshots[2]
    for k, v in trainer.model.state_dict().items():
        torch.testing.assert_close(v, best[k])
    assert not torch.equal(best["weight"], task.snapshots[4]["weight"])
    ckpt = load_checkpoint(tmp_path / "run", "best.pt")
    torch.testing.assert_close(ckpt["model"]["weight"], best["weight"])


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    task = Regression(steps_per_epoch=2, nan_at=5)
    trainer, result = fit(tmp_path, task, max_steps=50)
    assert result.stopped is Stop.NON_FINITE and "step 4" in result.message
    assert result.steps == 5
    assert load_checkpoint(tmp_path / "run")["counters"]["step"] == 4
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())


def test_resume_restores_counters_optimiser_and_lr(tmp_path):
    _, whole = fit(tmp_path, name="whole", schedule="step", lr=0.1, lr_decay=0.5, max_steps=12)
    _, first = fit(tmp_path, name="split", schedule="step", lr=0.1, lr_decay=0.5, max_steps=6)
    torch.manual_seed(123)  # a resume must not depend on the global RNG state it starts with
    cfg = TrainConfig(progress=False, log_every=1, schedule="step", lr=0.1, lr_decay=0.5,
                      max_steps=12)
    resumed = Trainer(nn.Linear(5, 3), Regression(), cfg, tmp_path / "split", resume=True)
    assert resumed.step == 6 and resumed.lr() == pytest.approx(0.1 * 0.5 ** 1)
    result = resumed.fit()
    assert result.steps == 12
    a = [r["train_loss"] for r in read_metrics(tmp_path / "whole")]
    b = [r["train_loss"] for r in read_metrics(tmp_path / "split")]
    assert len(a) == len(b) and a == pytest.approx(b, rel=1e-6, nan_ok=True)
    assert result.wall_time_s >= first.wall_time_s


def test_bad_trainer_settings_are_run_errors(tmp_path):
    for cfg in (dict(optimizer="lbfgs", max_steps=1), dict(schedule="linear", max_steps=1),
                dict(lr=-1.0, max_steps=1), dict(), dict(minutes=0)):
        with pytest.raises(RunError):
            fit(tmp_path, **cfg)
    with pytest.raises(RunError, match="no checkpoint"):
        Trainer(nn.Linear(5, 3), Regression(), TrainConfig(max_steps=1), tmp_path / "none",
                resume=True)


class Interrupting(Regression):
    """Ctrl-C arrives during step ``at``."""

    def __init__(self, at: int):
        super().__init__()
        self.at = at

    def train_loss(self, model, step):
        if step == self.at:
            raise KeyboardInterrupt
        return super().train_loss(model, step)


def test_ctrl_c_saves_a_checkpoint_that_resumes(tmp_path):
    with pytest.raises(Interrupted) as stop:
        fit(tmp_path, Interrupting(at=6), max_steps=10, eval_every=100)
    assert str(stop.value) == "interrupted at step 6; checkpoint saved"
    assert load_checkpoint(tmp_path / "run")["counters"]["step"] == 6
    cfg = TrainConfig(progress=False, max_steps=10, eval_every=100)
    result = Trainer(nn.Linear(5, 3), Regression(), cfg, tmp_path / "run", resume=True).fit()
    assert result.stopped is Stop.DONE and result.steps == 10


def test_minutes_budget_stops_the_run(tmp_path, monkeypatch):
    """A fake clock: every reading of perf_counter advances it 0.05 s, so the 0.6 s budget
    ends the run after a number of steps that does not depend on the machine."""
    from pucklab.seqmodels import trainer as trainer_module

    now = iter(range(10**6))
    monkeypatch.setattr(trainer_module.time, "perf_counter", lambda: next(now) * 0.05)
    _, result = fit(tmp_path, minutes=0.01, eval_every=1000)  # 0.6 s
    assert result.stopped is Stop.DONE and 2 <= result.steps <= 12
    assert 0.6 <= result.wall_time_s < 1.5  # the budget, plus the last steps and validation
