"""Playing against the agent: the env's outside-controlled opponent, and ``train-agent play``
run headless (SDL's dummy video driver) with scripted key presses."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pygame
import pytest
from gymnasium.utils.env_checker import check_env

import pucklab.envs  # noqa: F401
from pucklab.agents import cli
from pucklab.agents.play import PersonVsAgent, Scoreboard, game, play_game
from pucklab.envs import physics as ph


def test_an_external_opponent_moves_by_the_action_it_is_given():
    env = gym.make("pucklab/Pong-v0", obs_type="state", opponent="external")
    check_env(env.unwrapped, skip_render_check=True)
    obs, _ = env.reset(seed=0)
    start = obs[5]
    env.unwrapped.set_opponent_action(ph.UP)
    for _ in range(4):
        obs, *_ = env.step(ph.STAY)
    assert obs[5] < start  # moved up (y falls), at the agent's speed
    held = obs[5]
    env.unwrapped.set_opponent_action(ph.STAY)
    obs, *_ = env.step(ph.STAY)
    assert obs[5] == held
    with pytest.raises(ValueError, match="action must be"):
        env.unwrapped.set_opponent_action(3)
    scripted = gym.make("pucklab/Pong-v0")
    with pytest.raises(RuntimeError, match="opponent='external'"):
        scripted.unwrapped.set_opponent_action(ph.UP)
    with pytest.raises(ValueError, match="opponent must be one of"):
        gym.make("pucklab/Pong-v0", opponent="person")


def test_play_against_a_trained_pong_agent_headless(tmp_path, monkeypatch):
    """Up held for 20 steps moves the person's paddle up; the score counts every session;
    Esc closes the window."""
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    run_dir = tmp_path / "pong"
    assert cli.main(["--env", "pucklab/Pong-v0", "--batch-sessions", "8", "--total-steps", "400",
                     "--eval-sessions", "8", "--video-sessions", "0", "--no-progress",
                     "--run-dir", str(run_dir)]) == 0
    env = game(run_dir)
    assert isinstance(env, PersonVsAgent)
    seen: list[tuple[int, float]] = []

    def script(prev_obs, obs, action, reward, terminated, truncated, info):
        seen.append((action, float(env.unwrapped._core.state[0, ph.OPP_Y])))
        if len(seen) == 2:
            pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_UP))
        if len(seen) == 22:
            pygame.event.post(pygame.event.Event(pygame.KEYUP, key=pygame.K_UP))
        if len(seen) == 130:
            pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_ESCAPE))

    play_game(env, callback=script)
    assert len(seen) == 130 and not pygame.display.get_init()  # Esc closed the window
    held = [y for action, y in seen if action == ph.UP]
    assert len(held) >= 15 and held[-1] < held[0]  # the person's paddle went up
    assert sum(env.score()) >= 2  # sessions of 50 steps: every one counted
    frame = env.render()
    assert frame.shape[0] > 320  # the caption bar with the score sits above the field


def test_play_alone_and_without_a_display(tmp_path, monkeypatch, capsys):
    alone = game(None, "pucklab/AirHockey-v0")
    assert isinstance(alone, Scoreboard) and not isinstance(alone, PersonVsAgent)
    alone.reset(seed=0)
    for _ in range(60):
        alone.step(ph.STAY)
    assert sum(alone.score()) >= 1
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER"):
        monkeypatch.delenv(name, raising=False)
    assert cli.main(["play"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "needs a display" in err, err
    assert cli.main(["play", str(tmp_path), "--env", "pucklab/Pong-v0"]) == 2
    assert "not both" in capsys.readouterr().err
    np.testing.assert_array_equal(alone.render().shape[1:], (320, 3))
