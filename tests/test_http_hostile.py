"""Hostile and broken HTTP servers against the small-request path (``transport.curl``).

A registry, or a proxy in front of it, can answer with bytes no real distribution sends:
more bytes than its ``Content-Length`` (left on a kept-alive connection, they would answer
the next request: a forged ``Docker-Content-Digest`` there is what a remove plan would be
built on), conflicting lengths, bad chunk sizes, huge headers, huge bodies, a connection
closed mid-body, an endless stream of interim 1xx answers, a body dripping a byte at a time,
folded headers by the megabyte. Each test starts a small loopback server that writes those
bytes (threads on 127.0.0.1, at most ``MAX_CONNECTIONS`` connections, each ending by itself
after ``LIFETIME`` seconds) and checks that the client gets one clear error (a
``ProtocolError`` or ``Unreachable`` naming the registry and reference), or the true answer.

Requests go through ``RegistryClient`` (the registry's own origin, so the small-request
path); the scheme is given, so no TLS probe reaches the script. A hang guard (``finish``)
fails a test whose call does not return at all; no test asserts how fast anything is.
"""

from __future__ import annotations

import http.client
import itertools
import json
import socket
import threading
import time
from typing import Callable, Iterator

import pytest

from registry_widgets.errors import Cancelled, ProtocolError, Unreachable
from registry_widgets.registry import RegistryClient
from registry_widgets.transport import abort_requests, forget_requests, note_requests
from tests.support import RawClient, push_image
from tests.support.oracle import ACCEPT_ALL

MAX_CONNECTIONS = 8
LIFETIME = 30.0  # seconds a connection of a hostile server lives at most
HANG_GUARD = 60.0  # a call that has not returned by then hangs: the test fails
TAGS = json.dumps({"name": "ns/app", "tags": ["1", "2"]}).encode()
FORGED = "sha256:" + "f" * 64

# What a script returns for one request: the bytes to send (an iterable is sent piece by
# piece, so a script can drip or stream without end), and whether to close afterwards.
Script = Callable[[int, bytes], tuple[object, bool]]


class Hostile:
    """A loopback server that answers request number n (from 0, across connections, each
    head as bytes) with ``script(n, head)``. Records the heads and the connections."""

    def __init__(self, script: Script):
        self.script = script
        self.requests: list[tuple[int, bytes]] = []  # (connection number, request head)
        self.connections = 0
        self.sent = 0  # replies sent whole
        self._sent_changed = threading.Condition()
        self.closed_by_client = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.host = f"127.0.0.1:{self._listener.getsockname()[1]}"
        self._until = time.monotonic() + LIFETIME
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with self._listener:
            while time.monotonic() < self._until and self.connections < MAX_CONNECTIONS:
                try:
                    connection, _ = self._listener.accept()
                except socket.timeout:
                    continue
                except OSError:
                    return
                self.connections += 1
                threading.Thread(target=self._serve, args=(connection, self.connections),
                                 daemon=True).start()

    def _serve(self, connection: socket.socket, number: int) -> None:
        buffered = b""
        connection.settimeout(1.0)
        with connection:
            while time.monotonic() < self._until:
                while b"\r\n\r\n" not in buffered:
                    try:
                        data = connection.recv(65536)
                    except socket.timeout:
                        if time.monotonic() >= self._until:
                            return
                        continue
                    except OSError:
                        data = b""
                    if not data:
                        self.closed_by_client.set()
                        return
                    buffered += data
                head, _, buffered = buffered.partition(b"\r\n\r\n")
                n = len(self.requests)
                self.requests.append((number, head))
                reply, close = self.script(n, head)
                pieces = [reply] if isinstance(reply, bytes) else reply
                try:
                    for piece in pieces:
                        if time.monotonic() >= self._until:
                            return
                        connection.sendall(piece)
                except OSError:  # the client hung up: what a bounded client does
                    self.closed_by_client.set()
                    return
                with self._sent_changed:
                    self.sent += 1
                    self._sent_changed.notify_all()
                if close:
                    return

    def wait_sent(self, count: int) -> None:
        """Until ``count`` replies have been sent whole (on loopback, in the client's socket)."""
        with self._sent_changed:
            assert self._sent_changed.wait_for(lambda: self.sent >= count, LIFETIME)

    def close(self) -> None:
        self._until = 0.0


