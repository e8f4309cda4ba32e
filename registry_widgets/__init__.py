"""registry_widgets: manage container images in OCI registries from Jupyter.

The public API is re-exported here and listed in ``__all__``, grouped as README presents it.
Layers, imported only downward (tests/test_layers.py enforces it):
``errors``/``progress``/``paths`` -> ``reference``/``manifest`` (pure) -> ``credentials``,
``transport`` (HTTP), ``registry`` (the OCI client) and ``engine`` (Docker SDK) ->
``operations.core`` (machinery) -> ``operations.images`` and ``operations.security`` (verbs)
-> ``operations.cleanup`` and ``operations.mirror`` -> ``widgets``, ``runner`` and the notebooks.
"""

import importlib
import logging
from typing import Any

from .errors import *  # noqa: F401,F403
from .errors import __all__ as _errors
from .progress import ProgressEvent
from .reference import Reference, parse_reference

logging.getLogger(__name__).addHandler(logging.NullHandler())

__version__ = "0.1.0"

# Where each public name lives. They are imported when first used (PEP 562 ``__getattr__``),
# so ``import registry_widgets`` costs little and a headless copy never loads pandas or the
# widgets (ipywidgets, itables), which only the tables and panels need.
_HOME = {
    ".credentials": ("Credentials",),
    ".registry": ("RegistryClient",),
    ".operations.core.clients": ("configure",),
    ".operations.core.journal": ("journal_path",),
    ".operations.core.result": ("Result",),
    ".operations.core.backup": ("restore",),
    ".operations.images.copy": ("copy", "plan_copy"),
    ".operations.images.inspect": ("check", "inspect"),
    ".operations.images.inventory": ("images",),
    ".operations.images.local": ("build", "local_images", "pull", "push", "remove_local", "run",
                                 "tag"),
    ".operations.images.namespaces": ("add_namespace", "declared_namespaces", "forget_namespace",
                                      "namespaces", "remember_repositories",
                                      "remembered_repositories"),
    ".operations.images.protection": ("protect", "protected_patterns", "unprotect"),
    ".operations.images.remove": ("plan_remove_namespace", "remove", "remove_namespace"),
    ".operations.images.remove_plan": ("plan_remove",),
    ".operations.cleanup.gc": ("collect_garbage", "garbage_collection_help"),
    ".operations.cleanup.prune": ("plan_prune", "prune"),
    ".operations.cleanup.retention": ("remove_retention_policy", "retention",
                                      "retention_policies", "set_retention_policy"),
    ".operations.cleanup.trash": ("trash",),
    ".operations.cleanup.usage": ("ibm_usage", "set_usage_limit", "usage"),
    ".operations.mirror.sync": ("sync",),
    ".operations.security.exemptions": ("add_exemption", "load_exemptions", "remove_exemption"),
    ".operations.security.osv": ("open_feed", "publish_feed"),
    ".operations.security.sbom": ("cyclonedx_json", "sbom", "sbom_table"),
    ".operations.security.scan": ("scan",),
    ".operations.contents.files": ("files", "read_file"),
    ".operations.contents.diff": ("diff",),
    ".operations.images.artifacts": ("artifact_files", "pull_artifact", "push_artifact"),
    ".operations.images.mutate": ("mutate",),
    ".widgets": ("Dashboard", "NamespaceTable", "ImageTable", "BuildPanel", "CleanupPanel",
                 "SyncPanel", "ScanPanel"),
    ".vendors": ("IBM_REGIONS", "use_vendor_api"),
    ".operations.images.ibm_cloud": ("ibm_add_namespace", "ibm_namespaces", "ibm_quota",
                                     "ibm_remove_namespace", "ibm_trash",
                                     "plan_ibm_remove_namespace", "pulls_left"),
}
_WHERE = {name: module for module, names in _HOME.items() for name in names}
_WIDGETS = _HOME[".widgets"]

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
    # What is inside an image; artifacts (models, datasets); config changes without a rebuild
    "files", "read_file", "diff", "push_artifact", "pull_artifact", "artifact_files", "mutate",
    # Widgets
    *_WIDGETS,
    # Types: references, results, progress, the low-level client
    "Reference", "parse_reference", "Result", "ProgressEvent", "RegistryClient",
    # Errors (registry_widgets.errors)
    *_errors,
    # Vendor APIs: Harbor, Docker Hub, IBM Cloud Container Registry
    "use_vendor_api", "IBM_REGIONS", "pulls_left", "ibm_namespaces", "ibm_add_namespace",
    "plan_ibm_remove_namespace", "ibm_remove_namespace", "ibm_quota", "ibm_trash", "ibm_usage",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'registry_widgets' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # the next use is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if __name__ == "registry_widgets":  # a name in __all__ without a home would fail late
    assert set(__all__) == set(_WHERE) | {"Reference", "parse_reference", "ProgressEvent"} \
        | set(_errors), "registry_widgets.__all__ and _HOME disagree"
