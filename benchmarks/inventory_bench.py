"""Scenario 4: the image table of a registry at 1,000 and 10,000 tags (100,000 optional),
side by side with curl sending the same requests, and the client CPU per request.

For each size, in one run and with new clients for every call (as a fresh kernel would):

- **cold**: ``images()`` with an empty index: catalog, tag lists, a GET of each manifest by
  tag, a GET of each config. Floor: the same GETs from ``curl --parallel`` (16 at a time,
  keep-alive, bodies thrown away): what the registry alone needs to answer them.
- **warm, current**: ``images()`` with the index the cold run left: catalog, tag lists and a
  HEAD per tag (every tag verified now). Floor: curl sending those requests.
- **max_age=3600**: ``images(max_age=3600)`` in a new Python process, timed after the import:
  the index alone, no request.
- **first rows**: a cold ``ImageTable(background=True)`` (empty index): seconds until its
  first rows are in the table (``on_partial``), then until all are.
- **CPU per request**: this process's CPU over the requests it sent, for the cold and warm
  listings; curl's CPU over its requests; and one small manifest GET sent 2,000 times over
  keep-alive by requests, urllib3, http.client and the package's transport.

The seeded registries are kept for all runs of one benchmark run.
"""

from __future__ import annotations

import http.client
import os
import resource
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import requests
import urllib3

import registry_widgets
from registry_widgets.operations.core import clients, index
from devstack import LocalRegistry

from .copy_bench import ACCEPT
from .harness import CpuMeter, Settings, Stopwatch, fresh_clients, log, run
from .report import Report
from .seed import InventorySeed

RATIO_TARGET = 1.15  # cold and warm, to the curl floor of the same requests
MAX_AGE_TARGET = 0.5  # seconds, at 10,000 tags, in a new process after the import
FIRST_ROWS_TARGET = 2.0  # seconds, cold, 10,000 tags
CPU_TARGET_MS = 0.15  # client CPU per small request (issue 22)
MICRO_REQUESTS = 2000


def curl_floor(registry: LocalRegistry, urls: list[str], config: Path, *,
               head: bool = False) -> float:
    """Seconds for ``curl --parallel --parallel-max 16`` to send ``urls``: GETs, or with
    ``head`` HEADs for the manifests (a HEAD on a tag list is refused with 405)."""
    gets = [u for u in urls if not (head and "/manifests/" in u)]
    heads = [u for u in urls if head and "/manifests/" in u]
    group = f'-f\n-s\n-H "Accept: {ACCEPT}"\n'  # options hold per group, up to "next"
    with open(config, "w") as handle:
        for number, (method, chosen) in enumerate((("", gets), ("-I\n", heads))):
            if not chosen:
                continue
            handle.write(("next\n" if number and gets else "") + group + method)
            handle.writelines(f'url = "{registry.url}{url}"\n-o /dev/null\n' for url in chosen)
    seconds, _ = run(["curl", "--parallel", "--parallel-max", "16", "--no-progress-meter",
                      "-K", str(config)])
    return seconds


def floor_urls(seed: InventorySeed) -> tuple[list[str], list[str]]:
    """(cold, warm) request paths: catalog pages and tag lists plus, cold, GET manifest by
    tag and its config; warm, HEAD manifest by tag."""
    pages = [f"/v2/_catalog?n=100&last={seed.repositories[i - 1]}" if i else "/v2/_catalog"
             for i in range(0, len(seed.repositories), 100)]
    lists = pages + [f"/v2/{repository}/tags/list" for repository in seed.repositories]
    manifests = [f"/v2/{repository}/manifests/{tag}" for repository, tag, _ in seed.images]
    configs = [f"/v2/{repository}/blobs/{config}" for repository, _, config in seed.images]
    return lists + manifests + configs, lists + manifests


def table_problem(frame: pd.DataFrame, tags: int) -> str:
    """Empty when ``frame`` is the full table, else what is wrong with it."""
    if len(frame) != tags:
        return f"{len(frame)} rows, expected {tags}"
    for column in ("digest", "size", "platforms", "created"):
        if frame[column].isna().any():
            return f"missing values in {column}"
    return ""


def _own_cpu() -> float:
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


