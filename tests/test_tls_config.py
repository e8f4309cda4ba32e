"""Where TLS trust and plain HTTP come from: Docker's certs.d, and the insecure allow-list.

The HTTPS registry is the real basic-auth one with its private CA. For plain HTTP to a host that
is not loopback, the name ``registry.test`` is made to resolve to 127.0.0.1 in this process (a
resolver stand-in only: the registry and every request are real).
"""

from __future__ import annotations

import shutil
import socket

import pytest

from registry_widgets.errors import InsecureRegistry, Unreachable
from registry_widgets.registry import RegistryClient
from registry_widgets.transport import curl
from tests.support import push_image


@pytest.fixture
def image_on_basic(basic_registry, unique_repo):
    return push_image(basic_registry, unique_repo, "1.0", layer_sizes=(256,), seed=unique_repo)


def put_ca(base, host: str, ca_file) -> None:
    (base / host).mkdir(parents=True)
    shutil.copy(ca_file, base / host / "ca.crt")


@pytest.mark.parametrize("where", ["REGISTRY_WIDGETS_CERTS_D", "~/.docker/certs.d"])
def test_a_ca_in_docker_certs_d_is_trusted_for_its_host(where, basic_registry, image_on_basic,
                                                        unique_repo, tmp_path, monkeypatch):
    if where == "REGISTRY_WIDGETS_CERTS_D":
        base = tmp_path / "certs.d"
        monkeypatch.setenv("REGISTRY_WIDGETS_CERTS_D", str(base))
    else:
        monkeypatch.setenv("HOME", str(tmp_path))
        base = tmp_path / ".docker" / "certs.d"
    put_ca(base, basic_registry.host, basic_registry.ca_file)

    client = RegistryClient(basic_registry.host, credentials=basic_registry.auth, retries=0)

    assert client.get_manifest(unique_repo, "1.0").digest == image_on_basic.digest


def test_a_ca_filed_under_another_host_is_not_used(basic_registry, image_on_basic, unique_repo,
                                                   tmp_path, monkeypatch):
    base = tmp_path / "certs.d"
    monkeypatch.setenv("REGISTRY_WIDGETS_CERTS_D", str(base))
    monkeypatch.setenv("HOME", str(tmp_path))
    put_ca(base, "127.0.0.1", basic_registry.ca_file)  # Docker's directory names carry the port

    client = RegistryClient(basic_registry.host, credentials=basic_registry.auth, retries=0)
    with pytest.raises(Unreachable) as caught:
        client.get_manifest(unique_repo, "1.0")
    message = str(caught.value)
    assert "TLS" in message and f"certs.d/{basic_registry.host}/ca.crt" in message


@pytest.fixture
def registry_test(monkeypatch, registry):
    """Resolve ``registry.test`` to 127.0.0.1 (every other name as usual): for requests
    through Python's resolver, and for libcurl (the small requests), which has its own."""
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        return real("127.0.0.1" if host == "registry.test" else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(curl, "RESOLVE", [f"registry.test:{registry.port}:127.0.0.1"])
    return "registry.test"


def test_plain_http_to_a_host_that_is_not_loopback_is_refused(registry, registry_test,
                                                              unique_repo, monkeypatch):
    monkeypatch.delenv("REGISTRY_WIDGETS_INSECURE", raising=False)
    push_image(registry, unique_repo, "1.0", layer_sizes=(256,), seed=unique_repo)
    host = f"registry.test:{registry.port}"
    with pytest.raises(InsecureRegistry):
        RegistryClient(f"http://{host}")
    client = RegistryClient(host, retries=0)  # no scheme: HTTPS only, no fallback
    with pytest.raises(Unreachable) as caught:
        client.get_manifest(unique_repo, "1.0")
    assert host in str(caught.value)


@pytest.mark.parametrize("how", ["REGISTRY_WIDGETS_INSECURE", "insecure_hosts="])
def test_a_listed_host_may_use_plain_http(how, registry, registry_test, unique_repo,
                                          monkeypatch):
    image = push_image(registry, unique_repo, "1.0", layer_sizes=(256,), seed=unique_repo)
    host = f"registry.test:{registry.port}"
    options = {}
    if how == "REGISTRY_WIDGETS_INSECURE":
        monkeypatch.setenv("REGISTRY_WIDGETS_INSECURE", f"other.test:5000, {host}")
    else:
        options["insecure_hosts"] = [host]

    client = RegistryClient(host, retries=0, **options)

    assert client.get_manifest(unique_repo, "1.0").digest == image.digest
    assert client.transport.base_url == f"http://{host}"


def test_the_allow_list_is_per_host_and_port(registry, registry_test, unique_repo, monkeypatch):
    monkeypatch.setenv("REGISTRY_WIDGETS_INSECURE", "registry.test")  # no port: another entry
    push_image(registry, unique_repo, "1.0", layer_sizes=(256,), seed=unique_repo)
    with pytest.raises(InsecureRegistry):
        RegistryClient(f"http://registry.test:{registry.port}")
