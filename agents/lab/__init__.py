"""The RL half's ``lab`` experiments.

* ``session-decay``: REINFORCE on ``pucklab/AirHockey-v0`` with the session's outcome spread
  back with decay gamma in {1.0, 0.99, 0.95, 0.9}: learning curves over seeds, sessions to an
  80% evaluation win rate, and the variance of the policy-gradient estimate at fixed policies.
* ``frame-difference``: the same agent seeing the frame difference, the raw current frame, or
  the last two frames stacked (``train-agent --observation``): learning curves and sessions to
  an 80% evaluation win rate.

``sessions.py`` and ``frames.py`` declare them, on what ``learning.py`` measures and tabulates.
Listed in ``pucklab.runs.registry``; ``pucklab.runs.lab`` runs them
and writes results.csv / results.md / figure.png. Each condition x seed is a task
(:mod:`pucklab.runs.lab_tasks`): a real ``train-agent`` run in ``tasks/<condition>-seed<s>/run``
(metrics.csv, checkpoint, curve), continued from its checkpoint when a killed worker's task is
retried.
"""
