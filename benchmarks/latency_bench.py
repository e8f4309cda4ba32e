"""Scenario 9: the image table of a registry across a network, where round trips bound it.

Users list registries over TLS across real networks, and every registry there speaks
HTTP/2; scenario 4 lists over loopback, where CPU bounds a listing instead. Here:
distribution over TLS (devstack's ``basic`` flavour: HTTPS with a generated CA and
htpasswd; Go's server offers ``h2`` by ALPN) behind ``latency_proxy``, which delays every
chunk ``latency_delay`` (50 ms) each way, seeded with ``latency_repositories`` x
``latency_tags`` (100 x 10: 1,000 tags; seed.seed_inventory, not timed).

Cases, cold (empty index, new clients, each through a proxy of its own so the proxy counts
its connections), in a rotating order within each run:

- **floor**: ``curl --http2 --parallel --parallel-max 100``: the GETs scenario 4's floor
  sends (catalog pages, tag lists, each manifest by tag, each distinct config blob)
  multiplexed on one connection. The peer.
- ``curl --http1.1 --parallel --parallel-max 16``: the same GETs on 16 connections, what
  HTTP/1.1 clients do.
- ``registry_widgets.images(proxy_host)`` after ``configure(proxy_host, credentials=...,
  ca_bundle=...)``: whatever transport the package has when it runs. Target: at most 1.1x
  the HTTP/2 floor. Measured before issue 22 (1,000 tags): curl HTTP/2 5.3 s, curl
  HTTP/1.1 14.4 s, images() 15.5 s (2.9x).

Each row's note gives what the proxy saw (connections, most at once, the ALPN protocols
the TLS ClientHellos offered) and the CPU of the registry and of the client.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Callable

import registry_widgets
from registry_widgets.operations.core import index
from devstack import LocalRegistry

from .copy_bench import ACCEPT
from .harness import CpuMeter, Settings, Stopwatch, fresh_clients, fresh_registry, log, run
from .inventory_bench import floor_urls, table_problem
from .latency_proxy import LatencyProxy
from .report import Report, Row, load_average
from .seed import InventorySeed, seed_inventory

RATIO_TARGET = 1.1  # images() to the HTTP/2 floor


def cold_urls(seed: InventorySeed) -> list[str]:
    """Scenario 4's cold floor, each distinct config blob once."""
    urls, _ = floor_urls(seed)
    return list(dict.fromkeys(urls))


