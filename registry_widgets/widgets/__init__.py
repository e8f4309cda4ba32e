"""Jupyter widgets over the verbs: tables of namespaces and images with action buttons,
a build panel, and a dashboard that links them.

Layer 4: imports only ``registry_widgets.operations`` verbs, ``reference``, ``errors`` and
``progress`` (never ``registry``, ``transport`` or HTTP). Table logic lives in ``tables``
as plain functions over DataFrames; the classes wire traits and callbacks.
"""

from .build_panel import BuildPanel
from .cleanup_panel import CleanupPanel
from .dashboard import Dashboard
from .feedback import MessageArea, ProgressView
from .image_table import ImageTable
from .namespace_table import NamespaceTable

__all__ = ["Dashboard", "NamespaceTable", "ImageTable", "BuildPanel", "CleanupPanel",
           "ProgressView", "MessageArea"]
