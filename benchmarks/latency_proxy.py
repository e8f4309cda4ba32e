"""A TCP proxy on 127.0.0.1 that delays every chunk a fixed time each way: a far registry.

This kernel has no netem, so the delay is added in user space. Each direction of each
connection has a queue of (due time, bytes): a chunk read at ``t`` is written at
``t + delay``, in the order it was read, and reading goes on meanwhile, so the delay adds
latency without capping throughput (a window of chunks is in flight, as on a long link).
The bytes are passed through untouched (TLS stays end to end); the proxy only peeks at
each client's first record for the ALPN protocols its TLS ClientHello offers (``h2``?).

Not simulated: the TCP handshake (the proxy's own accept is immediate, so a new connection
costs the client no extra round trip before its first bytes), loss and bandwidth limits.

Bounded: at most ``max_connections`` at once (more are closed at once and counted), and
the whole proxy stops after ``max_seconds``. It runs in its own process so that its CPU
and its event loop never share a GIL with the client being measured:

    with LatencyProxy(registry.host, delay=0.05) as proxy:
        ... proxy.host ...
    proxy.stats  # connections, refused, peak, bytes each way, ALPN offers, its CPU

``python -m benchmarks.latency_proxy TARGET_HOST:PORT --delay 0.05`` prints
``listening PORT`` and, on SIGTERM or at its deadline, one JSON line of statistics.
Imports only the standard library.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import signal
import subprocess
import sys
from collections import Counter
from typing import Any

CHUNK = 64 << 10
QUEUED_CHUNKS = 1024  # per direction: beyond it reading waits (about 64 MiB in flight)


def alpn_offer(record: bytes) -> str | None:
    """The ALPN protocols a TLS ClientHello offers (``"h2,http/1.1"``), ``""`` when it offers
    none, None when ``record`` does not start with a whole ClientHello."""
    try:
        if record[0] != 22 or record[5] != 1:  # handshake record, ClientHello
            return None
        at = 5 + 4 + 2 + 32  # record header, handshake header, version, random
        at += 1 + record[at]  # session id
        at += 2 + int.from_bytes(record[at:at + 2], "big")  # cipher suites
        at += 1 + record[at]  # compression methods
        end = at + 2 + int.from_bytes(record[at:at + 2], "big")
        at += 2
        while at + 4 <= end:
            kind = int.from_bytes(record[at:at + 2], "big")
            size = int.from_bytes(record[at + 2:at + 4], "big")
            if kind == 16:  # application_layer_protocol_negotiation (RFC 7301)
                body, names, i = record[at + 6:at + 4 + size], [], 0
                while i < len(body):
                    names.append(body[i + 1:i + 1 + body[i]].decode("ascii", "replace"))
                    i += 1 + body[i]
                return ",".join(names)
            at += 4 + size
        return ""
    except IndexError:
        return None


class Proxy:
    """The event-loop side: accept, connect upstream, pump both directions with the delay."""

    def __init__(self, target: tuple[str, int], delay: float, max_connections: int):
        self.target, self.delay, self.max_connections = target, delay, max_connections
        self.open = 0
        self.tasks: set[asyncio.Task] = set()
        self.stats: dict[str, Any] = {"connections": 0, "refused": 0, "peak": 0,
                                      "bytes_up": 0, "bytes_down": 0, "alpn": Counter()}

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.open >= self.max_connections:
            self.stats["refused"] += 1
            writer.close()
            return
        task = asyncio.current_task()
        self.tasks.add(task)  # type: ignore[arg-type]
        self.open += 1
        self.stats["connections"] += 1
        self.stats["peak"] = max(self.stats["peak"], self.open)
        upstream_writer = None
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
            await asyncio.gather(self.pump(reader, upstream_writer, "bytes_up", first=True),
                                 self.pump(upstream_reader, writer, "bytes_down"))
        except (OSError, asyncio.CancelledError):
            pass  # reset by a peer, or cut when the proxy stops
        finally:
            self.tasks.discard(task)  # type: ignore[arg-type]
            self.open -= 1
            for w in (writer, upstream_writer):
                if w is not None:
                    w.close()

    async def pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                   counter: str, *, first: bool = False) -> None:
        """Read chunks as they come, write each ``delay`` after it was read, in order."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(QUEUED_CHUNKS)

        async def read() -> None:
            nonlocal first
            try:
                while data := await reader.read(CHUNK):
                    if first:
                        self.stats["alpn"][str(alpn_offer(data))] += 1
                        first = False
                    self.stats[counter] += len(data)
                    await queue.put((loop.time() + self.delay, data))
            except OSError:
                pass
            await queue.put((loop.time() + self.delay, b""))  # end of stream, delayed too

        async def write() -> None:
            while True:
                due, data = await queue.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    if writer.can_write_eof():
                        writer.write_eof()  # half-close: the other way may still be talking
                    return
                writer.write(data)
                await writer.drain()

        reading = asyncio.ensure_future(read())
        try:
            await write()
        except OSError:
            pass
        finally:
            reading.cancel()


