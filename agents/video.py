"""Rollout videos: the game as a person sees it (``rgb_array``), optionally beside what the agent saw.

A caption bar above the picture names the panels ("game", "what the agent saw") and the
session ("session 2/3"); the held last picture of a session says how it ended ("won, +1").
Written with imageio; mp4 goes through imageio-ffmpeg's bundled ffmpeg binary, so recording works
on a headless machine with no system ffmpeg. GIFs go through Pillow.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pucklab.runs.store import atomic_path

FPS = 30
HOLD = 10  # frames the last picture of a session is held, so its end can be seen
FORMATS = ("mp4", "gif")
CAPTION = 20  # pixels of the caption bar (even, as yuv420p mp4 needs)
WON, LOST, PLAIN = (90, 220, 90), (235, 80, 80), (235, 235, 235)
MIN_WIDTH = 300  # narrower game pictures are scaled up (whole times) so the captions fit


def outcome(total: float) -> tuple[str, tuple[int, int, int]]:
    """How a session ended, as the win rate counts it (a positive total reward is a win)."""
    word = "won" if total > 0 else "lost" if total < 0 else "no score"
    return f"{word}, {total:+g}", WON if total > 0 else LOST if total < 0 else PLAIN


def captioned(picture: np.ndarray, titles: list[tuple[int, str]], status: str,
              colour: tuple[int, int, int] = PLAIN) -> np.ndarray:
    """``picture`` under a black bar: each ``(x, title)`` at its panel's left edge, and
    ``status`` at the right."""
    from PIL import Image, ImageDraw, ImageFont

    h, w = picture.shape[:2]
    bar = Image.new("RGB", (w, CAPTION))
    draw = ImageDraw.Draw(bar)
    font = ImageFont.load_default(size=13)
    for x, title in titles:
        draw.text((x + 4, 3), title, fill=PLAIN, font=font)
    right = draw.textlength(status, font=font)
    draw.text((w - right - 4, 3), status, fill=colour, font=font)
    return np.concatenate([np.asarray(bar), picture], axis=0)


def _observation_panel(obs: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A (H, W, 3) uint8 picture of one observation: a frame difference in red (negative) and
    green (positive) on black; a plain frame in grey. Nearest-neighbour upscaled to ``size``."""
    img = np.asarray(obs, dtype=np.float32)
    img = img[-1] if img.ndim == 3 else img  # a stack of frames: the newest
    if img.min() < 0:  # a difference in [-1, 1]
        rgb = np.zeros((*img.shape, 3), dtype=np.float32)
        rgb[..., 1] = np.clip(img, 0, 1) * 255
        rgb[..., 0] = np.clip(-img, 0, 1) * 255
    else:
        top = img.max() if img.max() > 0 else 1.0
        rgb = np.repeat((img / top * 255)[..., None], 3, axis=2)
    h, w = size
    rows = np.arange(h) * img.shape[0] // h
    cols = np.arange(w) * img.shape[1] // w
    return rgb[rows][:, cols].astype(np.uint8)


@torch.no_grad()
def play_sessions(env, policy: Callable[[torch.Tensor], torch.Tensor], sessions: int,
                  seed: int, greedy: bool = True, side_by_side: bool = False,
                  max_frames: int = 5000, device: str | torch.device = "cpu"
                  ) -> tuple[list[np.ndarray], list[float]]:
    """Play ``sessions`` episodes of a single ``rgb_array`` env; return frames and session rewards.

    Each session contributes its first frame, one frame per step, and the last frame held
    :data:`HOLD` extra times. Stops early at ``max_frames``.
    """
    frames: list[np.ndarray] = []
    totals: list[float] = []
    # Only pictures go beside the game (a state vector has nothing to show).
    side_by_side = side_by_side and len(env.observation_space.shape or ()) >= 2

    def picture(obs: np.ndarray, status: str, colour: tuple[int, int, int] = PLAIN) -> np.ndarray:
        game = np.asarray(env.render())
        scale = max(1, -(-MIN_WIDTH // game.shape[1]))  # Atari's 160 pixels: twice as large
        game = game.repeat(scale, axis=0).repeat(scale, axis=1) if scale > 1 else game
        titles = [(0, "game")]
        if side_by_side:
            titles.append((game.shape[1], "what the agent saw"))
            game = np.concatenate([game, _observation_panel(obs, game.shape[:2])], 1)
        return captioned(game, titles, status, colour)

    for k in range(sessions):
        obs, _ = env.reset(seed=seed + k)
        total = 0.0
        label = f"session {k + 1}/{sessions}"
        while True:
            frames.append(picture(obs, label))
            if len(frames) >= max_frames:
                return frames, totals
            x = torch.as_tensor(np.array(obs, dtype=np.float32), device=device)[None]
            logits = policy(x)
            action = (logits.argmax(-1) if greedy
                      else torch.distributions.Categorical(logits=logits).sample()).item()
            obs, reward, terminated, truncated, _ = env.step(action)
            total += float(reward)
            if terminated or truncated:
                text, colour = outcome(total)
                frames.extend([picture(obs, f"{label}: {text}", colour)] * (HOLD + 1))
                totals.append(total)
                break
    return frames, totals


def write_video(frames: list[np.ndarray], path: Path | str, fps: int = FPS) -> Path:
    """Write frames to ``path`` (.mp4 or .gif) atomically: a temp file renamed into place."""
    import imageio.v2 as imageio

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".mp4", ".gif"):
        raise ValueError(f"video format must be .mp4 or .gif, got {path.name}")
    with atomic_path(path) as tmp:
        if suffix == ".mp4":
            # macro_block_size=1: our frame sizes are multiples of 16 anyway; no silent resizing.
            with imageio.get_writer(tmp, fps=fps, codec="libx264", quality=7,
                                    macro_block_size=1, pixelformat="yuv420p") as writer:
                out: Any = writer  # imageio's writers are typed as its base class
                for frame in frames:
                    out.append_data(frame)
        else:
            # imageio's hints ask for a list of ArrayLike, which a list of arrays is not, to mypy
            imageio.mimsave(tmp, frames, duration=1000 / fps, loop=0)  # type: ignore[arg-type]
    return path
