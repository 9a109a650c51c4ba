"""pucklab.envs: a fast Pong / air-hockey game on the Gymnasium API.

Importing this package registers the ids with Gymnasium (the 1.x convention, as ale-py does):

- ``pucklab/AirHockey-v0``: one paddle guards the right edge; the other walls bounce.
- ``pucklab/Pong-v0``: the agent on the right against a scripted opponent on the left.

``gym.make("pucklab.envs:pucklab/AirHockey-v0")`` works with no import at all, and
``gym.register_envs(pucklab.envs)`` reads naturally where the import would look unused. Both ids
have a ``vector_entry_point``: ``gym.make_vec(id, num_envs=B)`` runs B games in one compiled call.
"""

from gymnasium.envs.registration import register, registry

from pucklab.envs.air_hockey import AirHockeyEnv
from pucklab.envs.pong import PongEnv
from pucklab.envs.vector import AirHockeyVectorEnv, PongVectorEnv
from pucklab.envs.wrappers import FrameDifference, VectorFrameDifference

__all__ = [
    "AirHockeyEnv",
    "AirHockeyVectorEnv",
    "FrameDifference",
    "PongEnv",
    "PongVectorEnv",
    "VectorFrameDifference",
]

_IDS = {
    "pucklab/AirHockey-v0": ("pucklab.envs.air_hockey:AirHockeyEnv",
                             "pucklab.envs.vector:AirHockeyVectorEnv"),
    "pucklab/Pong-v0": ("pucklab.envs.pong:PongEnv", "pucklab.envs.vector:PongVectorEnv"),
}
for _id, (_entry, _vector_entry) in _IDS.items():
    if _id not in registry:  # importing twice (e.g. importlib.reload) must not warn
        register(id=_id, entry_point=_entry, vector_entry_point=_vector_entry)
