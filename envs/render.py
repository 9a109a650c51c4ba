"""Colour frames for people and videos, drawn from the physics state, never from the observation.

The agent sees an 80x80 binary frame; a person watching a video wants something larger and in
colour. Drawing lives here, apart from the dynamics, and is imported only when rendering.
"""

from __future__ import annotations

import numpy as np

from pucklab.envs.physics import (
    AGENT_X,
    AGENT_Y,
    BALL,
    BX,
    BY,
    FIELD,
    OPP_Y,
    OPPONENT_X,
    PADDLE_WIDTH,
)

SCALE = 4  # rendered frames are (FIELD * SCALE) pixels square: 320 x 320
BACKGROUND = (18, 24, 38)
MIDLINE = (48, 58, 80)
WALL = (120, 130, 150)
AGENT_COLOUR = (80, 200, 120)
OPPONENT_COLOUR = (220, 90, 90)
PUCK_COLOUR = (250, 230, 120)
MIDLINE_DASH = 4  # dash and gap length of the centre line, in field pixels


def _box(img: np.ndarray, y: float, x: float, h: float, w: float, colour: tuple) -> None:
    y0, x0 = int(round(y * SCALE)), int(round(x * SCALE))
    img[max(y0, 0):y0 + int(h * SCALE), max(x0, 0):x0 + int(w * SCALE)] = colour


def render_rgb(state: np.ndarray, paddle_height: int, has_opponent: bool) -> np.ndarray:
    """A (320, 320, 3) uint8 picture of one game given its physics state row."""
    size = FIELD * SCALE
    img = np.empty((size, size, 3), dtype=np.uint8)
    img[:] = BACKGROUND
    for y in range(0, FIELD, 2 * MIDLINE_DASH):
        _box(img, y, FIELD / 2 - 0.25, MIDLINE_DASH, 0.5, MIDLINE)
    if has_opponent:
        _box(img, state[OPP_Y], OPPONENT_X, paddle_height, PADDLE_WIDTH, OPPONENT_COLOUR)
    else:
        _box(img, 0, 0, FIELD, 0.5, WALL)  # air hockey's far wall
    _box(img, state[AGENT_Y], AGENT_X, paddle_height, PADDLE_WIDTH, AGENT_COLOUR)
    _box(img, state[BY], state[BX], BALL, BALL, PUCK_COLOUR)
    return img


class HumanViewer:
    """A matplotlib window showing rendered frames at the env's frame rate (``render_mode="human"``)."""

    def __init__(self, fps: int, title: str) -> None:
        import matplotlib.pyplot as plt  # lazily: only people watching need a GUI backend

        self._plt = plt
        self._pause = 1.0 / fps
        plt.ion()
        self._fig, ax = plt.subplots(num=title, figsize=(4, 4))
        ax.set_axis_off()
        self._image = ax.imshow(np.zeros((FIELD * SCALE, FIELD * SCALE, 3), dtype=np.uint8))

    def show(self, frame: np.ndarray) -> None:
        self._image.set_data(frame)
        self._plt.pause(self._pause)

    def close(self) -> None:
        self._plt.close(self._fig)
