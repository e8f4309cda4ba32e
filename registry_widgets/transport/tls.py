"""Which CA verifies a registry, and which hosts may skip TLS.

Part of ``transport``: imports ``errors``. The CA file comes from ``ca_bundle=``,
``REGISTRY_WIDGETS_CA_BUNDLE`` or Docker's ``certs.d`` convention and is checked up front
(``check_ca_file``), so a wrong path fails with a message naming where it came from rather
than as a TLS failure at the first request. Plain HTTP is allowed for loopback hosts and for
the hosts the user lists (``insecure_hosts=`` or ``REGISTRY_WIDGETS_INSECURE``).
"""

from __future__ import annotations

import os
from typing import Any

from .. import paths
from ..errors import ConfigurationError

PEM_MARKER = b"-----BEGIN CERTIFICATE-----"


def insecure_hosts_from_env() -> set[str]:
    """Hosts the user allows over plain HTTP: ``REGISTRY_WIDGETS_INSECURE=a:5000,b``."""
    return paths.insecure_hosts()


def check_ca_file(path: Any, source: str) -> str:
    """The CA file ``path`` if it exists and holds PEM certificates, else ConfigurationError
    naming where the path came from (requests would only say so at the first request, as a
    raw OSError, or report a TLS failure)."""
    if not isinstance(path, (str, os.PathLike)):
        raise ConfigurationError(f"{source} must be a path to a PEM file, not "
                                 f"{type(path).__name__}")
    path = os.fspath(path)
    try:
        with open(path, "rb") as handle:
            head = handle.read(1 << 20)
    except FileNotFoundError:
        raise ConfigurationError(f"the CA file {path} ({source}) does not exist: give the path "
                                 "of the registry's CA certificate in PEM form") from None
    except IsADirectoryError:
        raise ConfigurationError(f"the CA file {path} ({source}) is a directory: give the path "
                                 "of the CA certificate file (PEM) inside it") from None
    except OSError as e:
        raise ConfigurationError(f"cannot read the CA file {path} ({source}): "
                                 f"{e.strerror or type(e).__name__}") from None
    if PEM_MARKER not in head:
        raise ConfigurationError(
            f"the CA file {path} ({source}) is not PEM: it has no '-----BEGIN CERTIFICATE-----' "
            "block. A DER file converts with `openssl x509 -inform der -in FILE -out ca.pem`")
    return path


def docker_ca_bundle(host: str) -> str | None:
    """Docker's per-registry CA convention: ``/etc/docker/certs.d/<host>/ca.crt``."""
    for base in paths.certs_d_dirs():
        candidate = base / host / "ca.crt"
        if candidate.is_file():
            return str(candidate)
    return None
