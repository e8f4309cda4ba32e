"""Jupyter widgets over the verbs: tables of namespaces and images with action buttons,
a build panel, a registry bar, a log-in panel, the trash, and a dashboard that links them.

Layer 4: imports only ``registry_widgets.operations`` verbs, ``reference``, ``errors``,
``progress`` and (for the username ``docker login`` stored) ``credentials``; never
``registry``, ``transport`` or HTTP. Table logic lives in ``tables`` as plain functions over
DataFrames; the classes wire traits and callbacks. Every panel runs its registry actions in
a worker thread: ``busy`` says so, ``wait()`` waits for them.
"""

from .build_panel import BuildPanel
from .cleanup_panel import CleanupPanel
from .dashboard import PANELS, Dashboard
from .image_table import ImageTable
from .login_panel import LoginPanel
from .messages import MessageArea
from .namespace_table import NamespaceTable
from .progress_view import ProgressView
from .registry_bar import RegistryBar
from .scan_panel import ScanPanel, security_status
from .sync_panel import SyncPanel
from .trash_panel import TrashPanel
from .details import SECTIONS, DetailView, security_cells
from .local_panel import LocalPanel

__all__ = ["Dashboard", "PANELS", "NamespaceTable", "ImageTable", "BuildPanel", "RegistryBar",
           "LoginPanel", "TrashPanel", "ScanPanel", "CleanupPanel", "SyncPanel",
           "security_status",
           "ProgressView", "MessageArea",
           "DetailView", "SECTIONS", "security_cells", "LocalPanel"]
