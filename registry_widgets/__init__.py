"""registry_widgets: manage container images in OCI registries from Jupyter.

The public API is re-exported here. Layers, imported only downward:
``reference`` (pure) -> ``registry`` (HTTP) and ``engine`` (Docker SDK) -> operations
(the verbs) -> ``widgets`` and the notebooks.
"""

import logging

from .errors import *  # noqa: F401,F403

logging.getLogger(__name__).addHandler(logging.NullHandler())
