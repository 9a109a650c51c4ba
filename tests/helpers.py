"""Test helpers: scripted policies and a from-scratch drawing to check the incremental one."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np

from pucklab.envs import physics as ph
from pucklab.envs.scripted import oracle_actions


def play(env_id: str, policy: str, num_envs: int = 500, steps: int = 400, seed: int = 0,
         **kwargs) -> dict[str, int]:
    """Play a scripted policy on the vector env; count session outcomes."""
    import gymnasium as gym

    env = gym.make_vec(env_id, num_envs=num_envs, obs_type="state", **kwargs)
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    counts = {"win": 0, "loss": 0, "scored": 0}
    for _ in range(steps):
        if policy == "oracle":
            actions = oracle_actions(obs, kwargs.get("paddle_height", 12))
        elif policy == "stay":
            actions = np.zeros(num_envs, dtype=np.int64)
        else:
            actions = rng.integers(0, 3, num_envs)
        obs, rewards, terminated, truncated, _ = env.step(actions)
        counts["win"] += int((rewards > 0).sum())
        counts["loss"] += int((rewards < 0).sum())
        counts["scored"] += int((terminated & (rewards > 0)).sum())
    env.close()
    return counts


def draw_from_scratch(state: np.ndarray, config: ph.GameConfig) -> np.ndarray:
    """The 80x80 frame a game's state should show, drawn from nothing."""
    frame = np.zeros((ph.FIELD, ph.FIELD), dtype=np.uint8)
    h = config.paddle_height
    ay = int(round(state[ph.AGENT_Y]))
    frame[ay:ay + h, ph.AGENT_X:ph.AGENT_X + ph.PADDLE_WIDTH] = ph.PIXEL_ON
    if config.has_opponent:
        oy = int(round(state[ph.OPP_Y]))
        frame[oy:oy + h, ph.OPPONENT_X:ph.OPPONENT_X + ph.PADDLE_WIDTH] = ph.PIXEL_ON
    bx, by = int(round(state[ph.BX])), int(round(state[ph.BY]))
    frame[by:by + ph.BALL, bx:bx + ph.BALL] = ph.PIXEL_ON
    return frame


def make_corpus(path: Path, n: int = 6000, seed: int = 0) -> Path:
    """Pseudo-words over a few letters: learnable structure, a small vocabulary."""
    rng = random.Random(seed)
    words = ["the", "cat", "sat", "on", "a", "mat", "and", "ate", "rat"]
    text = []
    while sum(map(len, text)) < n:
        text.append(" ".join(rng.choice(words) for _ in range(rng.randint(3, 8))) + ".\n")
    path.write_text("".join(text), encoding="utf-8")
    return path


def zipf_corpus(path: Path, n: int = 30_000, vocab: int = 3000, seed: int = 0) -> Path:
    """``n`` words drawn with Zipf's law from ``vocab`` made-up words of shared syllables: a few
    frequent words, a long tail of rare ones (some seen fewer than 5 times, or only late)."""
    rng = random.Random(seed)
    syllables = ["ka", "lo", "mi", "ren", "tu", "sha", "vor", "ne", "pil", "dra", "ost", "em"]
    words = sorted({"".join(rng.choice(syllables) for _ in range(rng.randint(1, 4)))
                    for _ in range(vocab)})
    rng.shuffle(words)
    weights = [1.0 / (rank + 1) for rank in range(len(words))]
    text = " ".join(rng.choices(words, weights, k=n))
    path.write_text(text, encoding="utf-8")
    return path


def play_corpus(path: Path, speeches: int = 500, speakers: int = 6, seed: int = 0) -> Path:
    """A made-up play in Tiny Shakespeare's layout ("NAME:", the speech's lines, a blank line):
    every line follows one grammar (article, adjective, noun, verb, article, noun, and maybe a
    preposition, article and noun, up to twice), so word order can be learnt; each speaker has nouns of
    their own, so who speaks can be told from the words."""
    rng = random.Random(seed)
    adjectives = ["good", "old", "sweet", "noble", "poor", "fair", "dead", "true"]
    verbs = ["loves", "takes", "sees", "finds", "leaves", "keeps"]
    shared = ["king", "lord", "heart", "night", "crown", "blood"]
    names = [f"SPEAKER {chr(65 + k)}" for k in range(speakers)]
    own = {n: [f"{n.split()[1].lower()}{k}" for k in range(4)] for n in names}
    blocks = []
    for _ in range(speeches):
        name = rng.choice(names)
        nouns = shared + own[name] * 2
        lines = []
        for _ in range(rng.randint(1, 3)):
            line = ["the", rng.choice(adjectives), rng.choice(nouns), rng.choice(verbs), "a",
                    rng.choice(nouns)]
            for _ in range(rng.randint(0, 2)):
                line += ["with", "the", rng.choice(nouns)]
            lines.append(" ".join(line) + ",")
        blocks.append(f"{name}:\n" + "\n".join(lines))
    path.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")
    return path


def one_line_error(main, argv: list[str], capsys, expect: str) -> None:
    """``main(argv)`` exits 2 with one line on stderr that holds ``expect``, no traceback."""
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert expect in err, err
