"""The RL half's ``lab`` experiments: ``session-decay`` (:mod:`.sessions`) and
``frame-difference`` (:mod:`.frames`), on what they share (:mod:`.common`). Listed in
``pucklab.runs.registry``; ``pucklab.runs.lab`` runs them and writes their results."""