async def serve(target: tuple[str, int], delay: float, max_connections: int,
                max_seconds: float) -> dict[str, Any]:
    proxy = Proxy(target, delay, max_connections)
    server = await asyncio.start_server(proxy.handle, "127.0.0.1", 0)
    print(f"listening {server.sockets[0].getsockname()[1]}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    try:
        await asyncio.wait_for(stop.wait(), max_seconds)
    except asyncio.TimeoutError:
        proxy.stats["deadline"] = True
    server.close()
    for task in list(proxy.tasks):  # connections still open: cut them
        task.cancel()
    await asyncio.gather(*proxy.tasks, return_exceptions=True)
    return proxy.stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.latency_proxy",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("target", help="HOST:PORT to forward to")
    parser.add_argument("--delay", type=float, default=0.05, help="seconds, each way")
    parser.add_argument("--max-connections", type=int, default=256)
    parser.add_argument("--max-seconds", type=float, default=1800)
    args = parser.parse_args(argv)
    host, port = args.target.rsplit(":", 1)
    stats = asyncio.run(serve((host, int(port)), args.delay, args.max_connections,
                              args.max_seconds))
    use = resource.getrusage(resource.RUSAGE_SELF)
    stats["cpu_seconds"] = round(use.ru_utime + use.ru_stime, 3)  # was the proxy a bound?
    print(json.dumps(stats), flush=True)
    return 0


class LatencyProxy:
    """The proxy as a child process: ``host`` while it runs, ``stats`` once it stopped."""

    def __init__(self, target: str, *, delay: float = 0.05, max_connections: int = 256,
                 max_seconds: float = 1800):
        self.argv = [sys.executable, "-m", "benchmarks.latency_proxy", target,
                     "--delay", str(delay), "--max-connections", str(max_connections),
                     "--max-seconds", str(max_seconds)]
        self.host = ""
        self.stats: dict[str, Any] = {}
        self._popen: subprocess.Popen | None = None

    def __enter__(self) -> "LatencyProxy":
        import os
        from pathlib import Path

        root = str(Path(__file__).resolve().parents[1])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            p for p in (root, os.environ.get("PYTHONPATH", "")) if p)}
        self._popen = subprocess.Popen(self.argv, stdout=subprocess.PIPE, text=True, env=env)
        line = self._popen.stdout.readline() if self._popen.stdout else ""
        if not line.startswith("listening "):
            self.__exit__()
            raise RuntimeError(f"the latency proxy did not start: {line!r}")
        self.host = f"127.0.0.1:{int(line.split()[1])}"
        return self

    def __exit__(self, *exc: object) -> None:
        popen, self._popen = self._popen, None
        if popen is None:
            return
        if popen.poll() is None:
            popen.send_signal(signal.SIGTERM)
        try:
            out, _ = popen.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            popen.kill()
            out, _ = popen.communicate()
        lines = (out or "").strip().splitlines()
        if lines:
            try:
                self.stats = json.loads(lines[-1])
            except ValueError:
                pass


if __name__ == "__main__":
    sys.exit(main())
