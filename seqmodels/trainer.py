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

from pucklab.runs import (
    CtrlC,
    MetricsLogger,
    Report,
    RunError,
    checkpoint_path,
    load_checkpoint,
    load_weights,
    make_optimizer,
    plot_curves,
    progress_bar,
    resolve_device,
    restore_rng,
    rng_state,
    save_checkpoint,
)
from pucklab.seqmodels.train_config import DEFAULT_LR, TrainConfig

BEST_CHECKPOINT = "best.pt"
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
    stopped: str  # "budget", "early stopping", "non-finite loss ...", "interrupted"
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
        lr = cfg.lr if cfg.lr is not None else DEFAULT_LR[cfg.optimizer]
        self.optimizer = make_optimizer(cfg.optimizer, model.parameters(), lr,
                                        momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                                        rmsprop_alpha=0.95)  # char-rnn's decay
        self.spe = task.steps_per_epoch
        self.step, self.wall_time_s, self.best_val, self.bad_evals = 0, 0.0, math.inf, 0
        self.finished = False
        self.saved_step = 0  # the step of the last good last.pt
        self.started: float | None = None  # perf_counter() when this fit began
        self.last_eval_step = -1
        self.scheduler = self._make_scheduler()
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

    def _make_scheduler(self) -> Any:
        cfg, opt = self.cfg, self.optimizer
        sched = torch.optim.lr_scheduler
        if cfg.schedule == "step":  # stepped once per epoch
            return sched.StepLR(opt, step_size=cfg.step_every, gamma=cfg.lr_decay)
        if cfg.schedule == "plateau":  # stepped with each validation loss
            return sched.ReduceLROnPlateau(opt, factor=cfg.lr_decay, patience=cfg.plateau_patience)
        if cfg.schedule == "cosine":
            # Half a cosine over the budget, whether the budget is steps or minutes: the LR
            # reaches zero as the run ends. Stepped every step; the fraction is recomputed.
            return sched.LambdaLR(
                opt, lambda _: 0.5 * (1 + math.cos(math.pi * self.progress_fraction())))
        return None

    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def _out_of_budget(self) -> bool:
        total = self.total_steps()
        if total is not None and self.step >= total:
            return True
        return bool(self.cfg.minutes) and self.elapsed() >= 60 * self.cfg.minutes

    # -- checkpoints ------------------------------------------------------------------------
    def _saveable_scheduler(self) -> bool:
        return self.scheduler is not None and not isinstance(
            self.scheduler, torch.optim.lr_scheduler.LambdaLR)

    def save(self, name: str = "last.pt") -> Path:
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
        """Train until the budget, early stopping, a non-finite loss or Ctrl-C; see :class:`Result`."""
        logger = MetricsLogger(self.run_dir, COLUMNS, TAGS, resume_from=self.step or None)
        bar = progress_bar(self.cfg.progress, total=self.total_steps(), initial=self.step,
                           unit="step", leave=False)
        self.started = time.perf_counter()
        start_step, self.last_eval_step, val = self.step, -1, math.nan
        self.model.train()
        try:
            with CtrlC() as ctrl_c:
                stopped, val = self._loop(logger, bar, ctrl_c)
        except KeyboardInterrupt:
            stopped = "interrupted"
        except BaseException:  # e.g. a sweep pruning the run from report(): keep it resumable
            self.save()
            logger.close()
            raise
        finally:
            bar.close()
        return self._finish(stopped, val, start_step, logger)

    def _loop(self, logger: MetricsLogger, bar: Any, ctrl_c: CtrlC) -> tuple[str, float]:
        """Steps until a reason to stop; (that reason, the last validation loss). Ctrl-C is
        taken after a step's row (``ctrl_c.check()``), so the checkpoint is a step's end."""
        cfg, val = self.cfg, math.nan
        eval_every = cfg.eval_every or self.spe
        params = [p for p in self.model.parameters() if p.requires_grad]
        matrices = [p for p in params if p.dim() >= 2]  # what --l1 penalises
        while not self.finished and not self._out_of_budget():
            loss = self.task.train_loss(self.model, self.step)
            loss_value = loss.item()  # the data loss; the L1 penalty is not logged in it
            if not math.isfinite(loss_value):
                return (f"non-finite loss ({loss_value}) at step {self.step + 1}; kept the last "
                        f"good checkpoint (step {self.saved_step}); try a lower --lr or --clip",
                        val)
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
            stop = None
            if self.step % eval_every == 0 or self._out_of_budget():
                val = row["val_loss"] = self.evaluate()
                self.last_eval_step = self.step
                stop = self._after_eval(val)
                bar.set_postfix(loss=f"{loss_value:.3f}", val=f"{val:.3f}", refresh=False)
            if "val_loss" in row or self.step % cfg.log_every == 0:
                logger.log({**row, "wall_time_s": self.elapsed()})
            if "val_loss" in row and self.report is not None:
                self.report(self.step, {"val_loss": val, "best_val_loss": self.best_val,
                                        "train_loss": loss_value, "epoch": row["epoch"]})
            if stop:
                return stop, val
            ctrl_c.check()
        return "budget", val

    def _finish(self, stopped: str, val: float, start_step: int,
                logger: MetricsLogger) -> Result:
        """The last validation (if the budget ended between two), the checkpoint, the curve."""
        if stopped == "budget" and self.last_eval_step != self.step and self.step > start_step:
            val = self.evaluate()  # budget ended between evaluations (or was already spent)
            self._after_eval(val)
            logger.log({"step": self.step, "epoch": self.step / self.spe, "val_loss": val,
                        "lr": self.lr(), "wall_time_s": self.elapsed()})
        logger.close()
        if stopped == "early stopping":
            self.finished = True  # a resume would only stop again; a spent budget can be raised
        if not stopped.startswith("non-finite"):
            if stopped == "early stopping" and checkpoint_path(self.run_dir,
                                                               BEST_CHECKPOINT).is_file():
                best = load_checkpoint(self.run_dir, BEST_CHECKPOINT, map_location=self.device,
                                       command=self.command, keys=("model",))
                self.model.load_state_dict(best["model"])  # leave the best weights
                val = self.best_val
            self.save()
        if math.isnan(val) and self.step > 0:
            val = self.evaluate()
        self.wall_time_s, self.started = self.elapsed(), None
        plot_curves(self.run_dir, "step", ["train_loss", "val_loss"], "loss_curve.png",
                    title=f"loss ({self.task.units})")
        return Result(self.step, self.step / self.spe, self.wall_time_s, val, self.best_val,
                      stopped, self.run_dir)

    def _after_eval(self, val: float) -> str | None:
        """Bookkeeping after a validation: plateau LR, best checkpoint, early stopping, last.pt."""
        if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            self.scheduler.step(val)
        stop = None
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
                stop = "early stopping"
        if math.isfinite(val):
            self.save()
            self.saved_step = self.step
        return stop
