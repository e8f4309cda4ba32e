"""registry_widgets: manage container images in OCI registries from Jupyter.

The public API is re-exported here and listed in ``__all__``, grouped as README presents it.
Layers, imported only downward (tests/test_layers.py enforces it):
``errors``/``progress``/``paths`` -> ``reference``/``manifest`` (pure) -> ``credentials``,
``transport`` (HTTP), ``registry`` (the OCI client) and ``engine`` (Docker SDK) ->
``operations.core`` (machinery) -> ``operations.images`` and ``operations.security`` (verbs)
-> ``operations.cleanup`` and ``operations.mirror`` -> ``widgets``, ``runner`` and the notebooks.
"""

import logging

from .credentials import Credentials
from .errors import *  # noqa: F401,F403
from .errors import __all__ as _errors
from .operations.cleanup.gc import collect_garbage, garbage_collection_help
from .operations.cleanup.prune import plan_prune, prune
from .operations.cleanup.retention import (remove_retention_policy, retention, retention_policies,
                                           set_retention_policy)
from .operations.cleanup.trash import trash
from .operations.cleanup.usage import set_usage_limit, usage
from .operations.core.backup import restore
from .operations.core.clients import configure
from .operations.core.journal import journal_path
from .operations.core.result import Result
from .operations.images.copy import copy, plan_copy
from .operations.images.inspect import check, inspect
from .operations.images.inventory import images
from .operations.images.local import build, local_images, pull, push, remove_local, run, tag
from .operations.images.namespaces import (add_namespace, declared_namespaces, forget_namespace,
                                           namespaces, remember_repositories,
                                           remembered_repositories)
from .operations.images.protection import protect, protected_patterns, unprotect
from .operations.images.remove import plan_remove_namespace, remove, remove_namespace
from .operations.images.remove_plan import plan_remove
from .operations.mirror.sync import sync
from .operations.security.exemptions import add_exemption, load_exemptions, remove_exemption
from .operations.security.osv import open_feed, publish_feed
from .operations.security.sbom import cyclonedx_json, sbom, sbom_table
from .operations.security.scan import scan
from .progress import ProgressEvent
from .reference import Reference, parse_reference
from .registry import RegistryClient

logging.getLogger(__name__).addHandler(logging.NullHandler())

__version__ = "0.1.0"

# The widgets pull in ipywidgets and itables: they load only when asked for (see __getattr__),
# so headless scripts and the verbs stay light.
_WIDGETS = ("Dashboard", "NamespaceTable", "ImageTable", "BuildPanel", "CleanupPanel",
            "SyncPanel", "ScanPanel")

__all__ = [
    # Setup: credentials and connection options
    "configure", "Credentials",
    # Images and namespaces: list, inspect, move
    "images", "namespaces", "inspect", "check", "copy", "plan_copy",
    "add_namespace", "forget_namespace", "declared_namespaces",
    "remember_repositories", "remembered_repositories",
    # The local engine
    "pull", "tag", "push", "build", "run", "local_images", "remove_local",
    # Removal and undo
    "remove", "plan_remove", "remove_namespace", "plan_remove_namespace", "restore",
    "trash", "journal_path",
    # Lifecycle
    "retention", "retention_policies", "set_retention_policy", "remove_retention_policy",
    "protect", "unprotect", "protected_patterns", "usage", "set_usage_limit",
    "prune", "plan_prune", "collect_garbage", "garbage_collection_help",
    # Mirroring
    "sync",
    # Security
    "sbom", "sbom_table", "cyclonedx_json", "scan", "open_feed", "publish_feed",
    "add_exemption", "remove_exemption", "load_exemptions",
    # Widgets
    *_WIDGETS,
    # Types: references, results, progress, the low-level client
    "Reference", "parse_reference", "Result", "ProgressEvent", "RegistryClient",
    # Errors (registry_widgets.errors)
    *_errors,
]


def __getattr__(name: str):
    if name in _WIDGETS:
        from . import widgets

        return getattr(widgets, name)
    raise AttributeError(f"module 'registry_widgets' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
