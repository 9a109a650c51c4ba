"""The one physics core behind every pucklab game: puck, paddles, opponent, sessions, pixels.

Written once and vectorised over a batch of games; compiled with numba so that a batch of one
(``gymnasium.Env``) and a batch of thousands (``VectorEnv``) run the same code. The core owns an
80x80 uint8 frame per game and redraws only the sprites that moved (erase old rectangle, draw new
one), so a step costs ~100 pixels per game instead of 6,400. It also records, per game, the
rectangles in which the frame changed (``changed_rects``), which lets
:class:`~pucklab.envs.wrappers.VectorFrameDifference` update a frame difference only there.

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


class PuckCore:
    """State and pixel buffers of ``num_games`` games, stepped by one compiled kernel.

    The arrays are public and updated in place by :meth:`step`: ``frames`` (B, 1, 80, 80) uint8,
    ``rewards`` float32, ``terminated``/``truncated`` bool, ``outcome`` int8 (+1 win, -1 loss,
    0 session still running), ``changed_rects`` (B, 5, 4) int32 rows ``y0, y1, x0, x1``.
    """

    def __init__(self, num_games: int, config: GameConfig) -> None:
        self.num_games = num_games
        self.config = config
        self.params = config.params()
        self.state = np.zeros((num_games, NUM_STATE), dtype=np.float64)
        self.drawn = np.full((num_games, 4), -1, dtype=np.int64)
        self.frames = np.zeros((num_games, 1, FIELD, FIELD), dtype=np.uint8)
        self.changed_rects = np.zeros((num_games, NUM_RECTS, 4), dtype=np.int32)
        self.rewards = np.zeros(num_games, dtype=np.float32)
        self.terminated = np.zeros(num_games, dtype=np.bool_)
        self.truncated = np.zeros(num_games, dtype=np.bool_)
        self.outcome = np.zeros(num_games, dtype=np.int8)
        low, high = state_bounds(config.has_opponent)
        n = len(low)
        # state obs = state[:, :n] * scale + shift, i.e. positions to [0, 1], velocities to [-1, 1]
        free = FIELD - config.paddle_height
        self._obs_scale = np.array(
            [1 / (FIELD - BALL), 1 / (FIELD - BALL), 1 / config.ball_speed,
             1 / config.ball_speed, 1 / free, 1 / free], dtype=np.float64)[:n]
        self._obs_low, self._obs_high = low, high

    def step(self, actions: np.ndarray, reset_mask: np.ndarray, serves: np.ndarray,
             step_others: bool = True) -> None:
        """Advance every game one step; games in ``reset_mask`` start a new session instead.

        Args:
            actions: (B,) int64 in {0: stay, 1: up, 2: down}; ignored for games being reset.
            reset_mask: (B,) bool, games to serve anew.
            serves: (B, 3) float64 uniforms in [0, 1) deciding each reset game's serve.
            step_others: False holds the games outside ``reset_mask`` as they are (a partial
                reset); their changed rectangles become empty.
        """
        _step_games(self.state, self.drawn, actions, reset_mask, step_others, serves,
                    self.params, self.frames, self.changed_rects, self.rewards,
                    self.terminated, self.truncated, self.outcome)

    def state_obs(self) -> np.ndarray:
        """The ``state`` observation of every game, (B, 5) or (B, 6) float32."""
        n = len(self._obs_scale)
        obs = (self.state[:, :n] * self._obs_scale).astype(np.float32)
        # Rounding at the edges must not step outside the declared Box.
        return np.clip(obs, self._obs_low, self._obs_high, out=obs)


# ---------------------------------------------------------------------------------------------
# The compiled kernel. Plain loops over games; every function below runs under numba.


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


@njit
def _set_rect(rects, k, y0, y1, x0, x1) -> None:
    rects[k, 0], rects[k, 1], rects[k, 2], rects[k, 3] = y0, y1, x0, x1


@njit
def _move_paddle(frame, rects, k, old_y, y, x, h, full) -> None:
    """Move a paddle in column x from row old_y to row y, touching only rows that change.

    A paddle moving by d < h rows keeps h - d rows lit: erase the d rows it left, draw the d rows
    it entered, and record those two strips as rectangles k and k + 1 (a 3-row move touches 6
    rows, not 15). ``full`` (or a first draw, or a jump) erases and redraws the whole paddle.
    """
    w = PADDLE_WIDTH
    if old_y < 0 or full or abs(y - old_y) >= h:
        if old_y >= 0:
            frame[old_y:old_y + h, x:x + w] = 0
            _set_rect(rects, k, old_y, old_y + h, x, x + w)
        else:
            _set_rect(rects, k, 0, 0, 0, 0)
        frame[y:y + h, x:x + w] = PIXEL_ON
        _set_rect(rects, k + 1, y, y + h, x, x + w)
    elif y > old_y:  # moved down
        frame[old_y:y, x:x + w] = 0
        frame[old_y + h:y + h, x:x + w] = PIXEL_ON
        _set_rect(rects, k, old_y, y, x, x + w)
        _set_rect(rects, k + 1, old_y + h, y + h, x, x + w)
    else:  # moved up, or stayed (empty strips)
        frame[y + h:old_y + h, x:x + w] = 0
        frame[y:old_y, x:x + w] = PIXEL_ON
        _set_rect(rects, k, y, old_y, x, x + w)
        _set_rect(rects, k + 1, y + h, old_y + h, x, x + w)


@njit
def _redraw(s, p, frame, drawn, rects, full) -> None:
    """Redraw one game's sprites and record where the frame changed (5 rectangles).

    Order matters where sprites overlap: the old puck is erased first and the new puck drawn
    last. A puck can only overlap a paddle's columns on a session's last step, so the step after
    (a serve) and any step starting from such an overlap redraw everything (``full``).
    """
    paddle_h = int(p[P_PADDLE_H])
    bx, by = int(round(s[BX])), int(round(s[BY]))
    old_bx, old_by = drawn[D_BX], drawn[D_BY]
    full = full or old_bx + BALL > AGENT_X or old_bx < OPPONENT_X + PADDLE_WIDTH
    if old_by >= 0:
        frame[old_by:old_by + BALL, old_bx:old_bx + BALL] = 0
        _set_rect(rects, 0, min(old_by, by), max(old_by, by) + BALL,
                  min(old_bx, bx), max(old_bx, bx) + BALL)
    else:
        _set_rect(rects, 0, by, by + BALL, bx, bx + BALL)
    ay = int(round(s[AGENT_Y]))
    _move_paddle(frame, rects, 1, drawn[D_AGENT], ay, AGENT_X, paddle_h, full)
    drawn[D_AGENT] = ay
    if p[P_OPPONENT] > 0:
        oy = int(round(s[OPP_Y]))
        _move_paddle(frame, rects, 3, drawn[D_OPP], oy, OPPONENT_X, paddle_h, full)
        drawn[D_OPP] = oy
    else:
        _set_rect(rects, 3, 0, 0, 0, 0)
        _set_rect(rects, 4, 0, 0, 0, 0)
    frame[by:by + BALL, bx:bx + BALL] = PIXEL_ON
    drawn[D_BX], drawn[D_BY] = bx, by


@njit
def _step_games(state, drawn, actions, reset_mask, step_others, serves, p, frames, rects,
                rewards, terminated, truncated, outcome) -> None:
    session_length = p[P_SESSION]
    for g in range(state.shape[0]):
        s = state[g]
        if not (step_others or reset_mask[g]):
            rects[g] = 0  # held: nothing changed
            continue
        result = 0
        if reset_mask[g]:
            _serve(s, p, serves[g])
        else:
            result = _physics(s, p, actions[g])
        done_by_time = result == 0 and not reset_mask[g] and s[T] >= session_length
        if done_by_time:
            result = 1  # the puck did not fall for a whole session
        rewards[g] = result
        terminated[g] = result != 0 and not done_by_time
        truncated[g] = done_by_time
        outcome[g] = result
        _redraw(s, p, frames[g, 0], drawn[g], rects[g], reset_mask[g])
