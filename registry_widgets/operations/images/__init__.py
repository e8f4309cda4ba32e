"""The image verbs: ``images`` (inventory), ``inspect``, ``copy``, ``remove`` and its plan,
namespaces, protected tags, what runs locally (``in_use``), accessories (signatures,
attestations, SBOMs stored beside an image), and the engine verbs (``local``: pull, tag,
push, build, run).

Imports ``operations.core`` and the layers below it; never ``security``, ``cleanup`` or
``mirror``.
"""

from . import guards as _guards  # noqa: F401,E402  - registers the engine's guards of this layer
