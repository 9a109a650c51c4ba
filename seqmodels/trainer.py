"""The one Trainer of the sequence half: char-RNN and forecasting both train through it.

What a task brings (duck-typed, see :class:`Task`): how to compute a training loss for step k,
a validation loss, and the state a checkpoint must keep (a vocabulary, a scaler, a carried
hidden state). What the trainer brings, once for every task: the optimiser and the learning-rate
schedule, gradient-norm clipping, evaluation, early stopping that keeps the best weights,
budgets in epochs, steps or minutes, atomic checkpoints that resume *everything* (weights,
optimiser moments, the decayed learning rate, RNG streams, counters, task state -- char-rnn's
resume restored weights only), a guard against non-finite losses, tqdm progress, and metrics to
CSV + TensorBoard with a loss-curve PNG at the end.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Protocol, TypeVar

import torch
from torch import nn
from tqdm import tqdm

from pucklab.runs import (
    MetricsLogger,
    RunError,
    load_checkpoint,
    plot_curves,
    require_choice,
    save_checkpoint,
)
from pucklab.runs.store import checkpoint_path

OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw", "adadelta")
SCHEDULES = ("none", "step", "cosine", "plateau")
#: A learning rate that works for each optimiser on our tasks when --lr is not given.
DEFAULT_LR = {"sgd": 1.0, "momentum": 0.1, "nesterov": 0.1, "rmsprop": 2e-3, "adam": 2e-3,
              "adamw": 2e-3, "adadelta": 1.0}
BEST_CHECKPOINT = "best.pt"
COLUMNS = ["step", "epoch", "wall_time_s", "train_loss", "val_loss", "lr", "grad_norm"]
T = TypeVar("T")
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
class TrainConfig:
    """Trainer settings; every field is a flag of the commands built on the trainer."""

    optimizer: str = "adam"
    lr: float | None = None  # None: DEFAULT_LR[optimizer]
    momentum: float = 0.9  # for momentum / nesterov; rmsprop's is 0
    weight_decay: float = 0.0  # L2 (decoupled for adamw)
    schedule: str = "none"
    step_every: int = 1  # step schedule: lower the LR every this many epochs ...
    lr_decay: float = 0.5  # ... by this factor (also the plateau factor)
    plateau_patience: int = 2  # evaluations without improvement before the plateau cut
    clip: float = 5.0  # max gradient norm; 0 turns clipping off
    epochs: float | None = None
    max_steps: int | None = None
    minutes: float | None = None
    eval_every: int = 0  # steps between evaluations; 0 = once per epoch
    patience: int = 0  # early stopping: evaluations without improvement; 0 = off
    log_every: int = 10
    seed: int = 0
    device: str = "auto"
    progress: bool = True

    def check(self) -> None:
        """Raise :class:`RunError` (one line) for settings that cannot work."""
        require_choice("--optimizer", self.optimizer, OPTIMIZERS)
        require_choice("--schedule", self.schedule, SCHEDULES)
        if self.lr is not None and not self.lr > 0:
            raise RunError(f"--lr must be > 0, got {self.lr}")
        for name in ("epochs", "max_steps", "minutes"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise RunError(f"--{name.replace('_', '-')} must be > 0, got {value}")
        if self.epochs is None and self.max_steps is None and self.minutes is None:
            raise RunError("give a budget: --epochs, --max-steps or --minutes")
        if self.clip < 0 or self.weight_decay < 0 or self.patience < 0 or self.eval_every < 0:
            raise RunError("--clip, --weight-decay, --patience and --eval-every must be >= 0")
        if self.device not in ("auto", "cpu", "cuda"):
            raise RunError(f"--device must be auto, cpu or cuda, got {self.device!r}")


#: Flags of a training budget, and what a ``--resume`` may change besides: none alter results.
BUDGET = ("epochs", "max_steps", "minutes")
RESUME_OK = (*BUDGET, "device", "progress")
TRAIN_FIELDS = frozenset(f.name for f in fields(TrainConfig))


def resume_flags(run_dir: Any, saved: Any, given: dict[str, Any]
                 ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Check the flags given with ``--resume`` against a run's ``saved`` settings (a dataclass
    nesting ``train: TrainConfig``): any other setting that differs is a one-line RunError.
    Returns the new budget and the new ``device`` / ``progress``."""
    flat = {**{k: v for k, v in vars(saved).items() if k != "train"}, **vars(saved.train)}
    for key, value in given.items():
        if key not in RESUME_OK and flat.get(key) != value:
            raise RunError(f"--resume continues {run_dir} as it was set up: "
                           f"--{key.replace('_', '-')} cannot change (it was {flat.get(key)})")
    return ({k: given[k] for k in BUDGET if k in given},
            {k: given[k] for k in ("device", "progress") if k in given})


