"""``train-agent play``: a person against a trained agent, in a pygame window.

On ``pucklab/Pong-v0`` the person moves the left paddle (the env's ``opponent="external"``, in
place of the scripted opponent) with the arrow keys or W / S, and the trained agent plays the
right one from its own observations (the frame difference, as in training). Without a run, the
person plays a game alone: the right paddle of ``pucklab/AirHockey-v0`` or Pong against its
scripted opponent.

The window, the keys, the frame rate and Esc / closing the window are Gymnasium's
``gymnasium.utils.play.play``. :class:`PersonVsAgent` makes the game one whose action is the
person's: each step it hands the person's key to the opponent paddle, asks the agent for its
move, and keeps the score, which the picture shows in a caption bar above the field.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from pucklab.agents.env_setup import make_single_env
from pucklab.agents.video import LOST, PLAIN, WON, captioned
from pucklab.runs.store import RunError

PONG, AIR_HOCKEY = "pucklab/Pong-v0", "pucklab/AirHockey-v0"
STAY, UP, DOWN = 0, 1, 2
ZOOM = 2.0  # the 320x320 picture at 640x640


def keys() -> dict[tuple[int, ...], int]:
    """Arrow keys or W / S: up and down; nothing pressed: stay."""
    import pygame

    return {(pygame.K_UP,): UP, (pygame.K_w,): UP, (pygame.K_DOWN,): DOWN, (pygame.K_s,): DOWN}


class Scoreboard(gym.Wrapper):
    """A game a person plays on and on: each finished session is counted and served anew, and
    the picture carries a caption bar with the score. The person's action is the env's."""

    labels = ("you", "lost")  # the caption: "you 3 : 2 lost"
    title = "you (right paddle)"

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.won = self.lost = 0
        self._serves = 0

    def _count(self, obs: np.ndarray, terminated: bool, truncated: bool,
               info: dict[str, Any]) -> np.ndarray:
        if terminated or truncated:
            if info.get("outcome") == "win":
                self.won += 1
            else:
                self.lost += 1
            self._serves += 1
            obs, _ = self.env.reset(seed=self._serves)  # play goes on
        return obs

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        return self._count(obs, terminated, truncated, info), float(reward), False, False, info

    def score(self) -> tuple[int, int]:
        """(the person's points, the other side's)."""
        return self.won, self.lost

    def render(self) -> np.ndarray:
        mine, theirs = self.score()
        colour = WON if mine > theirs else LOST if mine < theirs else PLAIN
        you, them = self.labels
        return captioned(np.asarray(self.env.render()), [(0, self.title)],
                         f"{you} {mine} : {theirs} {them}", colour)


class PersonVsAgent(Scoreboard):
    """Pong whose action is the person's, for the left paddle; the agent plays the right one.

    ``step(person_action)`` sets the opponent paddle's action (``set_opponent_action``), then
    steps the game with the agent's greedy action from its last observation. The reward is the
    person's: a session the agent loses is the person's point.
    """

    labels = ("you", "agent")
    title = "you (left paddle)"

    def __init__(self, env: gym.Env, agent: Callable[[np.ndarray], int]) -> None:
        super().__init__(env)
        self.agent = agent
        self._obs: np.ndarray | None = None

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict[str, Any]]:
        self._obs, info = self.env.reset(**kwargs)
        return self._obs, info

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        assert self._obs is not None, "call reset() first"
        self.env.unwrapped.set_opponent_action(int(action))  # type: ignore[attr-defined]  # Pong's
        obs, reward, terminated, truncated, info = self.env.step(self.agent(self._obs))
        self._obs = self._count(obs, terminated, truncated, info)
        return self._obs, -float(reward), False, False, info

    def score(self) -> tuple[int, int]:
        return self.lost, self.won  # the agent's losses are the person's points


def agent_of(run_dir: Path, device: str = "cpu") -> tuple[Callable[[np.ndarray], int], Any]:
    """The trained policy of ``run_dir`` as observation -> greedy action, and its settings."""
    from pucklab.agents.trained import load_run

    settings, policy, dev = load_run(run_dir, device)

    @torch.no_grad()
    def act(obs: np.ndarray) -> int:
        x = torch.as_tensor(np.asarray(obs, dtype=np.float32), device=dev)[None]
        return int(policy(x).argmax(-1).item())

    return act, settings


def game(run_dir: Path | None, env_id: str | None = None) -> gym.Env:
    """The env a person plays: against ``run_dir``'s agent, or alone on ``env_id``."""
    if run_dir is None:
        return Scoreboard(gym.make(env_id or AIR_HOCKEY, render_mode="rgb_array"))
    act, settings = agent_of(run_dir)
    if settings.env != PONG:
        raise RunError(f"{run_dir} was trained on {settings.env}; a person plays against agents "
                       f"of {PONG} (on {AIR_HOCKEY} play alone: train-agent play)")
    kwargs = {**settings.env_kwargs, "opponent": "external"}
    env = make_single_env(PONG, kwargs, observation=settings.observation)
    return PersonVsAgent(env, act)


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """File descriptor 2 to /dev/null for a moment: C libraries write there directly."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def play_game(env: gym.Env, callback: Callable[..., Any] | None = None,
              seed: int = 0) -> None:
    """Open the window and play ``env`` until Esc or the window closes."""
    try:
        import pygame
        with warnings.catch_warnings():  # "matplotlib is not installed": its plotting helper
            warnings.simplefilter("ignore")
            from gymnasium.utils.play import play
    except ImportError as err:
        raise RunError("playing needs pygame: pip install pygame") from err
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")  # no sound, no sound device needed
    asked = os.environ.get("SDL_VIDEODRIVER")  # dummy / offscreen on purpose: tests, scripts
    try:
        with _quiet_stderr():  # SDL's own probing chatter ("XDG_RUNTIME_DIR is invalid")
            pygame.display.init()
        driver = pygame.display.get_driver()
    except pygame.error as err:
        driver, asked = f"none ({err})", None
    if driver in ("dummy", "offscreen") and asked is None or driver.startswith("none"):
        pygame.display.quit()
        raise RunError(f"playing needs a display, and SDL found none (driver {driver}); run it "
                       "where a window can open (SDL_VIDEODRIVER=dummy plays off screen)")
    fps = env.metadata.get("render_fps", 30)
    try:
        play(env, fps=fps, zoom=ZOOM, keys_to_action=keys(), noop=STAY, callback=callback,
             seed=seed)
    finally:
        env.close()
