"""Every built-in command, trainable and lab experiment, by name: where to read its code.

The names map to ``module:attribute`` strings, imported only when used, so that the run
plumbing imports neither half of the project (and ``launch`` stays import-light). Third-party
packages add their own through the same entry-point groups (``pucklab.commands``,
``pucklab.trainables``, ``pucklab.lab`` in their pyproject.toml); a built-in name wins.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import entry_points
from typing import Any

#: The console scripts: name -> its ``main(argv=None) -> int``.
COMMANDS = {
    "pucklab-demo": "pucklab.envs.demo:main",
    "train-agent": "pucklab.agents.cli:main",
    "char-rnn": "pucklab.seqmodels.charrnn.cli:main",
    "forecast": "pucklab.seqmodels.forecast.cli:main",
    "lab": "pucklab.runs.lab:main",
    "sweep": "pucklab.runs.sweep:main",
}

#: What ``sweep`` can search: name -> a :class:`~pucklab.runs.sweep_study.Trainable`.
TRAINABLES = {
    "train-agent": "pucklab.agents.runner:TRAINABLE",
    "char-rnn": "pucklab.seqmodels.charrnn.runner:TRAINABLE",
    "forecast": "pucklab.seqmodels.forecast.runner:TRAINABLE",
}

#: ``lab`` experiments: name -> a :class:`~pucklab.runs.lab.LabExperiment`.
EXPERIMENTS = {
    "vanishing-gradients": "pucklab.seqmodels.lab.gradients:VANISHING_GRADIENTS",
    "memory-length": "pucklab.seqmodels.lab.memory:MEMORY_LENGTH",
    "gradient-clipping": "pucklab.seqmodels.lab.clipping:GRADIENT_CLIPPING",
    "regularisation": "pucklab.seqmodels.lab.regularisation:REGULARISATION",
    "session-decay": "pucklab.agents.lab.sessions:SESSION_DECAY",
    "frame-difference": "pucklab.agents.lab.frames:FRAME_DIFFERENCE",
    "hyperparameter-search": "pucklab.seqmodels.lab.search:HYPERPARAMETER_SEARCH",
    "perceptron": "pucklab.seqmodels.lab.perceptron:PERCEPTRON",
    "backprop": "pucklab.seqmodels.lab.backprop:BACKPROP",
    "activations": "pucklab.seqmodels.lab.activations:ACTIVATIONS",
    "initialisation": "pucklab.seqmodels.lab.initialisation:INITIALISATION",
    "gradient-descent": "pucklab.seqmodels.lab.descent:GRADIENT_DESCENT",
    "word2vec": "pucklab.seqmodels.lab.word2vec:WORD2VEC",
    "batch-norm": "pucklab.seqmodels.lab.batchnorm:BATCH_NORM",
    "convolution": "pucklab.seqmodels.lab.convolution:CONVOLUTION",
    "autoencoder": "pucklab.seqmodels.lab.autoencoder:AUTOENCODER",
    "sequence-classification": "pucklab.seqmodels.lab.sequences:SEQUENCE_CLASSIFICATION",
    "word-vectors": "pucklab.seqmodels.lab.wordvectors:WORD_VECTORS",
    "next-word": "pucklab.seqmodels.lab.nextword:NEXT_WORD",
}

_GROUPS = {"commands": (COMMANDS, "pucklab.commands"),
           "trainables": (TRAINABLES, "pucklab.trainables"),
           "experiments": (EXPERIMENTS, "pucklab.lab")}


def load(target: str) -> Any:
    """The object ``module:attribute`` names."""
    module, _, attribute = target.partition(":")
    return getattr(import_module(module), attribute)


def names(kind: str) -> list[str]:
    """The names of one kind (``commands``, ``trainables``, ``experiments``), plug-ins too."""
    builtin, group = _GROUPS[kind]
    return sorted(set(builtin) | {ep.name for ep in entry_points(group=group)})


def find(kind: str, name: str) -> Any:
    """The object registered as ``name`` of ``kind``; a KeyError when there is none."""
    builtin, group = _GROUPS[kind]
    if name in builtin:
        return load(builtin[name])
    for ep in entry_points(group=group):
        if ep.name == name:
            return ep.load()
    raise KeyError(name)


def find_all(kind: str) -> dict[str, Any]:
    """Every object of ``kind`` by name (each imported)."""
    return {name: find(kind, name) for name in names(kind)}
