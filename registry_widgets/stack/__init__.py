"""Dev and test tooling that starts real services: registries, a token server, an engine.

The tests' independent oracle: nothing here imports the rest of ``registry_widgets``, so a bug
in the package cannot hide itself behind its own helpers. Modules: ``registry`` (start
distribution), ``token_server``, ``engine`` (dockerd + offline busybox image), ``images`` (push
hand-made images), ``oracle`` (a tiny read/write HTTP client), ``services`` (the CLI).
"""

from .engine import BASE_IMAGE, EngineUnavailable, ensure_base_image, ensure_engine, stop_engine
from .images import Blob, PushedImage, busybox_layer, files_layer, push_image, push_index, seed_sample
from .oracle import RawClient, get_blob, get_manifest, list_repositories, list_tags
from .registry import FLAVOURS, LocalRegistry, start_registry
from .token_server import LEEWAY, TokenRequest, TokenServer

__all__ = [
    "BASE_IMAGE", "Blob", "EngineUnavailable", "FLAVOURS", "LEEWAY", "LocalRegistry",
    "PushedImage", "RawClient", "TokenRequest", "TokenServer", "busybox_layer",
    "ensure_base_image", "ensure_engine", "files_layer", "get_blob", "get_manifest",
    "list_repositories", "list_tags", "push_image", "push_index", "seed_sample", "start_registry",
    "stop_engine",
]
