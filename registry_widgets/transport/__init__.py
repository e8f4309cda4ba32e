"""HTTP to registries, in one place: the session, auth, TLS, cancellation and error_for.

Layer 2. Only ``registry`` imports this package: the verbs and widgets reach the network
through ``registry`` (tests/test_layers.py enforces it). Its modules may import ``paths``,
``errors``, ``progress``, ``reference``, ``manifest`` and ``credentials``, and each other;
never ``registry``, ``operations`` or the widgets.

* ``session``: ``Transport``, one registry's requests (redirects, retries, timeouts).
* ``auth``: the Basic and Bearer challenge flows and the token cache.
* ``curl``: small GETs and HEADs on libcurl (HTTP/2 where offered), driven by the waiting
  workers themselves (no driver thread).
* ``tls``: which CA verifies a registry (``check_ca_file``), which hosts may skip TLS.
* ``cancel``: cutting the connections of a stopped worker (``abort_requests``).
* ``errors``: ``error_for``, where a failed response becomes this package's exception.
* ``origin``: hosts and origins (``origin_of``, ``is_loopback``).

Below, the names ``registry`` uses.
"""

from .auth import scopes_for
from .cancel import abort_requests, forget_requests, note_requests
from .session import DEFAULT_TIMEOUT, RETRY_STATUSES, Transport, check_timeout
from .tls import check_ca_file

__all__ = [
    "DEFAULT_TIMEOUT", "RETRY_STATUSES", "Transport", "abort_requests", "check_ca_file",
    "check_timeout", "forget_requests", "note_requests", "scopes_for",
]