@pytest.fixture
def hostile() -> Iterator[Callable[..., tuple[Hostile, RegistryClient]]]:
    servers: list[Hostile] = []

    def start(script: Script, **options) -> tuple[Hostile, RegistryClient]:
        server = Hostile(script)
        servers.append(server)
        options = {"retries": 1, "backoff": 0.01, "timeout": (2.0, 2.0), **options}
        return server, RegistryClient(f"http://{server.host}", **options)
    yield start
    for server in servers:
        server.close()


def finish(call: Callable[[], object]) -> object:
    """``call()``'s result or exception, failing the test if it never returns."""
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as e:  # noqa: BLE001 - handed to the test
            outcome["error"] = e
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(HANG_GUARD)
    assert not thread.is_alive(), "the request never ended"
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome.get("value")


def answer(body: bytes, *headers: str, status: str = "200 OK", length: bool = True) -> bytes:
    lines = [f"HTTP/1.1 {status}", "Docker-Distribution-API-Version: registry/2.0", *headers]
    if length:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def tags(client: RegistryClient) -> list[str]:
    return finish(lambda: list(client.tags("ns/app")))  # type: ignore[return-value]


def always(reply: object, close: bool = False) -> Script:
    return lambda n, head: (reply, close)


# -- more bytes than announced: the next request must get its own answer -----------------------

def forwarding(registry, extra: Callable[[int, bytes], object]) -> Script:
    """Forward each request to the real registry; send its answer and then ``extra``."""
    host, port = registry.host.rsplit(":", 1)

    def script(n: int, head: bytes) -> tuple[object, bool]:
        request_line, *lines = head.decode("latin-1").split("\r\n")
        method, target, _ = request_line.split(" ")
        upstream = http.client.HTTPConnection(host, int(port), timeout=10)
        upstream.request(method, target, headers={"Accept": ACCEPT_ALL})
        reply = upstream.getresponse()
        body = reply.read()
        upstream.close()
        fields = [f"{k}: {v}" for k, v in reply.getheaders()
                  if k.lower() not in ("content-length", "transfer-encoding", "connection")]
        length = reply.getheader("Content-Length") if method == "HEAD" else str(len(body))
        head_out = "\r\n".join([f"HTTP/1.1 {reply.status} {reply.reason}", *fields,
                                f"Content-Length: {length}"]) + "\r\n\r\n"
        more = extra(n, head)  # sent after the answer, piece by piece
        return itertools.chain([head_out.encode() + body],
                               [more] if isinstance(more, bytes) else more), False
    return script


def forged_answer(size: int = 10) -> bytes:
    return ("HTTP/1.1 200 OK\r\nDocker-Distribution-API-Version: registry/2.0\r\n"
            f"Docker-Content-Digest: {FORGED}\r\n"
            "Content-Type: application/vnd.oci.image.manifest.v1+json\r\n"
            f"Content-Length: {size}\r\n\r\n").encode()


def in_the_same_write(n: int, head: bytes) -> bytes:
    return forged_answer() if n == 0 else b""


def on_the_idle_connection(n: int, head: bytes) -> Iterator[bytes]:
    if n == 0:
        # The client has read its answer; these bytes reach the kept-alive connection while
        # it is idle (the test sends the next request once they are in the client's socket).
        time.sleep(0.1)
        yield forged_answer()


@pytest.mark.parametrize("extra", [in_the_same_write, on_the_idle_connection])
@pytest.mark.parametrize("first", ["GET", "HEAD"])
def test_bytes_after_an_answer_never_answer_the_next_request(registry, unique_repo, hostile,
                                                             extra, first):
    image = push_image(registry, unique_repo, "1", layer_sizes=(100,), seed="excess")
    truth = RawClient(registry).request("HEAD", f"/v2/{unique_repo}/manifests/1", headers={
        "Accept": ACCEPT_ALL}).headers["Docker-Content-Digest"]
    assert truth == image.digest != FORGED
    server, client = hostile(forwarding(registry, extra), retries=0)

    if first == "GET":
        assert finish(lambda: client.get_manifest(unique_repo, "1")).digest == truth
    else:
        assert finish(lambda: client.head_manifest(unique_repo, "1")).digest == truth
    server.wait_sent(1)  # the answer and the bytes after it
    again = finish(lambda: client.head_manifest(unique_repo, "1"))

    assert again.digest == truth  # what the registry sent, not the bytes left over
    assert len(server.requests) == 2
    # The second request went out on a new connection: the poisoned one was dropped.
    assert [number for number, _ in server.requests] == [1, 2]


