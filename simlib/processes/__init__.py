"""The SimPy processes of the model, one module per dimension, named after its block in
``params/defaults.yaml`` (see :mod:`simlib.model` for the map).

Every process is a plain function or generator that takes the running
:class:`simlib.model.GroupModel` first and acts on its members, log and records through the
model's shared effects (``admit``, ``remove``, ``purchase``, ``cost``, ``record_interactions``).
"""

MINUTE = 1 / 1440  # model time is in days
