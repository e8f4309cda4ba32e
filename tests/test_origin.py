"""Credentials stay on their registry's origin (scheme, host and port).

A real registry (Basic over HTTPS, or Bearer with its token server) sits behind a
``FaultProxy``, which makes it hand out URLs on a second loopback port: a blob redirect, a
pagination ``Link``, an upload ``Location``, and a redirect to a server that answers with a
Bearer challenge of its own. That second port is a recorder: it keeps every request's
headers. Whatever the registry points at, no ``Authorization`` header and no cookie of the
registry ever reaches it, while the registry itself keeps getting them (the proxy's log).
The two ports share a host name, so a cookie jar matching on domains alone would leak.
And the other way round: a recorder on another host (127.0.0.2) on the SAME port as the
registry's front, so that an origin check comparing only scheme and port would leak.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from registry_widgets.errors import Unauthorized
from registry_widgets.operations.core import clients
from tests.support import push_image
from tests.support.faultproxy import FaultProxy, Respond

pytest_plugins = ["faults_fixtures"]

LAYER = b"a layer that object storage serves " * 100
COOKIE_VALUE = "rw_session=cookie-secret-4821"
COOKIE = COOKIE_VALUE + "; Path=/"


class Recorder:
    """The other origin: records every request, answers as object storage or a registry
    page would."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.blobs: dict[str, bytes] = {}
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                recorder.requests.append((self.command, self.path,
                                          {k.lower(): v for k, v in self.headers.items()}))
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                status, headers, body = recorder.answer(self.command, self.path)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = _handle

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def answer(self, method: str, path: str) -> tuple[int, dict[str, str], bytes]:
        if path.startswith("/blob/"):
            return 200, {"Content-Type": "application/octet-stream"}, self.blobs[path[6:]]
        if path.startswith("/page2"):
            return 200, {"Content-Type": "application/json"}, json.dumps(
                {"name": "x", "tags": ["from-page-2"]}).encode()
        if path.startswith("/upload"):
            return (204 if method == "GET" else 201), {}, b""
        if path.startswith("/challenge"):
            return 401, {"WWW-Authenticate": f'Bearer realm="{self.url}/token",service="evil"',
                         "Content-Type": "application/json"}, b'{"errors": []}'
        return 200, {"Content-Type": "application/json"}, b'{"token": "t"}'  # /token

    def leaked(self) -> list[str]:
        """Every Authorization or Cookie header that reached this origin."""
        return [f"{method} {path}: {name}" for method, path, headers in self.requests
                for name in ("authorization", "cookie") if name in headers]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    yield server
    server.close()


@pytest.fixture(params=["basic", "bearer"])
def authed(request, fault_proxy, unique_repo):
    """(proxy, client, image): a client logged in to a registry of that auth kind, through a
    proxy that can make the registry point elsewhere."""
    registry = request.getfixturevalue("basic_registry" if request.param == "basic"
                                       else "token_registry")
    image = push_image(registry, unique_repo, "1.0", layers=[LAYER])
    proxy = fault_proxy(registry, credentials=registry.auth)
    client = clients.client_for(proxy.host)
    client.ping()  # learn the challenge: from now on every request carries credentials
    assert client.transport.auth.scheme == request.param
    return proxy, client, image


def _own_requests_were_authenticated(proxy) -> None:
    later = [e for e in proxy.log if e.path != "/v2/"]
    assert later and all("authorization" in e.headers for e in later), \
        [(e.method, e.path) for e in later if "authorization" not in e.headers]


def test_a_blob_redirect_to_another_origin_is_followed_without_credentials(authed, recorder,
                                                                         unique_repo):
    proxy, client, image = authed
    blob = image.layers[0]
    recorder.blobs[blob.digest] = LAYER
    proxy.add_rule("GET", f"/blobs/{blob.digest}", Respond(
        307, headers={"Location": f"{recorder.url}/blob/{blob.digest}?X-Signature=s3cr3t",
                      "Set-Cookie": COOKIE}))

    assert client.get_blob(unique_repo, blob.digest) == LAYER

    assert [(m, p.split("?")[0]) for m, p, _ in recorder.requests] == \
        [("GET", f"/blob/{blob.digest}")]
    assert recorder.leaked() == []
    _own_requests_were_authenticated(proxy)


def test_a_pagination_link_to_another_origin_carries_no_credentials(authed, recorder,
                                                                   unique_repo):
    proxy, client, _ = authed
    page1 = json.dumps({"name": unique_repo, "tags": ["from-page-1"]})
    proxy.add_rule("GET", "/tags/list", Respond.json(
        page1, Link=f'<{recorder.url}/page2?last=from-page-1>; rel="next"', **{
            "Set-Cookie": COOKIE}))

    assert list(client.tags(unique_repo)) == ["from-page-1", "from-page-2"]

    assert [p for _, p, _ in recorder.requests] == ["/page2?last=from-page-1"]
    assert recorder.leaked() == []
    # The registry's own cookie still goes back to the registry.
    client.ping()
    assert COOKIE_VALUE in proxy.log[-1].headers.get("cookie", "")
    _own_requests_were_authenticated(proxy)


