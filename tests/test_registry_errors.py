"""What goes wrong, and what the user is told: one row per failure, from the input to the message.

Each row names the error class and the words a person needs to act on; every message about a
registry request also names the registry host and the repository. Real registries give the
real failures (unknown host, refused port, TLS, credentials, 404, 405). The two fakes are
servers a registry can never be: a web server answering HTML, and one answering broken JSON.
"""

from __future__ import annotations

import socket
import threading
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from registry_widgets.errors import (DeleteDisabled, Denied, InsecureRegistry, NotFound,
                                     ProtocolError, RegistryWidgetsError, Unauthorized,
                                     Unreachable)
from registry_widgets.manifest import OCI_MANIFEST, Manifest, digest_of
from registry_widgets.registry import RegistryClient
from tests.support import push_image

WRONG_PASSWORD = "wrong-Pw-7Qz"


# -- servers a registry can never be -----------------------------------------------------------

def _serve(status_for: Callable[[str], int], content_type: str, body: bytes) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self, with_body: bool) -> None:
            self.send_response(status_for(self.path))
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if with_body:
                self.wfile.write(body)

        def do_GET(self) -> None:
            self._answer(True)

        def do_HEAD(self) -> None:
            self._answer(False)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def html_server_200() -> Iterator[str]:
    """A web server (a login portal, say) answering 200 and an HTML page to everything."""
    yield from _serve(lambda path: 200, "text/html; charset=utf-8",
                      b"<!DOCTYPE html><html><body><h1>Sign in</h1></body></html>")


@pytest.fixture
def html_server_404() -> Iterator[str]:
    """A web server whose /v2/ is a page, and everything else an HTML 404."""
    yield from _serve(lambda path: 200 if path == "/v2/" else 404, "text/html",
                      b"<html><body>Not Found</body></html>")


@pytest.fixture
def broken_json_server() -> Iterator[str]:
    """Claims to be JSON, sends half a tag list."""
    yield from _serve(lambda path: 200, "application/json", b'{"name": "x", "tags": ["v1", ')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- the table ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    """``act(request, repo)`` returns the registry host the message must name and the failing
    call; ``named`` says whether the message must name the host and repository too."""
    id: str
    error: type[RegistryWidgetsError]
    words: tuple[str, ...]
    act: Callable[[pytest.FixtureRequest, str], tuple[str, Callable[[], object]]]
    named: bool = True


def fixture(request: pytest.FixtureRequest, name: str):
    return request.getfixturevalue(name)


def unknown_host(request, repo):
    client = RegistryClient("no-such-host.invalid", retries=0)
    return client.registry, lambda: list(client.tags(repo))


def refused_port(request, repo):
    client = RegistryClient(f"127.0.0.1:{free_port()}", retries=0)
    return client.registry, lambda: client.get_manifest(repo, "v1")


def tls_without_ca(request, repo):
    reg = fixture(request, "basic_registry")
    client = RegistryClient(reg.host, credentials=reg.auth)
    return reg.host, lambda: client.get_manifest(repo, "v1")


def wrong_basic_password(request, repo):
    reg = fixture(request, "basic_registry")
    client = RegistryClient(reg.host, credentials=(reg.username, WRONG_PASSWORD),
                            ca_bundle=str(reg.ca_file))
    return reg.host, lambda: client.get_manifest(repo, "v1")


def wrong_token_password(request, repo):
    reg = fixture(request, "token_registry")
    client = RegistryClient(reg.host, credentials=(reg.username, WRONG_PASSWORD))
    return reg.host, lambda: list(client.tags(repo))


def anonymous_on_basic(request, repo):
    reg = fixture(request, "basic_registry")
    client = RegistryClient(reg.host, ca_bundle=str(reg.ca_file))
    return reg.host, lambda: list(client.tags(repo))


def pull_only_user_pushes(request, repo):
    reg = fixture(request, "token_registry")
    client = RegistryClient(reg.host, credentials=("bob", reg.token_server.users["bob"]))
    return reg.host, lambda: client.upload_blob(repo, digest_of(b"x"), b"x", 1)


def missing_repository(request, repo):
    reg = fixture(request, "registry")
    client = RegistryClient(reg.host)
    return reg.host, lambda: list(client.tags(repo))


def missing_tag(request, repo):
    reg = fixture(request, "registry")
    push_image(reg, repo, "v1", layer_sizes=(16,))
    client = RegistryClient(reg.host)
    return reg.host, lambda: client.get_manifest(repo, "no-such-tag")


