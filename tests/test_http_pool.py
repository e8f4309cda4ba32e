"""The small-request path (``registry_widgets.transport.curl``, libcurl) reads HTTP as servers
send it.

Listings send their tag-list, manifest and config requests over this path, so it must read
every framing a registry or the proxy in front of it may use. Against real distribution:
the chunked tag lists Go sends for long lists, and HTTP/2 over TLS. Against a loopback server
that answers with bytes the test writes (what distribution cannot be made to send):
``Connection: close``, a body that ends with the connection, an interim ``100 Continue``, a
keep-alive connection the server closed while idle, a body cut short, repeated and folded
headers, and a header that would inject a line. Hostile answers: tests/test_http_hostile.py.
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import json
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest

from registry_widgets.errors import ProtocolError, Unreachable
from registry_widgets.manifest import OCI_MANIFEST
from registry_widgets.registry import RegistryClient
from registry_widgets.transport import curl
from tests.support import RawClient, list_tags, push_image
from tests.support.images import put_manifest


class Scripted:
    """A loopback HTTP server that answers the requests it receives, in order, with the
    ``(raw bytes, close the connection after)`` replies it was given."""

    def __init__(self, replies: list[tuple[bytes, bool]]):
        self.replies = list(replies)
        self.requests: list[tuple[int, bytes]] = []  # (connection number, request head)
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.host = f"127.0.0.1:{self._listener.getsockname()[1]}"
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(connection, self.connections),
                             daemon=True).start()

    def _serve(self, connection: socket.socket, number: int) -> None:
        buffered = b""
        with connection:
            while True:
                while b"\r\n\r\n" not in buffered:
                    data = connection.recv(65536)
                    if not data:
                        return
                    buffered += data
                head, _, buffered = buffered.partition(b"\r\n\r\n")
                self.requests.append((number, head))
                if not self.replies:
                    return
                reply, close = self.replies.pop(0)
                connection.sendall(reply)
                if close:
                    return

    def close(self) -> None:
        self._listener.close()


@pytest.fixture
def scripted():
    servers: list[Scripted] = []

    def start(*replies: tuple[bytes, bool]) -> tuple[Scripted, RegistryClient]:
        server = Scripted(list(replies))
        servers.append(server)
        # The scheme is given, so the client sends no TLS probe the script would have to
        # answer; no retries beyond one, so a script needs few replies.
        return server, RegistryClient(f"http://{server.host}", retries=1, backoff=0.01)
    yield start
    for server in servers:
        server.close()


def answer(body: bytes, *headers: str, status: str = "200 OK", length: bool = True) -> bytes:
    lines = [f"HTTP/1.1 {status}", "Docker-Distribution-API-Version: registry/2.0", *headers]
    if length:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


TAGS = json.dumps({"name": "ns/app", "tags": ["1", "2"]}).encode()


def fetch(client: RegistryClient, path: str = "/v2/ns/app/tags/list"):
    return client.transport.request("GET", path, reference="ns/app")


# -- against real distribution ------------------------------------------------------------------

def test_a_long_tag_list_that_distribution_sends_chunked_is_read_whole(registry, unique_repo):
    image = push_image(registry, unique_repo, "t-0", layer_sizes=(100,), seed="chunked")
    raw = RawClient(registry)
    wanted = ["t-0"] + [f"t-{n}" for n in range(1, 400)]
    for tag in wanted[1:]:
        put_manifest(raw, unique_repo, tag, image.manifest, OCI_MANIFEST)
    # The independent check of the framing: distribution really sent this list chunked.
    host, port = registry.host.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.request("GET", f"/v2/{unique_repo}/tags/list")
    plain = connection.getresponse()
    assert plain.status == 200 and plain.chunked and plain.getheader("Content-Length") is None
    connection.close()

    client = RegistryClient(registry.host)
    seen: list[object] = []
    client.transport.session.hooks["response"].append(lambda r, *a, **k: seen.append(r))
    assert sorted(client.tags(unique_repo)) == sorted(list_tags(registry, unique_repo)) \
        == sorted(wanted)
    # ... and it came over the small-request path, not requests.
    assert any(isinstance(r, curl.Response) and r.url.endswith("/tags/list") for r in seen)


def test_over_tls_concurrent_small_requests_share_one_http2_connection(basic_registry,
                                                                       unique_repo):
    image = push_image(basic_registry, unique_repo, "1", layer_sizes=(100,), seed="h2")
    client = RegistryClient(basic_registry.host, ca_bundle=str(basic_registry.ca_file),
                            credentials=basic_registry.auth)
    seen: list[object] = []
    client.transport.session.hooks["response"].append(lambda r, *a, **k: seen.append(r))
    with ThreadPoolExecutor(8) as workers:
        heads = list(workers.map(lambda _: client.head_manifest(unique_repo, "1"), range(32)))

    assert {head.digest for head in heads} == {image.digest}
    small = [r for r in seen if isinstance(r, curl.Response)]
    assert len(small) >= 32 and {r.version for r in small} == {"HTTP/2"}
    # One connection carried them all (libcurl waits for it to multiplex: PIPEWAIT).
    assert client.transport._fast.connections == 1


class ForwardProxy(http.server.ThreadingHTTPServer):
    """A loopback HTTP forward proxy: forwards GETs and HEADs sent in absolute form to the
    registry they name and records those URLs (``seen``)."""

    daemon_threads = True

    def __init__(self) -> None:
        self.seen: list[str] = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def forward(self) -> None:
                proxy.seen.append(self.path)
                parts = urlsplit(self.path)
                upstream = http.client.HTTPConnection(parts.netloc, timeout=10)
                upstream.request(self.command, parts.path + (f"?{parts.query}" if parts.query
                                                              else ""),
                                 headers={k: v for k, v in self.headers.items()
                                          if k.lower() not in ("host", "proxy-connection")})
                answer = upstream.getresponse()
                body = answer.read()
                upstream.close()
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(name, value)
                length = answer.getheader("Content-Length") if self.command == "HEAD" \
                    else str(len(body))
                self.send_header("Content-Length", length or "0")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_HEAD = forward

        super().__init__(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"


@contextlib.contextmanager
def forward_proxy():
    proxy = ForwardProxy()
    thread = threading.Thread(target=proxy.serve_forever, kwargs={"poll_interval": 0.1},
                              daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.shutdown()
        proxy.server_close()


def test_a_proxy_set_after_the_first_listing_applies_and_no_proxy_is_honoured(
        registry, unique_repo, monkeypatch):
    push_image(registry, unique_repo, "1", layer_sizes=(100,), seed="proxy")
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    client = RegistryClient(f"http://{registry.host}")
    assert list(client.tags(unique_repo)) == ["1"]  # no proxy yet

    with forward_proxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        assert list(client.tags(unique_repo)) == ["1"]
        assert client.head_manifest(unique_repo, "1") is not None
        assert proxy.seen == [f"http://{registry.host}/v2/{unique_repo}/tags/list",
                              f"http://{registry.host}/v2/{unique_repo}/manifests/1"]

        monkeypatch.setenv("NO_PROXY", urlsplit(f"//{registry.host}").hostname)
        assert list(client.tags(unique_repo)) == ["1"]
        assert len(proxy.seen) == 2  # straight to the registry again


# -- against a scripted loopback server ---------------------------------------------------------

def test_connection_close_answers_each_get_a_new_connection(scripted):
    server, client = scripted(*[(answer(TAGS, "Connection: close"), True)] * 3)
    for _ in range(3):
        assert fetch(client).json()["tags"] == ["1", "2"]
    assert server.connections == 3 and [n for n, _ in server.requests] == [1, 2, 3]


def test_a_body_without_a_length_ends_with_the_connection(scripted):
    server, client = scripted((answer(TAGS, length=False), True),
                              (answer(TAGS), False))
    assert fetch(client).json()["tags"] == ["1", "2"]
    assert fetch(client).content == TAGS  # the next request found a new connection
    assert server.connections == 2


def test_an_interim_100_continue_is_skipped(scripted):
    _, client = scripted((b"HTTP/1.1 100 Continue\r\n\r\n" + answer(TAGS), False))
    assert fetch(client).json()["tags"] == ["1", "2"]


def test_a_keep_alive_connection_closed_while_idle_is_replaced_once(scripted):
    # The server answers keep-alive, then closes that connection (an idle timeout): the
    # next request finds it closed, and goes again on a new one, once.
    server, client = scripted((answer(TAGS), True), (answer(TAGS), False))
    assert fetch(client).content == TAGS
    assert fetch(client).content == TAGS
    assert server.connections == 2
    assert [n for n, _ in server.requests] == [1, 2]


def test_repeated_and_folded_headers_are_joined(scripted):
    body = b"{}"
    _, client = scripted((answer(body, "Link: <a>; rel=\"x\"", "Link: <b>; rel=\"y\"",
                                 "X-Note: one", " two"), False))
    response = fetch(client)
    assert response.headers["link"] == '<a>; rel="x", <b>; rel="y"'
    assert response.headers.get("X-NOTE") == "one two"
    assert set(response.links) == {"x", "y"}


def test_a_body_cut_short_is_unreachable_after_the_retry(scripted):
    cut = answer(TAGS)[:-10]
    server, client = scripted((cut, True), (cut, True))
    with pytest.raises(Unreachable, match=r"lost the connection to 127\.0\.0\.1:\d+ \(ns/app\)"):
        fetch(client)
    assert len(server.requests) == 2  # tried, then retried once (retries=1)


def test_a_chunked_body_with_a_broken_chunk_is_not_taken_as_whole(scripted):
    head = ("HTTP/1.1 200 OK\r\nDocker-Distribution-API-Version: registry/2.0\r\n"
            "Transfer-Encoding: chunked\r\n\r\n").encode()
    broken = head + b"5\r\n{\"tag\r\nzz\r\n"
    server, client = scripted((broken, True), (broken, True))
    with pytest.raises(ProtocolError, match=r"127\.0\.0\.1:\d+ answered the request for ns/app "
                       "with something that is not valid HTTP"):
        fetch(client)
    assert len(server.requests) == 1  # the same bytes would come again: not retried


def test_a_header_with_a_line_break_is_refused_before_it_is_sent(scripted):
    server, client = scripted((answer(TAGS), False), (answer(TAGS), False))
    fetch(client)  # connected; the scheme is known
    with pytest.raises(ProtocolError, match="header that cannot be used"):
        client.transport.request("GET", "/v2/ns/app/tags/list", reference="ns/app",
                                 headers={"Accept": "*/*\r\nX-Injected: 1"})
    assert len(server.requests) == 1
    assert not any(b"X-Injected" in head for _, head in server.requests)


def test_after_a_registry_restart_the_dead_idle_connections_cost_no_failure(registry_factory,
                                                                             unique_repo):
    registry = registry_factory()
    push_image(registry, unique_repo, "1", layer_sizes=(100,), seed="restart")
    client = RegistryClient(registry.host, retries=0)  # any failed request would raise
    together = threading.Barrier(4)  # requests in flight at once: one connection each

    def head(_: int) -> None:
        together.wait(timeout=10)
        client.head_manifest(unique_repo, "1")

    with ThreadPoolExecutor(4) as workers:  # several keep-alive connections, all left idle
        list(workers.map(head, range(16)))
    fast = client.transport._fast
    assert fast.connections >= 2
    registry.stop()
    registry.start()  # same port: every idle connection is now closed by its server
    assert client.head_manifest(unique_repo, "1") is not None
    assert client.transport._fast is fast  # ... and the small-request path answered
    assert list(client.tags(unique_repo)) == list_tags(registry, unique_repo) == ["1"]


def test_workers_starting_at_once_probe_the_scheme_once(registry, unique_repo):
    """A sync's or copy's workers make their first request to a new client at once: one of
    them probes HTTPS then plain HTTP, the others wait for its answer (each HTTPS probe of
    a plain registry costs a handshake and loading the CA bundle)."""
    image = push_image(registry, unique_repo, "1", layer_sizes=(100,), seed="probe")
    client = RegistryClient(registry.host)
    probes: list[str] = []
    send = client.transport._raw

    def recording(method, url, *args, **kwargs):
        if urlsplit(url).path == "/v2/":
            probes.append(url)
        return send(method, url, *args, **kwargs)

    client.transport._raw = recording
    start = threading.Barrier(8)

    def first_request(_):
        start.wait()
        return client.head_manifest(unique_repo, "1")

    with ThreadPoolExecutor(8) as workers:
        heads = list(workers.map(first_request, range(8)))

    assert {head.digest for head in heads} == {image.digest}
    assert sorted(probes) == [f"http://{registry.host}/v2/", f"https://{registry.host}/v2/"]
