"""Clean-up: ``retention`` (keep the newest, remove the rest), ``usage`` (bytes per
namespace, limits), ``trash`` (what was removed and can come back) and ``gc`` (distribution's
garbage collection).

Imports ``operations.core`` and ``operations.images``.
"""