def settings_from_dict(cls: type[T], d: dict[str, Any]) -> T:
    """Rebuild a command's settings dataclass that nests a ``train: TrainConfig`` from the
    dict saved in config.json; keys this version does not know are ignored."""
    known = {f.name for f in fields(cls)} - {"train"}  # type: ignore[arg-type]
    train_known = {f.name for f in fields(TrainConfig)}
    return cls(**{k: v for k, v in d.items() if k in known},
               train=TrainConfig(**{k: v for k, v in d.get("train", {}).items()
                                    if k in train_known}))


def resolve_device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise RunError("--device cuda: no CUDA device is available here")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def make_optimizer(cfg: TrainConfig, params: Any) -> torch.optim.Optimizer:
    lr = cfg.lr if cfg.lr is not None else DEFAULT_LR[cfg.optimizer]
    wd = cfg.weight_decay
    if cfg.optimizer in ("sgd", "momentum", "nesterov"):
        momentum = 0.0 if cfg.optimizer == "sgd" else cfg.momentum
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=wd,
                               nesterov=cfg.optimizer == "nesterov")
    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, alpha=0.95, weight_decay=wd)  # char-rnn's decay
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    return torch.optim.Adadelta(params, lr=lr, weight_decay=wd)


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
    """

    def __init__(self, model: nn.Module, task: Task, cfg: TrainConfig, run_dir: Path | str,
                 resume: bool = False, extra: dict[str, Any] | None = None) -> None:
        cfg.check()
        self.cfg, self.run_dir = cfg, Path(run_dir)
        if not resume:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        self.device = resolve_device(cfg.device)
        self.model, self.task = model.to(self.device), task
        task.to(self.device)
        self.extra = dict(extra or {})  # saved into every checkpoint (e.g. model_args)
        self.optimizer = make_optimizer(cfg, model.parameters())
        self.spe = task.steps_per_epoch
        self.step, self.wall_time_s, self.best_val, self.bad_evals = 0, 0.0, math.inf, 0
        self.finished = False
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

    def progress_fraction(self) -> float:
        """How much of the budget (steps or minutes, whichever runs out first) is used."""
        parts = [0.0]
        if (total := self.total_steps()) is not None:
            parts.append(self.step / total)
        if self.cfg.minutes:
            parts.append((self.wall_time_s + self._since()) / (60 * self.cfg.minutes))
        return min(1.0, max(parts))

    def _since(self) -> float:
        return time.perf_counter() - self._t0 if hasattr(self, "_t0") else 0.0

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
            return sched.LambdaLR(opt, lambda _: 0.5 * (1 + math.cos(math.pi * self.progress_fraction())))
        return None

    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def _out_of_budget(self) -> bool:
        total = self.total_steps()
        if total is not None and self.step >= total:
            return True
        return bool(self.cfg.minutes) and self.wall_time_s + self._since() >= 60 * self.cfg.minutes

    # -- checkpoints ------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        rng = {"torch": torch.get_rng_state(), "python": list(random.getstate()[1]),
               "python_version": random.getstate()[0], "python_gauss": random.getstate()[2]}
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict() if self._saveable_scheduler() else None,
                "rng": rng, "task": self.task.state_dict(), "config": asdict(self.cfg),
                "counters": {"step": self.step, "wall_time_s": self.wall_time_s + self._since(),
                             "best_val": self.best_val, "bad_evals": self.bad_evals,
                             "finished": self.finished}, **self.extra}

    def _saveable_scheduler(self) -> bool:
        return self.scheduler is not None and not isinstance(
            self.scheduler, torch.optim.lr_scheduler.LambdaLR)

    def save(self, name: str = "last.pt") -> Path:
        return save_checkpoint(self.run_dir, self._state(), name)

    def _load(self) -> None:
        ckpt = load_checkpoint(self.run_dir, map_location=self.device)
        try:
            self.model.load_state_dict(ckpt["model"])
            self.optimizer.load_state_dict(ckpt["optimizer"])
        except (RuntimeError, ValueError, KeyError) as err:
            raise RunError(f"checkpoint in {self.run_dir} does not fit this model: "
                           f"{str(err).splitlines()[0]}") from err
        self.task.load_state_dict(ckpt["task"])
        if ckpt.get("scheduler") is not None and self._saveable_scheduler():
            self.scheduler.load_state_dict(ckpt["scheduler"])
        c = ckpt["counters"]
        self.step, self.wall_time_s = int(c["step"]), float(c["wall_time_s"])
        self.best_val, self.bad_evals = float(c["best_val"]), int(c["bad_evals"])
        self.finished = bool(c.get("finished", False))
        self._saved_step = self.step
        if isinstance(self.scheduler, torch.optim.lr_scheduler.LambdaLR):
            self.scheduler.last_epoch = self.step  # the LR is a function of progress
        rng = ckpt["rng"]
        torch.set_rng_state(rng["torch"].cpu())
        random.setstate((rng["python_version"], tuple(rng["python"]), rng["python_gauss"]))
        if "cuda" in rng and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([s.cpu() for s in rng["cuda"]])

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
        cfg = self.cfg
        eval_every = cfg.eval_every or self.spe
        logger = MetricsLogger(self.run_dir, COLUMNS, TAGS, resume_from=self.step or None)
        bar = tqdm(total=self.total_steps(), initial=self.step, disable=not cfg.progress,
                   unit="step", dynamic_ncols=True, leave=False)
        params = [p for p in self.model.parameters() if p.requires_grad]
        stopped, val, last_eval_step, start_step = "budget", math.nan, -1, self.step
        self._t0 = time.perf_counter()
        self.model.train()
        try:
            while not self.finished and not self._out_of_budget():
                loss = self.task.train_loss(self.model, self.step)
                loss_value = loss.item()
                if not math.isfinite(loss_value):
                    stopped = (f"non-finite loss ({loss_value}) at step {self.step + 1}; kept the "
                               f"last good checkpoint (step {self._last_saved_step()}); try a "
                               "lower --lr or --clip")
                    break
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                norm = nn.utils.clip_grad_norm_(params, cfg.clip if cfg.clip > 0 else math.inf)
                self.optimizer.step()
                self.step += 1
                if isinstance(self.scheduler, torch.optim.lr_scheduler.LambdaLR):
                    self.scheduler.step()
                elif isinstance(self.scheduler, torch.optim.lr_scheduler.StepLR) \
                        and self.step % self.spe == 0:
                    self.scheduler.step()
                row = {"step": self.step, "epoch": self.step / self.spe, "train_loss": loss_value,
                       "lr": self.lr(), "grad_norm": float(norm)}
                bar.update(1)
                if self.step % eval_every == 0 or self._out_of_budget():
                    val = self.evaluate()
                    last_eval_step = self.step
                    if stopping := self._after_eval(val):
                        stopped = stopping
                    row["val_loss"] = val
                    bar.set_postfix(loss=f"{loss_value:.3f}", val=f"{val:.3f}", refresh=False)
                if "val_loss" in row or self.step % cfg.log_every == 0:
                    row["wall_time_s"] = self.wall_time_s + self._since()
                    logger.log(row)
                if stopped == "early stopping":
                    break
        except KeyboardInterrupt:
            stopped = "interrupted"
        finally:
            bar.close()
        if stopped == "budget" and last_eval_step != self.step and self.step > start_step:
            val = self.evaluate()  # budget ended between evaluations (or was already spent)
            self._after_eval(val)
            logger.log({"step": self.step, "epoch": self.step / self.spe, "val_loss": val,
                        "lr": self.lr(), "wall_time_s": self.wall_time_s + self._since()})
        logger.close()
        if stopped == "early stopping":
            self.finished = True  # a resume would only stop again; a spent budget can be raised
        if not stopped.startswith("non-finite"):
            if stopped == "early stopping" and checkpoint_path(self.run_dir, BEST_CHECKPOINT).is_file():
                best = load_checkpoint(self.run_dir, BEST_CHECKPOINT, map_location=self.device)
                self.model.load_state_dict(best["model"])  # leave the best weights
                val = self.best_val
            self.save()
        if math.isnan(val) and self.step > 0:
            val = self.evaluate()
        self.wall_time_s += self._since()
        del self._t0
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
            if self.cfg.patience and self.bad_evals >= self.cfg.patience:
                stop = "early stopping"
        if math.isfinite(val):
            self.save()
            self._saved_step = self.step
        return stop

    def _last_saved_step(self) -> int:
        return getattr(self, "_saved_step", 0)