# -- framing that is not HTTP: one ProtocolError, not retried -----------------------------------

NOT_HTTP = {
    "two different Content-Lengths": answer(TAGS, "Content-Length: 3"),
    "a Content-Length that is not a number": answer(TAGS, "Content-Length: 12abc",
                                                    length=False),
    "a negative Content-Length": answer(TAGS, "Content-Length: -5", length=False),
    "a chunk size that is not hex": answer(b"zz\r\n" + TAGS + b"\r\n0\r\n\r\n",
                                           "Transfer-Encoding: chunked", length=False),
    "a negative chunk size": answer(b"-2\r\nab\r\n0\r\n\r\n", "Transfer-Encoding: chunked",
                                    length=False),
    "a chunk size longer than 64 bits": answer(b"f" * 40 + b"\r\nab\r\n0\r\n\r\n",
                                               "Transfer-Encoding: chunked", length=False),
    "an unknown Transfer-Encoding": answer(b"2\r\nab\r\n0\r\n\r\n",
                                           "Transfer-Encoding: gzip, chunked", length=False),
    "a header of 1 MiB": answer(TAGS, "X-Huge: " + "a" * (1 << 20)),
    "100,000 headers": answer(TAGS, *[f"X-{i}: {i}" for i in range(100_000)]),
}


@pytest.mark.parametrize("reply", NOT_HTTP.values(), ids=NOT_HTTP.keys())
def test_an_answer_that_is_not_http_is_one_protocol_error(hostile, reply):
    server, client = hostile(always(reply, close=True))
    with pytest.raises(ProtocolError, match=rf"{server.host} answered the request for "
                       rf"{server.host}/ns/app with something that is not valid HTTP") as caught:
        tags(client)
    assert caught.value.registry == server.host
    assert caught.value.reference == f"{server.host}/ns/app"
    assert len(server.requests) == 1  # the same bytes would come again: not retried


def folded_headers(megabytes: int) -> Iterator[bytes]:
    """An answer whose one header goes on for ``megabytes`` MiB of folded lines."""
    yield b"HTTP/1.1 200 OK\r\nX-Folded: start\r\n"
    line = b" " + b"x" * 1022 + b"\r\n"
    for _ in range(megabytes * 1024):
        yield line
    yield f"Content-Length: {len(TAGS)}\r\n\r\n".encode() + TAGS


def test_folded_headers_by_the_megabyte_are_refused_early(hostile):
    server, client = hostile(lambda n, head: (folded_headers(80), True))
    with pytest.raises(ProtocolError, match="not valid HTTP"):
        tags(client)
    assert len(server.requests) == 1
    # The client stopped reading long before the 80 MiB were sent.
    assert server.closed_by_client.wait(LIFETIME)


# -- bodies larger than any manifest -----------------------------------------------------------

def endless_chunks() -> Iterator[bytes]:
    yield b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunk = b"10000\r\n" + b"a" * 0x10000 + b"\r\n"
    for _ in range(16 * 1024):  # 1 GiB, if anyone read it
        yield chunk


HUGE = {
    "Content-Length 10**12": lambda n, head: (answer(b"{}", length=False) .replace(
        b"\r\n\r\n", b"\r\nContent-Length: 1000000000000\r\n\r\n"), True),
    "Content-Length past 64 bits": lambda n, head: (answer(b"{}", length=False).replace(
        b"\r\n\r\n", b"\r\nContent-Length: 99999999999999999999999999\r\n\r\n"), True),
    "a chunked body without end": lambda n, head: (endless_chunks(), True),
}


@pytest.mark.parametrize("script", HUGE.values(), ids=HUGE.keys())
def test_a_body_larger_than_a_manifest_may_be_is_a_protocol_error(hostile, script):
    server, client = hostile(script)
    with pytest.raises(ProtocolError) as caught:
        tags(client)
    text = str(caught.value)
    assert "not valid HTTP" in text or "larger than 4 MiB" in text, text
    assert caught.value.registry == server.host
    assert len(server.requests) == 1