def max_age_in_new_process(host: str) -> tuple[float, int, int]:
    """(seconds for ``images(max_age=3600)`` after the import, rows, requests sent)."""
    script = textwrap.dedent(f"""
        import time
        import registry_widgets
        start = time.perf_counter()
        table = registry_widgets.images({host!r}, max_age=3600)
        print(time.perf_counter() - start, len(table), table.attrs["requests"])
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=600, env=dict(os.environ), check=True)
    seconds, rows, sent = done.stdout.split()
    return float(seconds), int(rows), int(sent)


def first_rows(host: str) -> tuple[float, float, int]:
    """A cold ``ImageTable(background=True)``: (seconds to its first rows, to all, rows)."""
    from registry_widgets.widgets import ImageTable

    start = time.perf_counter()
    table = ImageTable(host, background=True)
    first = None
    while table.busy:  # the panel lists in its worker thread
        if first is None and len(table.frame):
            first = time.perf_counter() - start
        time.sleep(0.005)
    table.wait()
    total = time.perf_counter() - start
    if table.last_error is not None:
        raise table.last_error
    return (first if first is not None else total), total, len(table.frame)


def micro(registry: LocalRegistry, repository: str, tag: str) -> dict[str, float]:
    """Client CPU (ms) per small manifest GET, sent ``MICRO_REQUESTS`` times in a row over
    one keep-alive connection, by each client."""
    path = f"/v2/{repository}/manifests/{tag}"
    headers = {"Accept": ACCEPT}
    host, port = registry.host.rsplit(":", 1)
    out: dict[str, float] = {}

    def timed(name: str, send) -> None:
        send()  # connect, warm up
        start = _own_cpu()
        for _ in range(MICRO_REQUESTS):
            send()
        out[name] = (_own_cpu() - start) * 1000 / MICRO_REQUESTS

    session = requests.Session()
    session.trust_env = False
    timed("requests", lambda: session.get(registry.url + path, headers=headers).content)
    session.close()
    pool = urllib3.HTTPConnectionPool(host, int(port), maxsize=1)
    timed("urllib3", lambda: pool.request("GET", path, headers=headers).data)
    pool.close()
    connection = http.client.HTTPConnection(host, int(port))

    def plain() -> bytes:
        connection.request("GET", path, headers=headers)
        return connection.getresponse().read()

    timed("http.client", plain)
    connection.close()
    fresh_clients()
    client = clients.client_for(registry.host)
    timed("registry_widgets transport", lambda: client.transport.request(
        "GET", path, headers=headers, scopes=()).content)
    timed("registry_widgets get_manifest (+ parse, digest check)",
          lambda: client.get_manifest(repository, tag))
    fresh_clients()
    return out


def inventory_scenario(settings: Settings, report: Report, registry: LocalRegistry,
                       seed: InventorySeed, *, size_label: str | None = None,
                       main: bool = True) -> pd.DataFrame | None:
    """One size of scenario 4. ``main``: the 10,000-tag size, where the targets apply.
    Returns the last full ``images()`` table (scenario 5 renders it)."""
    tags = seed.tags
    label = size_label or f"{tags:,} tags, {len(seed.repositories):,} repositories"
    names = {kind: f"4 image table, {label}: {kind}" for kind in
             ("cold", "warm, current", "max_age=3600", "first rows")}
    cold_urls, warm_urls = floor_urls(seed)
    cold_floor = report.add(names["cold"], f"floor: curl --parallel 16, {len(cold_urls):,} "
                            "GETs", peer=True)
    cold = report.add(names["cold"], "registry_widgets.images (16 workers, empty index)")
    warm_floor = report.add(names["warm, current"], f"floor: curl --parallel 16, "
                            f"{len(warm_urls):,} requests", peer=True)
    warm = report.add(names["warm, current"], "registry_widgets.images (index from the cold "
                      "run; every tag verified now)")
    aged = report.add(names["max_age=3600"], "registry_widgets.images(max_age=3600), new "
                      "process, after import")
    first = report.add(names["first rows"], "ImageTable(background=True), cold: first rows")
    full = report.add(names["first rows"], "ImageTable(background=True), cold: all rows")
    cache = settings.work_dir / f"inventory-cache-{tags}"
    pid = registry._popen.pid if getattr(registry, "_popen", None) else None
    cpu: dict[int, list[tuple[float, float, int]]] = {}  # id(row) -> (registry, client, n)
    table: pd.DataFrame | None = None
    for number in range(settings.runs):
        log(f"scenario 4 ({label}) run {number + 1}")
        index.close_shared()
        shutil.rmtree(cache, ignore_errors=True)
        cache.mkdir(parents=True)
        os.environ["XDG_CACHE_HOME"] = str(cache)
        for row in (cold, warm):
            fresh_clients()
            try:
                with CpuMeter(pid) as meter, Stopwatch() as watch:
                    frame = registry_widgets.images(registry.host)
                row.samples.append(watch.seconds)
                cpu.setdefault(id(row), []).append((meter.registry, meter.client,
                                                    frame.attrs["requests"]))
                row.error = row.error or table_problem(frame, tags)
                table = frame
            except Exception as e:  # noqa: BLE001 - report and go on
                row.error = f"{type(e).__name__}: {e}"[:300]
        try:
            seconds, rows, sent = max_age_in_new_process(registry.host)
            aged.samples.append(seconds)
            if rows != tags or sent:
                aged.error = aged.error or f"{rows} rows, {sent} requests"
        except Exception as e:  # noqa: BLE001
            aged.error = f"{type(e).__name__}: {e}"[:300]
        for row, urls, head in ((cold_floor, cold_urls, False), (warm_floor, warm_urls, True)):
            try:
                with CpuMeter(pid) as meter:
                    row.samples.append(curl_floor(registry, urls,
                                                  settings.work_dir / "urls.curl", head=head))
                cpu.setdefault(id(row), []).append((meter.registry, meter.client, len(urls)))
            except Exception as e:  # noqa: BLE001
                row.error = f"{type(e).__name__}: {e}"[:300]
        index.close_shared()
        shutil.rmtree(cache, ignore_errors=True)  # first rows: cold again
        cache.mkdir(parents=True)
        fresh_clients()
        try:
            seconds, total, rows = first_rows(registry.host)
            first.samples.append(seconds)
            full.samples.append(total)
            if rows != tags:
                full.error = full.error or f"{rows} rows, expected {tags}"
        except Exception as e:  # noqa: BLE001
            first.error = f"{type(e).__name__}: {e}"[:300]
        fresh_clients()

    cold.note = ("catalog, tag lists, a GET of each manifest by tag, then a config per "
                 "digest.")
    warm.note = "catalog, tag lists and a HEAD per tag; what each digest is from the index."
    cold_floor.note = "catalog pages, tag lists, GET manifest by tag, GET config."
    warm_floor.note = ("catalog pages, tag lists and HEAD manifest by tag: the least a listing "
                       "that is current must ask (tag lists carry no digests).")
    aged.note = "the index alone: no request is sent (checked)."
    first.note = "a cold listing lists the first 8 repositories first and shows them."
    for row in (cold, warm, cold_floor, warm_floor):
        used = sorted(cpu.get(id(row), []))
        if used:
            registry_cpu, client_cpu, sent = used[len(used) // 2]
            row.note += (f" CPU: registry {registry_cpu:.1f} s, client {client_cpu:.1f} s "
                         f"({client_cpu * 1000 / max(sent, 1):.2f} ms per request, {sent:,} "
                         "requests).")
    if main and not settings.quick:
        for row in (cold, warm):
            row.target = f"≤ {RATIO_TARGET:g} × curl"
            ratio = report.ratio(row)
            row.met = ratio is not None and ratio <= RATIO_TARGET
        aged.target, aged.met = f"≤ {MAX_AGE_TARGET:g} s", \
            aged.median is not None and aged.median <= MAX_AGE_TARGET and not aged.error
        first.target, first.met = f"≤ {FIRST_ROWS_TARGET:g} s", \
            first.median is not None and first.median <= FIRST_ROWS_TARGET
    return table


def cpu_scenario(settings: Settings, report: Report, registry: LocalRegistry,
                 seed: InventorySeed) -> None:
    """Client CPU per small manifest GET, each client alone over keep-alive."""
    repository, tag, _ = seed.images[0]
    name = f"4 client CPU per small manifest GET ({MICRO_REQUESTS:,} in a row, keep-alive)"
    rows: dict[str, object] = {}
    for _ in range(settings.runs):
        for case, ms in micro(registry, repository, tag).items():
            row = rows.get(case) or report.add(name, case, unit="ms")
            rows[case] = row
            row.samples.append(ms)  # type: ignore[attr-defined]
    target = rows.get("registry_widgets transport")
    if target is not None and not settings.quick:
        target.target = f"≤ {CPU_TARGET_MS:g} ms"  # type: ignore[attr-defined]
        target.met = target.median <= CPU_TARGET_MS  # type: ignore[attr-defined]


def describe_seed(seconds: float, repositories: int, tags: int) -> str:
    return (f"Scenario 4 registry: {repositories:,} repositories under "
            f"{max(1, repositories // 25)} namespaces, {tags:,} tags, each its own image "
            f"(own config, {tags:,} distinct manifests) sharing 6 tiny layers; seeded over HTTP "
            f"in {seconds:.0f} s (not measured).")
