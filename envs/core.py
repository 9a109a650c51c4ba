"""The batch of games behind every pucklab env: its buffers, and the one kernel that steps them.

:class:`PuckCore` owns the state and pixel buffers of B games; ``gymnasium.Env`` is B = 1,
``VectorEnv`` any B. :func:`_step_games` runs each game's rules (:mod:`pucklab.envs.physics`)
and redraws its pixels (:mod:`pucklab.envs.drawing`) in one compiled loop.
"""

from __future__ import annotations

import numpy as np

from pucklab.envs.drawing import _difference, _draw, _fill, _plan, _prefetch_rects, _snapshot
from pucklab.envs.jit import njit
from pucklab.envs.physics import (
    BALL,
    FIELD,
    NUM_RECTS,
    NUM_STATE,
    P_SESSION,
    GameConfig,
    T,
    _physics,
    _serve,
    state_bounds,
)

AHEAD = 8  # the kernel plans this many games ahead of the one it draws (prefetch distance)


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
        # Frame differences computed inside the step, once asked for (track_differences).
        self.differences = np.zeros((0, 1, FIELD, FIELD), dtype=np.float32)
        self._last_rects = np.zeros((0, NUM_RECTS, 4), dtype=np.int32)
        self._scratch = np.zeros(0, dtype=np.uint8)
        self._diff_scale = np.float32(1.0)

    def track_differences(self, scale: float) -> np.ndarray:
        """From the next step on, also write ``differences`` = (frame - previous frame) * scale,
        float32 (B, 1, 80, 80), zero on a session's first frame; returns that buffer.

        Computed while each game is redrawn, from the few pixels that change, so a frame
        difference costs no second pass over B frames and no copy of the previous frame.
        A game held by a partial reset keeps its last difference.
        """
        if not self.differences.shape[0]:
            self.differences = np.zeros((self.num_games, 1, FIELD, FIELD), dtype=np.float32)
            self._last_rects = np.zeros((self.num_games, NUM_RECTS, 4), dtype=np.int32)
            self._scratch = np.zeros(NUM_RECTS * FIELD * FIELD, dtype=np.uint8)
        self._diff_scale = np.float32(scale)
        return self.differences

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
                    self.terminated, self.truncated, self.outcome, self.differences,
                    self._last_rects, self._diff_scale, self._scratch)

    def state_obs(self) -> np.ndarray:
        """The ``state`` observation of every game, (B, 5) or (B, 6) float32."""
        n = len(self._obs_scale)
        obs = (self.state[:, :n] * self._obs_scale).astype(np.float32)
        # Rounding at the edges must not step outside the declared Box.
        return np.clip(obs, self._obs_low, self._obs_high, out=obs)


@njit
def _advance(g, state, drawn, actions, reset_mask, serves, p, rects, rewards, terminated,
             truncated, outcome) -> None:
    """Game g's physics (or serve), its reward and end flags, and the rectangles it will redraw."""
    s = state[g]
    result = 0
    if reset_mask[g]:
        _serve(s, p, serves[g])
    else:
        result = _physics(s, p, actions[g])
    done_by_time = result == 0 and not reset_mask[g] and s[T] >= p[P_SESSION]
    if done_by_time:
        result = 1  # the puck did not fall for a whole session
    rewards[g] = result
    terminated[g] = result != 0 and not done_by_time
    truncated[g] = done_by_time
    outcome[g] = result
    _plan(s, p, drawn[g], rects[g], reset_mask[g])


@njit
def _step_games(state, drawn, actions, reset_mask, step_others, serves, p, frames, rects,
                rewards, terminated, truncated, outcome, diffs, last_rects, scale,
                scratch) -> None:
    """Step every game: physics and planning run AHEAD games in front of the drawing, so the
    scattered cache lines a game's redraw touches (its frame rows, its difference rows) are
    prefetched while the games before it are drawn. At large batches those lines come from
    main memory; without the lead the loop waits for each one in turn."""
    track = diffs.shape[0] > 0
    no_diffs = diffs[:0, 0, 0]  # an empty (0, 80) view: "no difference rows to prefetch"
    num = state.shape[0]
    for i in range(num + AHEAD):
        g = i
        if g < num and (step_others or reset_mask[g]):
            _advance(g, state, drawn, actions, reset_mask, serves, p, rects, rewards,
                     terminated, truncated, outcome)
            if track:
                _prefetch_rects(frames[g, 0], diffs[g, 0], rects[g])
                _prefetch_rects(frames[g, 0], diffs[g, 0], last_rects[g])
            else:
                _prefetch_rects(frames[g, 0], no_diffs, rects[g])
        g = i - AHEAD
        if g < 0:
            continue
        if not (step_others or reset_mask[g]):
            rects[g] = 0  # held: nothing changed
            continue
        if track:  # the last difference is zero outside its rectangles: clear just those
            for k in range(last_rects.shape[1]):
                _fill(diffs[g, 0], last_rects[g], k, 0.0)
        # A session's first frame has no difference (zero); else it is the change in rects.
        differ = track and not reset_mask[g]
        if differ:
            _snapshot(frames[g, 0], rects[g], scratch)
        _draw(state[g], p, frames[g, 0], drawn[g], rects[g])
        if differ:
            _difference(frames[g, 0], rects[g], scratch, diffs[g, 0], scale)
            last_rects[g] = rects[g]
        elif track:
            last_rects[g] = 0
