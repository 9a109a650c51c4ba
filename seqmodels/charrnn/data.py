"""Character corpora: loading (files or the named Tiny Shakespeare), vocabulary, batches.

A corpus is any UTF-8 text. It is split by position, the last 10% for validation (never
shuffled: neighbouring characters would leak across a random split). Training batches follow
char-rnn: the training text is cut into ``batch_size`` contiguous streams, and step j of an
epoch reads characters [j*L, (j+1)*L) of every stream, so the hidden state at the end of one
chunk is the right start for the next (stateful truncated BPTT).
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.nn import functional as F

from pucklab.runs.store import RunError, atomic_write
from pucklab.seqmodels.layers import State, detach_state

SHAKESPEARE_URL = ("https://raw.githubusercontent.com/karpathy/char-rnn/master/data/"
                   "tinyshakespeare/input.txt")
SHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
SHAKESPEARE_FILE = "tinyshakespeare.txt"
NAMED_CORPORA = ("shakespeare",)
VAL_FRACTION = 0.1


def cache_dir() -> Path:
    """Where downloads are kept: ``$XDG_CACHE_HOME/pucklab`` (default ``~/.cache/pucklab``)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "pucklab"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def shakespeare_path(download: bool = True) -> Path:
    """The path of a verified copy of Tiny Shakespeare, downloading it once if needed.

    Looked up under ``$PUCKLAB_DATA`` first, then in the cache; otherwise downloaded from the
    canonical char-rnn URL into the cache and checked against the pinned sha256.
    """
    candidates = []
    if os.environ.get("PUCKLAB_DATA"):
        candidates.append(Path(os.environ["PUCKLAB_DATA"]) / SHAKESPEARE_FILE)
    cached = cache_dir() / SHAKESPEARE_FILE
    candidates.append(cached)
    for path in candidates:
        if path.is_file():
            if _sha256(path) != SHAKESPEARE_SHA256:
                raise RunError(f"{path} is not Tiny Shakespeare (sha256 mismatch); delete it or "
                               f"pass your own text with --corpus PATH")
            return path
    if not download:
        raise RunError("Tiny Shakespeare is not cached; set PUCKLAB_DATA to a folder holding "
                       f"{SHAKESPEARE_FILE} or pass a text file with --corpus PATH")
    try:
        with urllib.request.urlopen(SHAKESPEARE_URL, timeout=30) as response:
            data = response.read()
    except OSError as err:
        raise RunError(f"cannot download Tiny Shakespeare ({getattr(err, 'reason', err)}); "
                       f"pass a text file with --corpus PATH, or set PUCKLAB_DATA to a folder "
                       f"holding {SHAKESPEARE_FILE}") from err
    if hashlib.sha256(data).hexdigest() != SHAKESPEARE_SHA256:
        raise RunError(f"the download from {SHAKESPEARE_URL} does not match the pinned sha256; "
                       "pass a text file with --corpus PATH")
    atomic_write(cached, lambda f: f.write(data))
    return cached


def read_corpus(name_or_path: str) -> tuple[str, Path]:
    """The text of a named corpus or a UTF-8 file, and where it came from; bad files are
    :class:`RunError` (missing, a folder, empty, not UTF-8)."""
    path = shakespeare_path() if name_or_path in NAMED_CORPORA else Path(name_or_path)
    if not path.exists():
        raise RunError(f"corpus {name_or_path!r} not found (a UTF-8 text file, or one of: "
                       f"{', '.join(NAMED_CORPORA)})")
    if not path.is_file():
        raise RunError(f"corpus {path} is not a file")
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise RunError(f"cannot read corpus {path}: {err.strerror}") from err
    if not raw:
        raise RunError(f"corpus {path} is empty")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise RunError(f"corpus {path} is not UTF-8 text (byte {err.start} cannot be decoded); "
                       "is it a binary file?") from err
    if "\x00" in text:
        raise RunError(f"corpus {path} holds NUL bytes; is it a binary file?")
    return text, path


@dataclass(frozen=True)
class Vocab:
    """The characters of a corpus, sorted; id = position. Saved with the model."""

    chars: tuple[str, ...]

    @classmethod
    def from_text(cls, text: str) -> Vocab:
        return cls(tuple(sorted(set(text))))

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> torch.Tensor:
        index = {c: i for i, c in enumerate(self.chars)}
        missing = sorted({c for c in text if c not in index})
        if missing:
            raise RunError(f"characters not in the model's vocabulary: {''.join(missing)!r}")
        return torch.tensor([index[c] for c in text], dtype=torch.long)

    def decode(self, ids: list[int] | torch.Tensor) -> str:
        return "".join(self.chars[int(i)] for i in ids)


