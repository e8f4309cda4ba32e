"""Stopping a request from another thread: cut the connections a pool worker is using.

Part of ``transport``; imports nothing of the package. A cancelled copy must not wait for a
worker that is blocked in a socket call: sending the last bytes of a body the kernel has
buffered, or waiting minutes for a registry to answer an upload. A pool worker's connections
are noted while it runs an item (a copy uses two at once: the source GET streams inside the
target PUT), so the pool can cut them. ``_Adapter`` is how requests' connections get noted
(cut by shutting their socket down); the small-request path (``transport.curl``) is handed
``_note`` and ``_stopped`` and notes each request, which it cuts itself (``cut()``: the
request leaves libcurl's multi handle and fails with ``Cancelled``).

``_in_flight`` and ``_aborted`` are this process's one record of that: they are only ever
mutated in place, never rebound, so every module that imported the functions below sees the
same state.
"""

from __future__ import annotations

import socket
import threading
from typing import Any, Iterable

import urllib3
from requests.adapters import HTTPAdapter

_in_flight: dict[int, list[Any]] = {}  # worker thread ident -> connections (requests) of its item
_aborted: set[int] = set()  # worker threads whose item was stopped: no retry, no new request


def _note(connection: Any) -> None:
    noted = _in_flight.get(threading.get_ident())
    if noted is not None:  # only threads that asked (pool workers); others leave no trace
        noted.append(connection)


class _NotedHTTPConnection(urllib3.connection.HTTPConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        _note(self)
        super().request(*args, **kwargs)


class _NotedHTTPSConnection(urllib3.connection.HTTPSConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        _note(self)
        super().request(*args, **kwargs)


class _NotedHTTPConnectionPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _NotedHTTPConnection


class _NotedHTTPSConnectionPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _NotedHTTPSConnection


class _Adapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _NotedHTTPConnectionPool,
                                                   "https": _NotedHTTPSConnectionPool}


def abort_requests(threads: Iterable[int]) -> None:
    """Cut the connections ``threads`` are using, so that a thread blocked sending or
    waiting for an answer fails at once with a connection error (a stopped worker)."""
    for ident in threads:
        if ident in _in_flight:
            _aborted.add(ident)  # a cut request must not be retried on a new connection
        for connection in list(_in_flight.get(ident) or ()):
            cut = getattr(connection, "cut", None)
            if cut is not None:  # a libcurl request (transport.curl)
                cut()
                continue
            sock = getattr(connection, "sock", None)
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def note_requests() -> None:
    """From now on, note the connections the calling thread uses (a pool worker's item)."""
    _in_flight[threading.get_ident()] = []


def forget_requests() -> None:
    """The calling thread is done with its item: stop noting its connections."""
    ident = threading.get_ident()
    _in_flight.pop(ident, None)
    _aborted.discard(ident)


def _stopped() -> bool:
    """Whether the calling thread's item was stopped by ``abort_requests``."""
    return threading.get_ident() in _aborted