def missing_manifest_digest(request, repo):
    reg = fixture(request, "registry")
    push_image(reg, repo, "v1", layer_sizes=(16,))
    client = RegistryClient(reg.host)
    return reg.host, lambda: client.get_manifest(repo, digest_of(b"no such manifest"))


def missing_blob(request, repo):
    reg = fixture(request, "registry")
    push_image(reg, repo, "v1", layer_sizes=(16,))
    client = RegistryClient(reg.host)
    return reg.host, lambda: client.get_blob(repo, digest_of(b"no such blob"))


def delete_disabled(request, repo):
    reg = fixture(request, "nodelete_registry")
    image = push_image(reg, repo, "v1", layer_sizes=(16,))
    client = RegistryClient(reg.host)
    return reg.host, lambda: client.delete_manifest(repo, image.digest)


def unknown_media_type(request, repo):
    return "", lambda: Manifest(b'{"schemaVersion": 1}',
                                "application/vnd.docker.distribution.manifest.v1+prettyjws")


def plain_http_to_a_remote_host(request, repo):
    return "registry.example.com:5000", lambda: RegistryClient("http://registry.example.com:5000")


def html_page(request, repo):
    host = fixture(request, "html_server_200")
    client = RegistryClient(host, retries=0)
    return host, lambda: list(client.tags(repo))


def html_page_for_a_manifest(request, repo):
    host = fixture(request, "html_server_200")
    client = RegistryClient(host, retries=0)
    return host, lambda: client.get_manifest(repo, "v1")


def html_not_found(request, repo):
    host = fixture(request, "html_server_404")
    client = RegistryClient(host, retries=0)
    return host, lambda: client.get_manifest(repo, "v1")


def broken_json_tag_list(request, repo):
    host = fixture(request, "broken_json_server")
    client = RegistryClient(host, retries=0)
    return host, lambda: list(client.tags(repo))


CASES = [
    Case("unknown host", Unreachable, ("cannot resolve", "spelling"), unknown_host),
    Case("refused port", Unreachable, ("refused", "running"), refused_port),
    Case("TLS without the CA", Unreachable, ("TLS", "ca_bundle"), tls_without_ca),
    Case("wrong password (basic)", Unauthorized, ("unauthorized", "docker login"),
         wrong_basic_password),
    Case("wrong password (token server)", Unauthorized, ("refused to log in", "docker login"),
         wrong_token_password),
    Case("no credentials", Unauthorized, ("authentication required", "docker login"),
         anonymous_on_basic),
    Case("pull-only user pushes", Denied, ("lack permission", "push"), pull_only_user_pushes),
    Case("missing repository", NotFound, ("not found", "repository"), missing_repository),
    Case("missing tag", NotFound, ("not found", "no-such-tag"), missing_tag),
    Case("missing manifest digest", NotFound, ("not found", "sha256:"), missing_manifest_digest),
    Case("missing blob", NotFound, ("not found", "blob unknown"), missing_blob),
    Case("delete disabled", DeleteDisabled, ("does not allow deletes", "delete: enabled: true"),
         delete_disabled),
    Case("unknown manifest media type", ProtocolError,
         ("unsupported manifest media type", "manifest.v1+prettyjws", OCI_MANIFEST),
         unknown_media_type, named=False),
    Case("plain http to a remote host", InsecureRegistry, ("plain HTTP", "insecure_hosts"),
         plain_http_to_a_remote_host, named=False),
    Case("HTML page instead of the API", ProtocolError, ("HTML", "is that address a registry"),
         html_page),
    Case("HTML page instead of a manifest", ProtocolError, ("HTML",), html_page_for_a_manifest),
    Case("HTML 404 page", ProtocolError, ("HTML", "404"), html_not_found),
    Case("broken JSON tag list", ProtocolError, ("not the registry's JSON",),
         broken_json_tag_list),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_failure_gives_an_error_a_person_can_act_on(case: Case, request, unique_repo):
    host, call = case.act(request, unique_repo)

    with pytest.raises(case.error) as caught:
        call()

    message = str(caught.value)
    for word in case.words:
        assert word in message
    assert host in message
    if case.named:
        assert unique_repo in message
        assert caught.value.registry == host
    for text in (message, repr(caught.value), "".join(traceback.format_exception(caught.value))):
        assert WRONG_PASSWORD not in text
        for name in ("basic_registry", "token_registry"):
            if name in request.fixturenames:
                assert fixture(request, name).password not in text
