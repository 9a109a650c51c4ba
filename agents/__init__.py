"""pucklab.agents: REINFORCE agents and stable-baselines3 baselines on pucklab's envs (issue 3)."""