def split(text: str, val_fraction: float = VAL_FRACTION) -> tuple[str, str]:
    """Train / validation by position: the last ``val_fraction`` of the text validates."""
    n_val = int(len(text) * val_fraction)
    return text[:len(text) - n_val], text[len(text) - n_val:]


def streams(ids: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Cut ``ids`` into ``batch_size`` contiguous rows (the tail that does not fit is dropped)."""
    length = len(ids) // batch_size
    return ids[:length * batch_size].view(batch_size, length)


class CharTask:
    """Next-character prediction on a corpus, in the shape the :class:`Trainer` drives.

    ``train_loss(model, step)`` reads chunk ``step % steps_per_epoch`` of every stream and
    carries the hidden state from the previous chunk (detached: truncated BPTT), starting from
    zeros at each epoch. ``val_loss`` runs over the whole validation text the same way, without
    gradients. Losses are mean cross-entropy per character, in nats.
    """

    units = "nats/char"

    def __init__(self, text: str, seq_len: int, batch_size: int,
                 vocab: Vocab | None = None) -> None:
        if seq_len < 1 or batch_size < 1:
            raise RunError(f"--seq-len and --batch-size must be >= 1, got {seq_len}, {batch_size}")
        self.vocab = vocab or Vocab.from_text(text)
        train, val = split(text)
        need = batch_size * (seq_len + 1)
        if len(train) < need or len(val) < 2:
            raise RunError(f"corpus too short: {len(text)} characters; one batch of "
                           f"--batch-size {batch_size} x --seq-len {seq_len} needs {need} training "
                           f"characters plus 10% more for validation")
        self.seq_len, self.batch_size = seq_len, batch_size
        self.train = streams(self.vocab.encode(train), batch_size)
        val_ids = self.vocab.encode(val)
        self.val = streams(val_ids, min(batch_size, max(1, (len(val_ids) - 1) // seq_len)))
        self.steps_per_epoch = (self.train.shape[1] - 1) // seq_len
        self.state: State = None
        self.device = torch.device("cpu")

    def to(self, device: torch.device) -> CharTask:
        self.device = device
        self.train, self.val = self.train.to(device), self.val.to(device)
        return self

    def train_loss(self, model: torch.nn.Module, step: int) -> torch.Tensor:
        j = step % self.steps_per_epoch
        if j == 0:
            self.state = None  # a new epoch starts every stream at its beginning
        chunk = self.train[:, j * self.seq_len:(j + 1) * self.seq_len + 1]
        logits, state = model(chunk[:, :-1], self.state)
        self.state = detach_state(state)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), chunk[:, 1:].reshape(-1))

    @torch.no_grad()
    def val_loss(self, model: torch.nn.Module) -> float:
        total, count, state = 0.0, 0, None
        for start in range(0, self.val.shape[1] - 1, self.seq_len):
            chunk = self.val[:, start:start + self.seq_len + 1]
            logits, state = model(chunk[:, :-1], state)
            total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                     chunk[:, 1:].reshape(-1), reduction="sum").item()
            count += chunk[:, 1:].numel()
        return total / count

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint needs: the vocabulary and the carried hidden state."""
        state = self.state
        return {"vocab": list(self.vocab.chars),
                "hidden": list(state) if isinstance(state, tuple) else state}

    def load_state_dict(self, d: dict[str, Any]) -> None:
        if tuple(d["vocab"]) != self.vocab.chars:
            raise RunError(f"vocabulary mismatch: the run was trained on {len(d['vocab'])} "
                           f"characters, this corpus has {len(self.vocab)} (or others); resume "
                           "with the corpus the run was trained on")
        hidden = d.get("hidden")
        shapes = [tuple(h.shape) for h in (hidden if isinstance(hidden, list) else [hidden])
                  if isinstance(h, torch.Tensor)]
        if any(len(shape) != 3 or shape[1] != self.batch_size for shape in shapes):
            held = shapes[0][1] if len(shapes[0]) == 3 else "?"
            raise RunError(f"the checkpoint carries the hidden state of {held} text streams, the "
                           f"run's settings say --batch-size {self.batch_size}: its config.json "
                           "and checkpoint disagree")
        if isinstance(hidden, list):
            hidden = tuple(h.to(self.device) for h in hidden)
        elif hidden is not None:
            hidden = hidden.to(self.device)
        self.state = hidden
