"""A game's pixels: incremental redraws of its 80x80 uint8 frame and, on request, its frame
difference, both touching only the few rows where sprites moved.

Each step :func:`_plan` decides, from where the sprites were drawn and where they are now, the
5 rectangles in which the frame changes (``changed_rects``); :func:`_draw` erases and draws just
those (~100 pixels instead of 6,400). For
:class:`~pucklab.envs.wrappers.VectorFrameDifference`, :func:`_snapshot` keeps the pixels of those
rectangles before the redraw and :func:`_difference` writes new minus old there: the difference
costs no second pass over the frames and no copy of the previous frame.
"""

from __future__ import annotations

import numpy as np

from pucklab.envs.jit import njit
from pucklab.envs.physics import (
    AGENT_X,
    AGENT_Y,
    BALL,
    BX,
    BY,
    D_AGENT,
    D_BX,
    D_BY,
    D_OPP,
    OPP_Y,
    OPPONENT_X,
    P_OPPONENT,
    P_PADDLE_H,
    PADDLE_WIDTH,
    PIXEL_ON,
)
from pucklab.envs.prefetch import prefetch_write


@njit
def _set_rect(rects, k, y0, y1, x0, x1) -> None:
    rects[k, 0], rects[k, 1], rects[k, 2], rects[k, 3] = y0, y1, x0, x1


@njit
def _plan_paddle(rects, k, old_y, y, x, h, full) -> None:
    """The strips a paddle's move from row old_y to row y changes: rectangle k is erased, k + 1
    drawn.

    A paddle moving by d < h rows keeps h - d rows lit: only the d rows it left and the d rows it
    entered change (a 3-row move touches 6 rows, not 15). ``full`` (or a first draw, or a jump)
    erases the whole old paddle and draws the whole new one.
    """
    w = PADDLE_WIDTH
    if old_y < 0 or full or abs(y - old_y) >= h:
        if old_y >= 0:
            _set_rect(rects, k, old_y, old_y + h, x, x + w)
        else:
            _set_rect(rects, k, 0, 0, 0, 0)
        _set_rect(rects, k + 1, y, y + h, x, x + w)
    elif y > old_y:  # moved down
        _set_rect(rects, k, old_y, y, x, x + w)
        _set_rect(rects, k + 1, old_y + h, y + h, x, x + w)
    else:  # moved up, or stayed (empty strips)
        _set_rect(rects, k, y + h, old_y + h, x, x + w)
        _set_rect(rects, k + 1, y, old_y, x, x + w)


@njit
def _plan(s, p, drawn, rects, full) -> None:
    """Where one game's frame changes this step (5 rectangles), from where its sprites were drawn
    (``drawn``) and where they are now (``s``): the puck's old and new place (one box), and per
    paddle a strip to erase and a strip to draw.

    A puck can only overlap a paddle's columns on a session's last step, so the step after (a
    serve) and any step starting from such an overlap redraw the paddles whole (``full``).
    """
    paddle_h = int(p[P_PADDLE_H])
    bx, by = int(round(s[BX])), int(round(s[BY]))
    old_bx, old_by = drawn[D_BX], drawn[D_BY]
    full = full or old_bx + BALL > AGENT_X or old_bx < OPPONENT_X + PADDLE_WIDTH
    if old_by >= 0:
        _set_rect(rects, 0, min(old_by, by), max(old_by, by) + BALL,
                  min(old_bx, bx), max(old_bx, bx) + BALL)
    else:
        _set_rect(rects, 0, by, by + BALL, bx, bx + BALL)
    _plan_paddle(rects, 1, drawn[D_AGENT], int(round(s[AGENT_Y])), AGENT_X, paddle_h, full)
    if p[P_OPPONENT] > 0:
        _plan_paddle(rects, 3, drawn[D_OPP], int(round(s[OPP_Y])), OPPONENT_X, paddle_h, full)
    else:
        _set_rect(rects, 3, 0, 0, 0, 0)
        _set_rect(rects, 4, 0, 0, 0, 0)


@njit(inline="always")
def _fill(frame, rects, k, value) -> None:
    frame[rects[k, 0]:rects[k, 1], rects[k, 2]:rects[k, 3]] = value


@njit
def _draw(s, p, frame, drawn, rects) -> None:
    """Redraw one game's sprites as :func:`_plan` decided: the old puck is erased first, then each
    paddle's strips, and the new puck is drawn last (order matters where sprites overlap)."""
    bx, by = int(round(s[BX])), int(round(s[BY]))
    if drawn[D_BY] >= 0:
        frame[drawn[D_BY]:drawn[D_BY] + BALL, drawn[D_BX]:drawn[D_BX] + BALL] = 0
    for k in (1, 3):
        _fill(frame, rects, k, 0)
        _fill(frame, rects, k + 1, PIXEL_ON)
    frame[by:by + BALL, bx:bx + BALL] = PIXEL_ON
    drawn[D_BX], drawn[D_BY] = bx, by
    drawn[D_AGENT] = int(round(s[AGENT_Y]))
    if p[P_OPPONENT] > 0:
        drawn[D_OPP] = int(round(s[OPP_Y]))

@njit
def _snapshot(frame, rects, scratch) -> None:
    """Copy the pixels inside ``rects`` into ``scratch``, rectangle after rectangle (before a
    redraw: they are the previous frame wherever the frame can change)."""
    n = 0
    for k in range(rects.shape[0]):
        for y in range(rects[k, 0], rects[k, 1]):
            for x in range(rects[k, 2], rects[k, 3]):
                scratch[n] = frame[y, x]
                n += 1


@njit
def _difference(frame, rects, scratch, out, scale) -> None:
    """``out`` = (frame - previous frame) * scale inside ``rects``, the previous frame's pixels
    taken from ``scratch`` (:func:`_snapshot`). Overlapping rectangles write the same value twice."""
    n = 0
    for k in range(rects.shape[0]):
        for y in range(rects[k, 0], rects[k, 1]):
            for x in range(rects[k, 2], rects[k, 3]):
                out[y, x] = (np.float32(frame[y, x]) - np.float32(scratch[n])) * scale
                n += 1


@njit
def _prefetch_rects(frame_rows, diff_rows, rects) -> None:
    """Ask the CPU to bring in the cache lines a game's redraw will touch (see _step_games)."""
    for k in range(rects.shape[0]):
        x0, x1 = rects[k, 2], rects[k, 3] - 1
        for y in range(rects[k, 0], rects[k, 1]):
            prefetch_write(frame_rows, y, x0)
            prefetch_write(frame_rows, y, x1)
            if diff_rows.shape[0]:
                prefetch_write(diff_rows, y, x0)
                prefetch_write(diff_rows, y, x1)
