"""Small data sets for the network basics: the logic gates and scikit-learn's digits.

The digits (8x8 grey images of handwritten digits, 1,797 of them, UCI) ship inside
scikit-learn, so the experiments run offline with no download. :func:`on_canvas` places them
on a larger blank canvas at chosen positions: the same digit, moved.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Truth tables over the inputs (0, 0), (0, 1), (1, 0), (1, 1).
GATES = {"AND": (0, 0, 0, 1), "OR": (0, 1, 1, 1), "XOR": (0, 1, 1, 0)}
GATE_INPUTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)


def gate(name: str) -> tuple[np.ndarray, np.ndarray]:
    """The four inputs (4, 2) and 0/1 targets (4,) of logic gate ``name`` (AND, OR or XOR)."""
    return GATE_INPUTS.copy(), np.array(GATES[name], dtype=np.float64)


@dataclass
class Split:
    """Training and test examples: inputs (N, D) float64 and integer class labels (N,)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max())) + 1


def digits(seed: int = 0, test_fraction: float = 0.25) -> Split:
    """scikit-learn's digits, pixels scaled to [0, 1], split stratified by class (``seed``)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    x = data.data.astype(np.float64) / 16.0
    x_train, x_test, y_train, y_test = train_test_split(
        x, data.target, test_size=test_fraction, random_state=seed, stratify=data.target)
    return Split(x_train, y_train.astype(np.int64), x_test, y_test.astype(np.int64))


DIGIT_SIDE = 8


def on_canvas(x: np.ndarray, side: int, offsets: list[tuple[int, int]]) -> np.ndarray:
    """Flat 8x8 digits ``x`` (N, 64) pasted onto a blank ``side`` x ``side`` canvas with their
    top-left corner at each of ``offsets`` (row, column): (N * len(offsets), side * side),
    grouped by offset (all N images at the first offset, then the next ...)."""
    images = x.reshape(-1, DIGIT_SIDE, DIGIT_SIDE)
    out = np.zeros((len(offsets), len(images), side, side), dtype=x.dtype)
    for k, (r, c) in enumerate(offsets):
        if not (0 <= r <= side - DIGIT_SIDE and 0 <= c <= side - DIGIT_SIDE):
            raise ValueError(f"offset {(r, c)} puts the digit off a {side}x{side} canvas")
        out[k, :, r:r + DIGIT_SIDE, c:c + DIGIT_SIDE] = images
    return out.reshape(len(offsets) * len(images), side * side)


def ring(shift: int, centre: int) -> list[tuple[int, int]]:
    """The offsets exactly ``shift`` pixels from ``(centre, centre)`` in the max norm: the
    centre itself for 0, else the 8 * shift positions on the square around it."""
    span = range(centre - shift, centre + shift + 1)
    return [(r, c) for r in span for c in span
            if max(abs(r - centre), abs(c - centre)) == shift]


def labelled(y: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A stratified ``fraction`` of the indices of ``y``, at least one per class."""
    rng = np.random.default_rng(seed)
    picks = [rng.permutation(np.flatnonzero(y == c))[:max(1, round(fraction * (y == c).sum()))]
             for c in np.unique(y)]
    return np.sort(np.concatenate(picks))