def curl_listing(registry: LocalRegistry, base: str, urls: list[str], config: Path, *,
                 http2: bool) -> float:
    """Seconds for curl to GET ``urls`` from ``base`` with the registry's CA and user: over
    HTTP/2, up to 100 streams on one connection; else HTTP/1.1 on 16 connections. The
    password goes in the config file (0600), not on the command line."""
    user, password = registry.auth or ("", "")
    protocol = "--http2" if http2 else "--http1.1"
    with open(os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
        handle.write(f'{protocol}\n-f\n-s\n-H "Accept: {ACCEPT}"\n'
                     f'--cacert "{registry.ca_file}"\nuser = "{user}:{password}"\n')
        handle.writelines(f'url = "{base}{url}"\n-o /dev/null\n' for url in urls)
    try:
        seconds, _ = run(["curl", "--parallel", "--parallel-max", "100" if http2 else "16",
                          "--no-progress-meter", "-K", str(config)])
    finally:
        config.unlink(missing_ok=True)
    return seconds


def proxy_note(stats: dict) -> str:
    """What the proxy saw of one case."""
    if not stats:
        return "the proxy left no statistics."
    offers = ", ".join(f"{offer or 'none'} ({count})" if offer != "None" else
                       f"not a ClientHello ({count})" for offer, count in stats["alpn"].items())
    count = stats["connections"]
    return (f"Proxy: {count} connection{'s' if count != 1 else ''} ({stats['peak']} at once"
            + (f", {stats['refused']} refused" if stats["refused"] else "")
            + f"), ALPN offered: {offers or 'nothing sent'}; {stats['bytes_up'] / 1024:.0f} KiB "
            f"up, {stats['bytes_down'] / 1024:.0f} KiB down; its own CPU "
            f"{stats.get('cpu_seconds', 0):.1f} s.")


def latency_scenario(settings: Settings, report: Report) -> None:
    repositories, per = settings.latency_repositories, settings.latency_tags
    delay_ms = settings.latency_delay * 1000
    with fresh_registry(settings, "latency", flavour="basic") as registry:
        log(f"scenario 9: seeding {repositories} repositories x {per} tags over TLS")
        seed = seed_inventory(registry, repositories=repositories, tags=per,
                              workers=settings.seed_workers)
        report.notes.append(
            f"Scenario 9 registry: distribution over TLS with htpasswd (generated CA), "
            f"{repositories:,} repositories x {per} tags seeded as scenario 4's in "
            f"{seed.seconds:.0f} s; reached through a TCP proxy on 127.0.0.1 (a separate "
            f"process) that delays every chunk {delay_ms:.0f} ms each way, in order and "
            "without capping throughput. The proxy adds no round trip to the TCP handshake "
            "itself, only to the bytes (so TLS handshakes and requests pay it).")
        measure(settings, report, registry, seed)


def measure(settings: Settings, report: Report, registry: LocalRegistry,
            seed: InventorySeed) -> None:
    tags = seed.tags
    urls = cold_urls(seed)
    name = (f"9 image table across a network (TLS, +{settings.latency_delay * 1000:.0f} ms "
            f"each way), {tags:,} tags, {len(seed.repositories):,} repositories: cold")
    h2 = report.add(name, f"floor: curl --http2 --parallel-max 100 (one connection), "
                    f"{len(urls):,} GETs", peer=True)
    h1 = report.add(name, f"curl --http1.1 --parallel-max 16 (16 connections), "
                    f"{len(urls):,} GETs")
    ours = report.add(name, "registry_widgets.images (empty index, new clients)")
    pid = registry._popen.pid if getattr(registry, "_popen", None) else None
    cache = settings.work_dir / "latency-cache"
    config = settings.work_dir / "latency-urls.curl"
    seen: dict[int, list[tuple[float, float, float, int, dict]]] = {}  # id(row) -> runs
    saved_cache = os.environ.get("XDG_CACHE_HOME")
    load = load_average()

    def images(host: str) -> int:
        index.close_shared()
        shutil.rmtree(cache, ignore_errors=True)
        cache.mkdir(parents=True)
        os.environ["XDG_CACHE_HOME"] = str(cache)
        fresh_clients()  # forgets configure() too: configure again, as a new kernel would
        registry_widgets.configure(host, credentials=registry.auth,
                                   ca_bundle=str(registry.ca_file))
        frame = registry_widgets.images(host)
        ours.error = ours.error or table_problem(frame, tags)
        return int(frame.attrs.get("requests", 0))

    def curl(http2: bool) -> Callable[[str], int]:
        def send(host: str) -> int:
            curl_listing(registry, f"https://{host}", urls, config, http2=http2)
            return len(urls)
        return send

    cases: list[tuple[Row, Callable[[str], int]]] = [
        (h2, curl(http2=True)), (h1, curl(http2=False)), (ours, images)]
    try:
        for number in range(settings.runs):
            for row, case in cases[number % 3:] + cases[:number % 3]:
                log(f"scenario 9 run {number + 1}: {row.case}")
                try:
                    with LatencyProxy(registry.host, delay=settings.latency_delay) as proxy:
                        with CpuMeter(pid) as meter, Stopwatch() as watch:
                            sent = case(proxy.host)
                    row.samples.append(watch.seconds)
                    seen.setdefault(id(row), []).append(
                        (watch.seconds, meter.registry, meter.client, sent, proxy.stats))
                except Exception as e:  # noqa: BLE001 - report and go on
                    row.error = f"{type(e).__name__}: {e}"[:300]
                    log(f"  failed: {row.error}")
    finally:
        index.close_shared()
        shutil.rmtree(cache, ignore_errors=True)
        fresh_clients()
        if saved_cache is not None:
            os.environ["XDG_CACHE_HOME"] = saved_cache

    for row in (h2, h1, ours):
        runs = sorted(seen.get(id(row), []), key=lambda r: r[0])
        if not runs:
            continue
        _, registry_cpu, client_cpu, sent, stats = runs[len(runs) // 2]  # the median run
        row.note = (f"{sent:,} requests. CPU: registry {registry_cpu:.1f} s, client "
                    f"{client_cpu:.1f} s ({client_cpu * 1000 / max(sent, 1):.2f} ms per "
                    f"request). {proxy_note(stats)}")
    ours.note = ("catalog, tag lists, a GET of each manifest by tag, a config per digest; "
                 + ours.note + f" Load average at the scenario's start: {load}.")
    ours.target = f"≤ {RATIO_TARGET:g} × curl HTTP/2"
    ratio = report.ratio(ours)
    if ratio is not None and h1.median:
        ours.note += f" {ratio:.2f} × the HTTP/2 floor, {ours.median / h1.median:.2f} × " \
                     "curl HTTP/1.1."  # type: ignore[operator]
    if not settings.quick:  # tiny sizes measure nothing
        ours.met = ratio is not None and ratio <= RATIO_TARGET and not ours.error
