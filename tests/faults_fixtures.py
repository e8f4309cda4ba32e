"""Fixtures for the fault suites: a ``FaultProxy`` in front of a real registry.

Loaded with ``pytest_plugins = ["faults_fixtures"]`` by the test modules that need it. Each
test gets fresh package clients; the proxy's host is configured with a small retry budget
(``RETRIES`` retries, ``BACKOFF`` s) so that every fault test ends in a few seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from registry_widgets.operations.core import clients
from devstack import LocalRegistry
from tests.support.faultproxy import FaultProxy

RETRIES = 2
BACKOFF = 0.05
TIMEOUT = (3.0, 10.0)


@pytest.fixture(autouse=True)
def fresh_clients() -> Iterator[None]:
    clients.reset()
    yield
    clients.reset()


@pytest.fixture
def fault_proxy() -> Iterator[Callable[..., FaultProxy]]:
    """``fault_proxy(registry, credentials=None, **client_options)``: a proxy in front of that
    registry, its host configured for the package's clients; closed at the end of the test."""
    started: list[FaultProxy] = []

    def make(registry: LocalRegistry, *, credentials=None, **options) -> FaultProxy:
        proxy = FaultProxy.in_front_of(registry)
        started.append(proxy)
        options = {"retries": RETRIES, "backoff": BACKOFF, "timeout": TIMEOUT, **options}
        # The URL, not the host: the scheme is known, so no HTTPS probe shows up in the log.
        clients.configure(proxy.url, credentials=credentials, **options)
        return proxy

    yield make
    for proxy in started:
        proxy.close()


@pytest.fixture
def faulty_registry(registry_factory: Callable[..., LocalRegistry],
                    fault_proxy: Callable[..., FaultProxy]) -> FaultProxy:
    """A ``FaultProxy`` in front of a fresh, empty plain registry (``.registry``)."""
    return fault_proxy(registry_factory())
