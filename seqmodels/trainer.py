"""The one Trainer of the sequence half: char-RNN and forecasting both train through it.

What a task brings (duck-typed, see :class:`Task`): how to compute a training loss for step k,
a validation loss, and the state a checkpoint must keep (a vocabulary, a scaler, a carried
hidden state). What the trainer brings, once for every task: the optimiser and the learning-rate
schedule, gradient-norm clipping, evaluation, early stopping that keeps the best weights,
budgets in epochs, steps or minutes, atomic checkpoints that resume *everything* (weights,
optimiser moments, the decayed learning rate, RNG streams, counters, task state), a guard
against non-finite losses, a progress bar, the ``report`` callback after each evaluation, and
metrics to CSV + TensorBoard with a loss-curve PNG at the end.
"""

from __future__ import annotations

import math
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from pucklab.runs.device import resolve_device
from pucklab.runs.figures import progress_bar
from pucklab.runs.metrics import MetricsLogger, plot_curves
from pucklab.runs.optim import make_optimizer, make_scheduler
from pucklab.runs.result import Report, Stop
from pucklab.runs.rng import restore_rng, rng_state
from pucklab.runs.stopping import StopFlag, stopping
from pucklab.runs.store import (
    BEST_CHECKPOINT,
    LAST_CHECKPOINT,
    RunError,
    checkpoint_path,
    load_checkpoint,
    load_weights,
    save_checkpoint,
)
from pucklab.seqmodels.train_config import OPTIMIZER_LR, TrainConfig

#: Without early stopping, validations without a new best before the run says it overfits.
RISING_WARN = 5
CHECKPOINT_KEYS = ("model", "optimizer", "scheduler", "rng", "task", "counters")
COLUMNS = ["step", "epoch", "wall_time_s", "train_loss", "val_loss", "lr", "grad_norm"]
TAGS = {"train_loss": "losses/train", "val_loss": "losses/val", "lr": "charts/lr",
        "grad_norm": "charts/grad_norm"}


class Task(Protocol):
    """What the trainer needs from a task (char-level LM, forecasting)."""

    steps_per_epoch: int
    units: str

    def train_loss(self, model: nn.Module, step: int) -> torch.Tensor: ...
    def val_loss(self, model: nn.Module) -> float: ...
    def state_dict(self) -> dict[str, Any]: ...
    def load_state_dict(self, d: dict[str, Any]) -> None: ...
    def to(self, device: torch.device) -> Any: ...


@dataclass
class Result:
    """How a fit ended."""

    steps: int
    epochs: float
    wall_time_s: float
    val_loss: float  # of the model the trainer leaves (the best one when early stopping)
    best_val_loss: float
    stopped: Stop
    message: str  # what to say of the stop (a non-finite loss: where, and what to try)
    run_dir: Path


