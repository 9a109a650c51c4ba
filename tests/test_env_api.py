"""Registration, Gymnasium's and SB3's env checkers, packaging of the namespace."""

import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import pucklab.envs
from pucklab.envs import AirHockeyVectorEnv, PongVectorEnv

IDS = ["pucklab/AirHockey-v0", "pucklab/Pong-v0"]


def test_register_envs_reads_naturally():
    gym.register_envs(pucklab.envs)
    for env_id in IDS:
        assert gym.spec(env_id).vector_entry_point is not None


def test_make_with_module_prefix_needs_no_import(tmp_path):
    code = ("import gymnasium as gym; env = gym.make('pucklab.envs:pucklab/AirHockey-v0'); "
            "obs, _ = env.reset(seed=0); print(obs.shape)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path, check=True)
    assert out.stdout.strip() == "(1, 80, 80)"


def test_code_folders_install_only_under_the_pucklab_namespace(tmp_path):
    code = ("import importlib.util as u; import pucklab.envs, pucklab.agents, pucklab.seqmodels, "
            "pucklab.runs; print([n for n in ('envs', 'agents', 'seqmodels', 'runs') "
            "if u.find_spec(n) is not None])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("env_id", IDS)
@pytest.mark.parametrize("obs_type", ["pixels", "state"])
def test_gymnasium_and_sb3_checkers_pass(env_id, obs_type):
    env = gym.make(env_id, obs_type=obs_type, render_mode="rgb_array")
    gym_check_env(env.unwrapped)
    sb3_check_env(gym.make(env_id, obs_type=obs_type), warn=True)
    env.close()


@pytest.mark.parametrize("env_id,cls", [(IDS[0], AirHockeyVectorEnv), (IDS[1], PongVectorEnv)])
def test_make_vec_returns_the_batched_core(env_id, cls):
    env = gym.make_vec(env_id, num_envs=16, vectorization_mode="vector_entry_point")
    assert isinstance(env, cls)
    assert env.metadata["autoreset_mode"] == gym.vector.AutoresetMode.NEXT_STEP
    obs, _ = env.reset(seed=0)
    assert obs.shape == (16, 1, 80, 80) and obs.dtype == np.uint8
    assert env.observation_space.contains(obs)


def test_rgb_array_render_is_a_colour_frame():
    env = gym.make("pucklab/Pong-v0", render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (320, 320, 3) and frame.dtype == np.uint8
    assert len(np.unique(frame.reshape(-1, 3), axis=0)) >= 4  # background, two paddles, puck
    assert env.metadata["render_fps"] > 0
    vec = gym.make_vec("pucklab/Pong-v0", num_envs=3, render_mode="rgb_array")
    vec.reset(seed=0)
    frames = vec.render()
    assert len(frames) == 3 and frames[0].shape == (320, 320, 3)
