"""The sequence half's ``lab`` experiments, each turning one claim of the course into numbers.

    gradients       vanishing-gradients: dL/dh_t against the distance from the loss, per cell
    recall          the recall task, trained through the shared Trainer
    clipping        gradient-clipping: SGD that explodes, with and without clipping
    memory          memory-length: accuracy against the lag, per cell
    regularisation  dropout, L2 and early stopping on a char-RNN that overfits
    search          hyperparameter-search: grid, random, coarse-to-fine, TPE at equal budgets

They register as entry points of ``pucklab.lab`` (pyproject.toml); ``pucklab.runs.lab`` runs them.
"""