class Trainer:
    """Fit ``model`` on ``task``, writing checkpoints and metrics into ``run_dir``.

    ``resume=True`` loads ``run_dir/checkpoints/last.pt`` first and continues exactly where it
    left off: same counters, same optimiser and scheduler state, same RNG streams, same carried
    task state, so the next loss equals the one an uninterrupted run would have computed.
    ``report(step, metrics)`` is called after each validation; if it raises, ``last.pt`` is
    written and the exception goes on to the caller. Checkpoints say that ``command`` wrote
    them, and a resume refuses one another command wrote.
    """

    def __init__(self, model: nn.Module, task: Task, cfg: TrainConfig, run_dir: Path | str,
                 resume: bool = False, extra: dict[str, Any] | None = None,
                 report: Report | None = None, command: str = "trainer") -> None:
        cfg.validate()
        if not cfg.budget_given():
            raise RunError("give a budget: --epochs, --max-steps or --minutes")
        self.cfg, self.run_dir, self.report = cfg, Path(run_dir), report
        self.command = command
        if not resume:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        self.device = resolve_device(cfg.device)
        self.model, self.task = model.to(self.device), task
        task.to(self.device)
        self.extra = dict(extra or {})  # saved into every checkpoint (e.g. model_args)
        lr = cfg.lr if cfg.lr is not None else OPTIMIZER_LR[cfg.optimizer]
        self.optimizer = make_optimizer(cfg.optimizer, model.parameters(), lr,
                                        momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                                        rmsprop_alpha=0.95)  # char-rnn's decay
        self.spe = task.steps_per_epoch
        self.step, self.wall_time_s, self.best_val, self.bad_evals = 0, 0.0, math.inf, 0
        self.finished = False
        self.saved_step = 0  # the step of the last good last.pt
        self.started: float | None = None  # perf_counter() when this fit began
        self.last_eval_step = -1
        self.scheduler = make_scheduler(cfg.schedule, self.optimizer, step_every=cfg.step_every,
                                        decay=cfg.lr_decay, patience=cfg.plateau_patience,
                                        progress=self.progress_fraction)
        if resume:
            self._load()
        else:
            torch.manual_seed(cfg.seed)
            random.seed(cfg.seed)

    # -- schedules and budgets ------------------------------------------------------------
    def total_steps(self) -> int | None:
        """The step budget from --max-steps and --epochs (the smaller), or None (minutes only)."""
        limits = [self.cfg.max_steps] if self.cfg.max_steps else []
        if self.cfg.epochs:
            limits.append(math.ceil(self.cfg.epochs * self.spe))
        return min(limits) if limits else None

    def elapsed(self) -> float:
        """Training seconds so far, across resumes."""
        running = time.perf_counter() - self.started if self.started is not None else 0.0
        return self.wall_time_s + running

    def progress_fraction(self) -> float:
        """How much of the budget (steps or minutes, whichever runs out first) is used."""
        parts = [0.0]
        if (total := self.total_steps()) is not None:
            parts.append(self.step / total)
        if self.cfg.minutes:
            parts.append(self.elapsed() / (60 * self.cfg.minutes))
        return min(1.0, max(parts))

    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def _out_of_budget(self) -> bool:
        total = self.total_steps()
        if total is not None and self.step >= total:
            return True
        return self.cfg.minutes is not None and self.elapsed() >= 60 * self.cfg.minutes

    # -- checkpoints ------------------------------------------------------------------------
    def _saveable_scheduler(self) -> bool:
        return self.scheduler is not None and not isinstance(
            self.scheduler, torch.optim.lr_scheduler.LambdaLR)

    def save(self, name: str = LAST_CHECKPOINT) -> Path:
        state = {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                 "scheduler": self.scheduler.state_dict() if self._saveable_scheduler() else None,
                 "rng": rng_state(), "task": self.task.state_dict(), "config": self.cfg.to_dict(),
                 "counters": {"step": self.step, "wall_time_s": self.elapsed(),
                              "best_val": self.best_val, "bad_evals": self.bad_evals,
                              "finished": self.finished}, **self.extra}
        return save_checkpoint(self.run_dir, state, name, command=self.command)

    def _load(self) -> None:
        ckpt = load_checkpoint(self.run_dir, map_location=self.device, command=self.command,
                               keys=CHECKPOINT_KEYS)
        problem = f"the checkpoint in {self.run_dir} does not fit this model"
        load_weights(self.model, ckpt["model"], problem)
        load_weights(self.optimizer, ckpt["optimizer"], problem)  # same shapes, same optimiser
        self.task.load_state_dict(ckpt["task"])
        if ckpt.get("scheduler") is not None and self._saveable_scheduler():
            self.scheduler.load_state_dict(ckpt["scheduler"])
        c = ckpt["counters"]
        self.step, self.wall_time_s = int(c["step"]), float(c["wall_time_s"])
        self.best_val, self.bad_evals = float(c["best_val"]), int(c["bad_evals"])
        self.finished = bool(c.get("finished", False))
        self.saved_step = self.step
        if isinstance(self.scheduler, torch.optim.lr_scheduler.LambdaLR):
            self.scheduler.last_epoch = self.step  # the LR is a function of progress
        restore_rng(ckpt["rng"])

    # -- the loop ---------------------------------------------------------------------------
    def evaluate(self) -> float:
        self.model.eval()
        try:
            with torch.no_grad():
                return self.task.val_loss(self.model)
        finally:
            self.model.train()

    def fit(self) -> Result:
        """Train until the budget, early stopping or a non-finite loss; see :class:`Result`.

        A stop (Ctrl-C, SIGTERM) is taken at the end of a step: ``last.pt`` is written there
        and :class:`~pucklab.runs.stopping.Interrupted` raised; so is any exception from
        ``report`` (a sweep pruning the run), after the same checkpoint."""
        logger = MetricsLogger(self.run_dir, COLUMNS, TAGS, resume_from=self.step or None)
        bar = progress_bar(self.cfg.progress, total=self.total_steps(), initial=self.step,
                           unit="step", leave=False)
        self.started = time.perf_counter()
        start_step, self.last_eval_step = self.step, -1
        self.model.train()

        def save_and_close() -> None:
            logger.close()
            self.save()

        try:
            with stopping(save_and_close, lambda: f"at step {self.step}") as flag:
                stopped, message, val = self._loop(logger, bar, flag)
        finally:
            bar.close()
        return self._finish(stopped, message, val, start_step, logger)

    def _loop(self, logger: MetricsLogger, bar: Any, flag: StopFlag) -> tuple[Stop, str, float]:
        """Steps until a reason to stop: (the reason, what to say of it, the last validation
        loss). A stop signal is taken after a step's row (``flag.check()``)."""
        cfg, val = self.cfg, math.nan
        if self.finished:  # an early-stopped run, resumed: it would only stop again
            return Stop.EARLY_STOPPING, "", val
        eval_every = cfg.eval_every or self.spe
        params = [p for p in self.model.parameters() if p.requires_grad]
        matrices = [p for p in params if p.dim() >= 2]  # what --l1 penalises
        while not self._out_of_budget():
            loss = self.task.train_loss(self.model, self.step)
            loss_value = loss.item()  # the data loss; the L1 penalty is not logged in it
            if not math.isfinite(loss_value):
                return (Stop.NON_FINITE, f"non-finite loss ({loss_value}) at step "
                        f"{self.step + 1}; kept the last good checkpoint (step "
                        f"{self.saved_step}); try a lower --lr or --clip", val)
            if cfg.l1 > 0:
                loss = loss + cfg.l1 * sum(p.abs().sum() for p in matrices)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            norm = nn.utils.clip_grad_norm_(params, cfg.clip if cfg.clip > 0 else math.inf)
            self.optimizer.step()
            self.step += 1
            if isinstance(self.scheduler, torch.optim.lr_scheduler.LambdaLR):
                self.scheduler.step()
            elif (isinstance(self.scheduler, torch.optim.lr_scheduler.StepLR)
                  and self.step % self.spe == 0):
                self.scheduler.step()
            row = {"step": self.step, "epoch": self.step / self.spe, "train_loss": loss_value,
                   "lr": self.lr(), "grad_norm": float(norm)}
            bar.update(1)
            early = False
            if self.step % eval_every == 0 or self._out_of_budget():
                val = row["val_loss"] = self.evaluate()
                self.last_eval_step = self.step
                early = self._after_eval(val)
                bar.set_postfix(loss=f"{loss_value:.3f}", val=f"{val:.3f}", refresh=False)
            if "val_loss" in row or self.step % cfg.log_every == 0:
                logger.log({**row, "wall_time_s": self.elapsed()})
            if "val_loss" in row and self.report is not None:
                self.report(self.step, {"val_loss": val, "best_val_loss": self.best_val,
                                        "train_loss": loss_value, "epoch": row["epoch"]})
            if early:
                return Stop.EARLY_STOPPING, "", val
            flag.check()
        return Stop.DONE, "", val

    def _finish(self, stopped: Stop, message: str, val: float, start_step: int,
                logger: MetricsLogger) -> Result:
        """The last validation (if the budget ended between two), the checkpoint, the curve.
        A run that took no step (its budget already spent) leaves its checkpoint as it was."""
        trained = self.step > start_step
        if stopped is Stop.DONE and self.last_eval_step != self.step and trained:
            val = self.evaluate()  # budget ended between evaluations
            self._after_eval(val)
            logger.log({"step": self.step, "epoch": self.step / self.spe, "val_loss": val,
                        "lr": self.lr(), "wall_time_s": self.elapsed()})
        logger.close()
        if stopped is Stop.EARLY_STOPPING and trained:
            self.finished = True  # a resume would only stop again; a spent budget can be raised
            if checkpoint_path(self.run_dir, BEST_CHECKPOINT).is_file():
                best = load_checkpoint(self.run_dir, BEST_CHECKPOINT, map_location=self.device,
                                       command=self.command, keys=("model",))
                self.model.load_state_dict(best["model"])  # leave the best weights
                val = self.best_val
        if stopped is not Stop.NON_FINITE and trained:
            self.save()
        if math.isnan(val) and self.step > 0:
            val = self.evaluate()
        self.wall_time_s, self.started = self.elapsed(), None
        plot_curves(self.run_dir, "step", ["train_loss", "val_loss"], "loss_curve.png",
                    title=f"loss ({self.task.units})")
        return Result(self.step, self.step / self.spe, self.wall_time_s, val, self.best_val,
                      stopped, message, self.run_dir)

    def _after_eval(self, val: float) -> bool:
        """Bookkeeping after a validation: plateau LR, best checkpoint, last.pt; whether early
        stopping ends the run here."""
        if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            self.scheduler.step(val)
        stop = False
        if val < self.best_val:
            self.best_val, self.bad_evals = val, 0
            self.save(BEST_CHECKPOINT)
        else:
            self.bad_evals += 1
            if not self.cfg.patience and self.bad_evals == RISING_WARN:
                print(f"{self.command}: the validation loss has not improved for {RISING_WARN} "
                      f"validations (best {self.best_val:.4f}, now {val:.4f}): the model is "
                      "overfitting. best.pt keeps the best weights; --patience N stops such a "
                      "run early", file=sys.stderr)
            if self.cfg.patience and self.bad_evals >= self.cfg.patience:
                stop = True
        if math.isfinite(val):
            self.save()
            self.saved_step = self.step
        return stop
