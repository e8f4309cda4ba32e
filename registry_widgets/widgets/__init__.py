"""Jupyter widgets over the verbs: tables of namespaces and images with action buttons,
a build panel, and a dashboard that links them.

Layer 4: imports only ``registry_widgets.operations`` verbs, ``reference``, ``errors`` and
``progress`` (never ``registry``, ``transport`` or HTTP). Table logic lives in ``tables``
as plain functions over DataFrames; the classes wire traits and callbacks.
"""

from .build_panel import BuildPanel
from .dashboard import Dashboard
from .feedback import MessageArea, ProgressView
from .image_table import ImageTable
from .namespace_table import NamespaceTable
from .scan_panel import ScanPanel, security_status

__all__ = ["Dashboard", "NamespaceTable", "ImageTable", "BuildPanel", "ScanPanel", "security_status",
           "ProgressView", "MessageArea"]
