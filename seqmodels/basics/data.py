"""Small data sets for the network basics: the logic gates and scikit-learn's digits.

The digits (8x8 grey images of handwritten digits, 1,797 of them, UCI) ship inside
scikit-learn, so the experiments run offline with no download.
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
