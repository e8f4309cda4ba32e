"""Dev tooling that starts the real services of ``make lab`` and the tests.

A top-level package of the repository, outside ``registry_widgets``, so the wheel does not ship
it (``python -m devstack`` from the repository root; pytest puts the root on ``sys.path``).
Nothing here imports ``registry_widgets``, and nothing there imports this, so a bug
in the package cannot hide itself behind what starts its test services. Modules: ``registry``
(start CNCF distribution), ``engine`` (dockerd + an offline busybox image), ``images`` (the
sample images of ``make lab``), ``tls`` (throwaway certificates), ``services`` (the CLI behind
``scripts/services``). The tests' own tooling (oracle, fault proxy, token server, push helpers)
lives in ``tests/support``, not here.
"""

from .engine import BASE_IMAGE, EngineUnavailable, ensure_base_image, ensure_engine, stop_engine
from .images import busybox_layer, files_layer, seed_sample
from .registry import FLAVOURS, LocalRegistry, start_registry

__all__ = [
    "BASE_IMAGE", "EngineUnavailable", "FLAVOURS", "LocalRegistry", "busybox_layer",
    "ensure_base_image", "ensure_engine", "files_layer", "seed_sample", "start_registry",
    "stop_engine",
]
