"""HTTP to registries, in one place: the session, auth, TLS, cancellation and error_for.

Layer 2. Only ``registry`` imports this package; the verbs and widgets reach the network
through ``registry`` (tests/test_layers.py enforces it). Its modules import ``errors``,
``progress``, ``reference``, ``manifest`` and ``credentials``, and each other; never
``registry``, ``operations`` or ``widgets``.
"""

from .auth import scopes_for
from .session import (DEFAULT_TIMEOUT, RETRY_STATUSES, Transport, abort_requests, check_ca_file,
                      check_timeout, forget_requests, note_requests)

__all__ = [
    "DEFAULT_TIMEOUT", "RETRY_STATUSES", "Transport", "abort_requests", "check_ca_file",
    "check_timeout", "forget_requests", "note_requests", "scopes_for",
]