def test_an_upload_location_on_another_origin_carries_no_credentials(authed, recorder,
                                                                    unique_repo):
    proxy, client, _ = authed
    proxy.add_rule("POST", "/blobs/uploads/", Respond(
        202, headers={"Location": f"{recorder.url}/upload/1?_state=abc"}), times=None)
    data = b"an upload that goes elsewhere"
    digest = "sha256:" + hashlib.sha256(data).hexdigest()

    client.upload_blob(unique_repo, digest, data, len(data))
    location = client.start_upload(unique_repo)
    client.upload_blob(unique_repo, digest, iter([data]), len(data), location=location)

    assert [(m, p.split("?")[0]) for m, p, _ in recorder.requests] == \
        [("PUT", "/upload/1"), ("GET", "/upload/1"), ("PUT", "/upload/1")]
    assert recorder.leaked() == []
    _own_requests_were_authenticated(proxy)


def test_a_challenge_from_another_origin_is_not_answered(authed, recorder, unique_repo):
    proxy, client, image = authed
    proxy.add_rule("GET", "/manifests/1.0", Respond(
        302, headers={"Location": f"{recorder.url}/challenge"}))

    with pytest.raises(Unauthorized) as caught:
        client.get_manifest(unique_repo, "1.0")

    message = str(caught.value)
    assert "another origin" in message and "never sent" in message
    assert "s3cr3t" not in message
    # Its "realm" was never asked for a token: the password would have gone with it.
    assert [p for _, p, _ in recorder.requests] == ["/challenge"]
    assert recorder.leaked() == []


def test_leaving_tls_for_plain_http_on_another_host_is_refused():
    # No request is needed to see the rule: an HTTPS registry's hop to plain HTTP elsewhere
    # (a non-loopback host nobody listed as insecure) is refused before it is sent.
    from registry_widgets.errors import InsecureRegistry
    from registry_widgets.transport import Transport

    transport = Transport("https://registry.example.com")
    with pytest.raises(InsecureRegistry, match="refusing to leave TLS.*storage.example.com"):
        transport._check_foreign("http://storage.example.com/blob?sig=x",  # noqa: SLF001
                                 "https://registry.example.com/v2/a/blobs/sha256:0", "")
    allowed = Transport("https://registry.example.com", insecure_hosts=["storage.example.com"])
    allowed._check_foreign("http://storage.example.com/blob",  # noqa: SLF001
                           "https://registry.example.com/v2/a/blobs/sha256:0", "")


# -- another host on the same port ------------------------------------------------------------

@pytest.fixture(params=["basic", "bearer"])
def same_port(request, unique_repo):
    """(proxy, client, image, recorder): the registry's front on 127.0.0.1:P and a recorder
    on 127.0.0.2:P, the same scheme and port; a client logged in through the front."""
    registry = request.getfixturevalue("basic_registry" if request.param == "basic"
                                       else "token_registry")
    image = push_image(registry, unique_repo, "1.0", layers=[LAYER])
    for _ in range(20):  # P must be free on both addresses
        recorder = Recorder("127.0.0.2", 0)
        try:
            proxy = FaultProxy.in_front_of(registry, port=recorder.server.server_address[1])
        except OSError:
            recorder.close()
            continue
        break
    else:
        pytest.fail("no port was free on both 127.0.0.1 and 127.0.0.2")
    try:
        clients.configure(proxy.url, credentials=registry.auth, retries=2, backoff=0.05,
                          timeout=(3.0, 10.0))
        client = clients.client_for(proxy.host)
        client.ping()  # learn the challenge: from now on every request carries credentials
        assert client.transport.auth.scheme == request.param
        assert recorder.url == f"http://127.0.0.2:{proxy.port}"
        yield proxy, client, image, recorder
    finally:
        proxy.close()
        recorder.close()


def test_a_blob_redirect_to_another_host_on_the_same_port_carries_no_credentials(same_port,
                                                                                unique_repo):
    proxy, client, image, recorder = same_port
    blob = image.layers[0]
    recorder.blobs[blob.digest] = LAYER
    proxy.add_rule("GET", f"/blobs/{blob.digest}", Respond(
        307, headers={"Location": f"{recorder.url}/blob/{blob.digest}", "Set-Cookie": COOKIE}))

    assert client.get_blob(unique_repo, blob.digest) == LAYER

    assert [(m, p) for m, p, _ in recorder.requests] == [("GET", f"/blob/{blob.digest}")]
    assert recorder.leaked() == []
    _own_requests_were_authenticated(proxy)


def test_a_pagination_link_to_another_host_on_the_same_port_carries_no_credentials(
        same_port, unique_repo):
    proxy, client, _, recorder = same_port
    page1 = json.dumps({"name": unique_repo, "tags": ["from-page-1"]})
    proxy.add_rule("GET", "/tags/list", Respond.json(
        page1, Link=f'<{recorder.url}/page2?last=from-page-1>; rel="next"',
        **{"Set-Cookie": COOKIE}))

    assert list(client.tags(unique_repo)) == ["from-page-1", "from-page-2"]

    assert [p for _, p, _ in recorder.requests] == ["/page2?last=from-page-1"]
    assert recorder.leaked() == []
    _own_requests_were_authenticated(proxy)


def test_an_upload_location_on_another_host_on_the_same_port_carries_no_credentials(
        same_port, unique_repo):
    proxy, client, _, recorder = same_port
    proxy.add_rule("POST", "/blobs/uploads/", Respond(
        202, headers={"Location": f"{recorder.url}/upload/1?_state=abc"}), times=None)
    data = b"an upload sent to another host"
    digest = "sha256:" + hashlib.sha256(data).hexdigest()

    client.upload_blob(unique_repo, digest, data, len(data))

    assert [(m, p.split("?")[0]) for m, p, _ in recorder.requests] == [("PUT", "/upload/1")]
    assert recorder.leaked() == []
    _own_requests_were_authenticated(proxy)
