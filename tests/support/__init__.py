"""The tests' own tooling, kept out of the shipped package.

- ``oracle``: a tiny raw-HTTP registry client, the independent oracle (shares no code with the
  library's client, so a bug there cannot hide itself in the tests);
- ``images``: push hand-made images and indexes through the oracle;
- ``token_server``: a Docker-style token server for distribution's ``auth: token``;
- ``faultproxy``: a proxy in front of a real registry that injects the faults real servers
  cannot produce on demand;
- ``registry``: the stack's ``start_registry`` plus a token server for the ``token`` flavour;
- ``vendor_servers``: Harbor, Docker Hub and IBM Cloud's APIs as their documentation says,
  in front of a real distribution (imported by name: ``tests.support.vendor_servers``).

It may import ``devstack`` (which starts the real services) but never the library
under test (tests/test_layers.py checks both directions). Tests import it as ``tests.support``
(pytest's ``pythonpath = ["."]``; benchmarks run as ``python -m benchmarks`` from the repository
root).
"""

from .images import (Blob, PushedImage, busybox_layer, files_layer, push_image, push_index,
                     random_layers, seed_sample)
from .oracle import RawClient, get_blob, get_manifest, list_repositories, list_tags
from .registry import start_registry
from .token_server import LEEWAY, TokenRequest, TokenServer

__all__ = [
    "Blob", "LEEWAY", "PushedImage", "RawClient", "TokenRequest", "TokenServer", "busybox_layer",
    "files_layer", "get_blob", "get_manifest", "list_repositories", "list_tags", "push_image",
    "push_index", "random_layers", "seed_sample", "start_registry",
]
