"""The rules of every pucklab game: puck, paddles, opponent, sessions, and the state they share.

Written once for a batch of games and compiled with numba, so that a batch of one
(``gymnasium.Env``) and a batch of thousands (``VectorEnv``) run the same code:
:mod:`pucklab.envs.core` steps the batch (:class:`~pucklab.envs.core.PuckCore`), calling
:func:`_serve` / :func:`_physics` here for each game and :mod:`pucklab.envs.drawing` for its
pixels.

Coordinates are in pixels of the observation: x grows to the right, y grows downwards. The agent
guards the right edge; in Pong a scripted opponent guards the left edge, in air hockey the left
edge is a wall.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pucklab.envs.jit import njit

FIELD = 80  # the observation is FIELD x FIELD pixels; physics runs in the same units
BALL = 2  # puck side, pixels
PADDLE_WIDTH = 2
AGENT_X = FIELD - 4  # agent paddle's left column: it covers columns 76-77
OPPONENT_X = 2  # opponent paddle's left column: it covers columns 2-3
PADDLE_SPEED = 3.0  # pixels per step for the agent, and for an opponent of skill 1
MAX_BOUNCE = math.radians(55)  # angle of a puck leaving a paddle's very edge (0 at its centre)
SERVE_ANGLE = math.radians(40)  # serves leave at a uniform angle in [-SERVE_ANGLE, SERVE_ANGLE]
AIR_HOCKEY_SERVE_X = (4.0, 20.0)  # air hockey: the puck is served from near the left wall
PIXEL_ON = 255
NUM_RECTS = 5  # changed rectangles per step: puck, and two strips for each paddle

STAY, UP, DOWN = 0, 1, 2
NUM_ACTIONS = 3
OUTCOME_NONE, OUTCOME_WIN, OUTCOME_LOSS = 0, 1, -1

# Columns of the float state array (one row per game). OPP_CMD: the opponent's action when an
# outside controller (a person) moves it, set from Python before a step.
BX, BY, VX, VY, AGENT_Y, OPP_Y, T, OPP_CMD = range(8)
NUM_STATE = 8
# Columns of the int array of where each sprite was last drawn (-1: not drawn yet).
D_BX, D_BY, D_AGENT, D_OPP = range(4)
# Entries of the parameter vector handed to the kernel.
P_SESSION, P_PADDLE_H, P_SPEED, P_OPPONENT, P_OPP_SPEED, P_OPP_REACT, P_OPP_EXTERNAL = range(7)

OBS_TYPES = ("pixels", "state")


@dataclass(frozen=True)
class GameConfig:
    """Settings of one game kind, checked at once so bad input fails where it is given.

    Args:
        has_opponent: Pong (True: scripted left paddle, the agent can score) or air hockey
            (False: the left edge is a wall).
        session_length: Steps after which a session the agent did not lose ends as a win.
        opponent_skill: 0 (never moves) to 1 (full paddle speed, reacts across the whole field).
        paddle_height: Paddle height in pixels (both paddles).
        ball_speed: Puck speed in pixels per step.
        external_opponent: The opponent paddle follows the action set in the state's
            ``OPP_CMD`` column (a person's keys), at the agent's paddle speed, instead of its
            script; ``opponent_skill`` is then unused.
    """

    has_opponent: bool
    session_length: int = 50
    opponent_skill: float = 0.5
    paddle_height: int = 12
    ball_speed: float = 3.0
    external_opponent: bool = False

    def __post_init__(self) -> None:
        _check_int("session_length", self.session_length, 1, None)
        _check_int("paddle_height", self.paddle_height, BALL, FIELD // 2)
        _check_number("opponent_skill", self.opponent_skill, 0.0, 1.0)
        _check_number("ball_speed", self.ball_speed, 0.0, 2 * PADDLE_SPEED, open_low=True)

    def params(self) -> np.ndarray:
        """The settings as the float vector the compiled kernel reads."""
        p = np.zeros(7, dtype=np.float64)
        p[P_SESSION] = self.session_length
        p[P_PADDLE_H] = self.paddle_height
        p[P_SPEED] = self.ball_speed
        p[P_OPPONENT] = 1.0 if self.has_opponent else 0.0
        # A weak opponent is slow and reacts late (only once the puck is near its own side).
        p[P_OPP_SPEED] = PADDLE_SPEED * self.opponent_skill
        p[P_OPP_REACT] = FIELD * (0.25 + 0.75 * self.opponent_skill)
        p[P_OPP_EXTERNAL] = 1.0 if self.external_opponent else 0.0
        return p


def _check_int(name: str, value: object, low: int, high: int | None) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an int, got {value!r}")
    if value < low or (high is not None and value > high):
        bounds = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be {bounds}, got {value}")


def _check_number(name: str, value: object, low: float, high: float, open_low: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if not (low < value if open_low else low <= value) or not value <= high:
        raise ValueError(f"{name} must be in {'(' if open_low else '['}{low}, {high}], got {value}")


def check_obs_type(obs_type: str) -> str:
    """Return ``obs_type`` if it is one we know, else raise a ValueError naming it."""
    if obs_type not in OBS_TYPES:
        raise ValueError(f"obs_type must be one of {OBS_TYPES}, got {obs_type!r}")
    return obs_type


def state_bounds(has_opponent: bool) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of the ``state`` observation: puck x, y, vx, vy, agent y[, opponent y]."""
    low = np.array([0, 0, -1, -1, 0, 0], dtype=np.float32)
    high = np.ones(6, dtype=np.float32)
    n = 6 if has_opponent else 5
    return low[:n], high[:n]


# ---------------------------------------------------------------------------------------------
# The rules of one game, compiled; every function below runs under numba.


@njit(inline="always")
def _clamp(v: float, lo: float, hi: float) -> float:
    return lo if v < lo else (hi if v > hi else v)


@njit
def _bounce(yc: float, paddle_top: float, paddle_h: float, speed: float, direction: float):
    """Velocity of a puck leaving a paddle: steeper the further from the paddle's centre it hits."""
    offset = ((yc + BALL / 2) - (paddle_top + paddle_h / 2)) / (paddle_h / 2 + BALL / 2)
    angle = _clamp(offset, -1.0, 1.0) * MAX_BOUNCE
    return direction * speed * math.cos(angle), speed * math.sin(angle)


@njit
def _serve(s, p, u) -> None:
    """Start a session: paddles centred, puck served from uniforms ``u`` (3 values in [0, 1))."""
    speed = p[P_SPEED]
    paddle_h = p[P_PADDLE_H]
    angle = (2.0 * u[2] - 1.0) * SERVE_ANGLE
    if p[P_OPPONENT] > 0:
        s[BX] = (FIELD - BALL) / 2.0
        direction = 1.0 if u[0] < 0.5 else -1.0  # towards the agent or towards the opponent
    else:
        lo, hi = AIR_HOCKEY_SERVE_X
        s[BX] = lo + u[0] * (hi - lo)
        direction = 1.0  # the puck comes off the far wall's side towards the agent
    s[BY] = u[1] * (FIELD - BALL)
    s[VX] = direction * speed * math.cos(angle)
    s[VY] = speed * math.sin(angle)
    s[AGENT_Y] = (FIELD - paddle_h) / 2.0
    s[OPP_Y] = (FIELD - paddle_h) / 2.0
    s[T] = 0.0


@njit
def _physics(s, p, action) -> int:
    """One step of play for one game; returns the outcome it decided (0 if none)."""
    paddle_h = p[P_PADDLE_H]
    speed = p[P_SPEED]
    top_limit = FIELD - paddle_h
    s[T] += 1.0

    if action == UP:
        s[AGENT_Y] = max(s[AGENT_Y] - PADDLE_SPEED, 0.0)
    elif action == DOWN:
        s[AGENT_Y] = min(s[AGENT_Y] + PADDLE_SPEED, top_limit)

    has_opponent = p[P_OPPONENT] > 0
    if has_opponent and p[P_OPP_EXTERNAL] > 0:  # moved from outside, like the agent's paddle
        if s[OPP_CMD] == UP:
            s[OPP_Y] = max(s[OPP_Y] - PADDLE_SPEED, 0.0)
        elif s[OPP_CMD] == DOWN:
            s[OPP_Y] = min(s[OPP_Y] + PADDLE_SPEED, top_limit)
    elif has_opponent and s[VX] < 0 and s[BX] < p[P_OPP_REACT]:
        target = s[BY] + BALL / 2 - paddle_h / 2
        move = _clamp(target - s[OPP_Y], -p[P_OPP_SPEED], p[P_OPP_SPEED])
        s[OPP_Y] = _clamp(s[OPP_Y] + move, 0.0, top_limit)

    x0, y0, vy0 = s[BX], s[BY], s[VY]
    x1, y1 = x0 + s[VX], y0 + vy0
    if y1 < 0.0:  # top and bottom walls reflect
        y1, s[VY] = -y1, -s[VY]
    elif y1 > FIELD - BALL:
        y1, s[VY] = 2.0 * (FIELD - BALL) - y1, -s[VY]

    outcome = 0
    agent_face = AGENT_X - BALL  # puck x at which its right edge touches the agent's paddle
    opp_face = OPPONENT_X + PADDLE_WIDTH  # puck x at which its left edge touches the opponent's
    if s[VX] > 0 and x0 <= agent_face < x1:
        yc = _clamp(y0 + vy0 * (agent_face - x0) / s[VX], 0.0, FIELD - BALL)
        if yc + BALL > s[AGENT_Y] and yc < s[AGENT_Y] + paddle_h:
            s[VX], s[VY] = _bounce(yc, s[AGENT_Y], paddle_h, speed, -1.0)
            x1 = 2.0 * agent_face - x1
        else:
            outcome = -1  # the puck got past the agent
    elif s[VX] < 0 and has_opponent and x1 < opp_face <= x0:
        yc = _clamp(y0 + vy0 * (x0 - opp_face) / -s[VX], 0.0, FIELD - BALL)
        if yc + BALL > s[OPP_Y] and yc < s[OPP_Y] + paddle_h:
            s[VX], s[VY] = _bounce(yc, s[OPP_Y], paddle_h, speed, 1.0)
            x1 = 2.0 * opp_face - x1
        else:
            outcome = 1  # the agent scored
    elif x1 < 0.0 and not has_opponent:  # air hockey: the far wall reflects
        x1, s[VX] = -x1, -s[VX]
    s[BX] = _clamp(x1, 0.0, FIELD - BALL)
    s[BY] = _clamp(y1, 0.0, FIELD - BALL)
    return outcome
