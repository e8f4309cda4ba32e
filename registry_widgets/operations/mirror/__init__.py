"""Mirroring: ``sync`` (repositories or a namespace to another registry) and its ``plan``.

Imports ``operations.core`` and ``operations.images`` (``copy``, accessories).
"""
