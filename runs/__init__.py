"""pucklab.runs: the run plumbing shared by agents and seqmodels (issue 3).

The folder doubles as the default output place: commands write their runs to ``./runs/<name>/``,
and those subfolders are git-ignored.
"""