def test_a_manifest_head_announcing_10_to_the_12_bytes_is_a_protocol_error(hostile):
    server, client = hostile(always(answer(b"", "Content-Length: 1000000000000",
                                           f"Docker-Content-Digest: {FORGED}", length=False)))
    with pytest.raises(ProtocolError, match=rf"{server.host} answered the request for "
                       rf"{server.host}/ns/app:1 with a body larger than 4 MiB"):
        finish(lambda: client.head_manifest("ns/app", "1"))


# -- answers that end too soon or never --------------------------------------------------------

def test_a_connection_closed_mid_body_is_unreachable_after_one_retry(hostile):
    server, client = hostile(always(answer(TAGS)[:-10], close=True))
    with pytest.raises(Unreachable, match=rf"lost the connection to {server.host} \("):
        tags(client)
    assert len(server.requests) == 2  # tried, then retried once (retries=1)


def storm(pause: float) -> Iterator[bytes]:
    while True:
        yield b"HTTP/1.1 103 Early Hints\r\nLink: </x>; rel=preload\r\n\r\n"
        if pause:
            time.sleep(pause)


def drip() -> Iterator[bytes]:
    yield b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
    while True:
        yield b"x"
        time.sleep(0.05)


def test_a_slow_storm_of_interim_answers_ends_at_the_deadline(hostile):
    server, client = hostile(lambda n, head: (storm(0.05), True), timeout=(1.0, 1.0))
    with pytest.raises(Unreachable, match=rf"{server.host} \(.*\) did not answer in time"):
        tags(client)
    assert len(server.requests) == 2  # a timed-out request is tried twice in all


def test_a_flood_of_interim_answers_is_refused(hostile):
    server, client = hostile(lambda n, head: (storm(0), True))
    with pytest.raises((ProtocolError, Unreachable)):
        tags(client)
    assert server.closed_by_client.wait(LIFETIME)


def test_a_body_that_drips_ends_at_the_deadline(hostile):
    server, client = hostile(lambda n, head: (drip(), True), timeout=(1.0, 1.0))
    with pytest.raises(Unreachable, match="did not answer in time"):
        tags(client)
    assert len(server.requests) == 2


def test_a_cancelled_worker_s_request_is_cut_at_once(hostile):
    # The server never answers; the read timeout is far away. abort_requests (what a
    # cancelled worker pool calls) must end the request now, with Cancelled.
    server, client = hostile(lambda n, head: (storm(0.5), True), timeout=(5.0, 50.0))
    outcome: dict[str, BaseException] = {}
    worker_ident: list[int] = []

    def worker() -> None:
        note_requests()
        worker_ident.append(threading.get_ident())
        try:
            list(client.tags("ns/app"))
        except BaseException as e:  # noqa: BLE001 - checked below
            outcome["error"] = e
        finally:
            forget_requests()
    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    deadline = time.monotonic() + HANG_GUARD
    while not server.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.requests, "the request never reached the server"
    abort_requests(worker_ident)
    thread.join(HANG_GUARD)
    assert not thread.is_alive()
    assert isinstance(outcome.get("error"), Cancelled), outcome
    assert server.closed_by_client.wait(LIFETIME)  # the connection was dropped, not left
    assert len(server.requests) == 1  # a cut request is not retried


# -- the right answer, however it is framed ----------------------------------------------------

def test_folded_and_repeated_headers_are_read_as_one(hostile):
    _, client = hostile(always(answer(TAGS, "Link: <a>; rel=\"x\"", "Link: <b>; rel=\"y\"",
                                      "X-Note: one", " two")))
    response = finish(lambda: client.transport.request("GET", "/v2/ns/app/tags/list",
                                                       reference="ns/app"))
    assert response.headers["X-Note"] == "one two"
    assert set(response.links) == {"x", "y"}
    assert response.json()["tags"] == ["1", "2"]


def test_a_few_interim_answers_before_the_real_one_are_skipped(hostile):
    _, client = hostile(always(b"HTTP/1.1 100 Continue\r\n\r\n" * 50 + answer(TAGS)))
    assert tags(client) == ["1", "2"]
