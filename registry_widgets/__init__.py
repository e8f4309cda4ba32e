"""registry_widgets: manage container images in OCI registries from Jupyter.

The public API is re-exported here. Layers, imported only downward:
``errors``/``progress`` -> ``reference``/``manifest`` (pure) -> ``registry`` (HTTP) and
``engine`` (Docker SDK) -> ``operations`` (the verbs) -> ``widgets``, ``runner`` and the
notebooks.
"""

import logging

from .credentials import Credentials
from .errors import *  # noqa: F401,F403
from .operations.clients import configure
from .operations.copy import copy, plan_copy
from .operations.inspection import check, inspect
from .operations.inventory import images
from .operations.journal import journal_path
from .operations.local import build, local_images, pull, push, remove_local, run, tag
from .operations.namespaces import (add_namespace, declared_namespaces, forget_namespace, namespaces,
                                    remember_repositories, remembered_repositories)
from .operations.backup import restore
from .operations.gc import collect_garbage, garbage_collection_help
from .operations.protection import protect, protected_patterns, unprotect
from .operations.retention import (remove_retention_policy, retention, retention_policies,
                                   set_retention_policy)
from .operations.usage import set_usage_limit, usage
from .operations.removal_plan import plan_remove
from .operations.remove import plan_remove_namespace, remove, remove_namespace
from .operations.result import Result
from .operations.sync import sync
from .operations.exemptions import add_exemption, load_exemptions, remove_exemption
from .operations.feeds import open_feed, publish_feed
from .operations.sbom import cyclonedx_json, sbom, sbom_table
from .operations.scan import scan
from .progress import ProgressEvent
from .reference import Reference, parse_reference
from .registry import RegistryClient

logging.getLogger(__name__).addHandler(logging.NullHandler())

__version__ = "0.1.0"


def __getattr__(name: str):
    # The widgets pull in ipywidgets and itables: load them only when asked for, so
    # headless scripts and the verbs stay light.
    if name in ("NamespaceTable", "ImageTable", "Dashboard", "BuildPanel", "ScanPanel",
                "CleanupPanel", "SyncPanel"):
        from . import widgets

        return getattr(widgets, name)
    raise AttributeError(f"module 'registry_widgets' has no attribute {name!r}")
