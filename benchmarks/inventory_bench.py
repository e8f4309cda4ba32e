"""Scenario 4: the full image table of a registry with 1,000 repositories and 10,000 tags.

``registry_widgets.images`` cold (an empty detail cache) and warm (the cache the cold run
left), each with new clients, against a naive lister: plain ``requests`` (one keep-alive
session), one request at a time: the catalog (following ``Link``: distribution pages by
100), each tag list (not paginated by distribution 2.8), then each tag's manifest and config.
When ``naive_sample`` is less than the repositories, the naive lister reads the whole catalog
but only that many repositories, and its time is extrapolated (the table says so).

Floors: the same requests sent by ``curl --parallel`` (16 at a time, keep-alive, bodies
thrown away): what the registry alone needs to answer them. A fresh listing cannot avoid one
request per tag (tag lists carry no digests), so these bound any client.

The seeded registry is kept for all runs of one benchmark run.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import pandas as pd
import requests

import registry_widgets
from registry_widgets.stack import LocalRegistry

from .copy_bench import ACCEPT
from .harness import CpuMeter, Settings, Stopwatch, fresh_clients, log, run
from .report import Report
from .seed import InventorySeed

COLD_TARGET, WARM_TARGET = 20.0, 2.0  # seconds, at 10,000 tags


def naive_images(registry: LocalRegistry, *, limit: int | None = None
                 ) -> tuple[pd.DataFrame, int, float]:
    """The image table the simple way; also how many repositories the catalog listed and
    the seconds the catalog took.

    ``limit`` reads the tags of only the first ``limit`` repositories.
    """
    session = requests.Session()
    session.trust_env = False
    base = registry.url
    repositories: list[str] = []
    start = time.perf_counter()
    url: str | None = f"{base}/v2/_catalog"
    while url:
        response = session.get(url, timeout=30)
        response.raise_for_status()
        repositories += response.json()["repositories"]
        url = response.links.get("next", {}).get("url")
        url = base + url if url and url.startswith("/") else url
    catalog_seconds = time.perf_counter() - start
    rows: list[dict[str, Any]] = []
    for repository in repositories[:limit]:
        tags = session.get(f"{base}/v2/{repository}/tags/list", timeout=30).json()["tags"] or []
        for tag in tags:
            response = session.get(f"{base}/v2/{repository}/manifests/{tag}", timeout=30,
                                   headers={"Accept": ACCEPT})
            manifest = response.json()
            config = session.get(f"{base}/v2/{repository}/blobs/{manifest['config']['digest']}",
                                 timeout=30).json()
            rows.append({"repository": repository, "tag": tag,
                         "digest": response.headers["Docker-Content-Digest"],
                         "size": manifest["config"]["size"] + sum(
                             layer["size"] for layer in manifest["layers"]),
                         "platforms": [f"{config['os']}/{config['architecture']}"],
                         "created": config.get("created")})
    session.close()
    frame = pd.DataFrame(rows)
    if len(frame):
        frame["created"] = pd.to_datetime(frame["created"], utc=True)
    return frame, len(repositories), catalog_seconds


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
    """(cold, warm) request paths: tag lists plus, cold, GET manifest by tag and its config;
    warm, HEAD manifest by tag."""
    lists = [f"/v2/{repository}/tags/list" for repository in seed.repositories]
    manifests = [f"/v2/{repository}/manifests/{tag}" for repository, tag, _ in seed.images]
    configs = [f"/v2/{repository}/blobs/{config}" for repository, _, config in seed.images]
    return lists + manifests + configs, lists + manifests


def _complete(frame: pd.DataFrame, tags: int) -> str:
    """Empty when ``frame`` is the full table, else what is wrong with it."""
    if len(frame) != tags:
        return f"{len(frame)} rows, expected {tags}"
    for column in ("digest", "size", "platforms", "created"):
        if frame[column].isna().any():
            return f"missing values in {column}"
    return ""


def inventory_scenario(settings: Settings, report: Report, registry: LocalRegistry,
                       seed: InventorySeed) -> pd.DataFrame | None:
    """Returns the last full ``images()`` table (scenario 5 renders it)."""
    tags = seed.tags
    label = f"{tags:,} tags, {settings.repositories:,} repositories"
    cold_name, warm_name = f"4 image table, {label}: cold", f"4 image table, {label}: warm cache"
    cold = report.add(cold_name, "registry_widgets.images (16 workers, empty cache)")
    warm = report.add(warm_name, "registry_widgets.images (cache from the cold run)")
    sample = settings.naive_sample if 0 < settings.naive_sample < settings.repositories else None
    naive_case = "naive sequential requests (manifest + config per tag)" + (
        " (extrapolated)" if sample else "")
    naive = report.add(cold_name, naive_case, peer=True)
    naive_warm = report.add(warm_name, naive_case, peer=True)
    cold_urls, warm_urls = floor_urls(seed)
    cold_floor = report.add(cold_name, f"floor: curl --parallel 16, {len(cold_urls):,} GETs")
    warm_floor = report.add(warm_name, f"floor: curl --parallel 16, {len(warm_urls):,} requests")
    cache = settings.work_dir / "inventory-cache"
    pid = registry._popen.pid if getattr(registry, "_popen", None) else None
    cpu: dict[int, list[tuple[float, float]]] = {}  # id(row) -> [(registry, client) per run]
    table: pd.DataFrame | None = None
    for number in range(settings.runs):
        log(f"scenario 4 run {number + 1}")
        shutil.rmtree(cache, ignore_errors=True)
        cache.mkdir(parents=True)
        os.environ["XDG_CACHE_HOME"] = str(cache)
        for row in (cold, warm):
            fresh_clients()
            try:
                with CpuMeter(pid) as meter, Stopwatch() as watch:
                    frame = registry_widgets.images(registry.host)
                row.samples.append(watch.seconds)
                cpu.setdefault(id(row), []).append((meter.registry, meter.client))
                row.error = row.error or _complete(frame, tags)
                table = frame
            except Exception as e:  # noqa: BLE001 - report and go on
                row.error = f"{type(e).__name__}: {e}"[:300]
        try:
            with Stopwatch() as watch:
                frame, listed, catalog = naive_images(registry, limit=sample)
            seconds = watch.seconds
            if sample:
                # The catalog was read in full; the rest scales with the repositories.
                seconds = catalog + (seconds - catalog) * listed / sample
            naive.samples.append(seconds)
            naive_warm.samples.append(seconds)
            expected = tags if not sample else tags * sample // settings.repositories
            naive.error = naive.error or _complete(frame, expected)
        except Exception as e:  # noqa: BLE001
            naive.error = f"{type(e).__name__}: {e}"[:300]
        for row, urls, head in ((cold_floor, cold_urls, False), (warm_floor, warm_urls, True)):
            try:
                with CpuMeter(pid) as meter:
                    row.samples.append(curl_floor(registry, urls,
                                                  settings.work_dir / "urls.curl", head=head))
                cpu.setdefault(id(row), []).append((meter.registry, meter.client))
            except Exception as e:  # noqa: BLE001
                row.error = f"{type(e).__name__}: {e}"[:300]

    if sample:
        naive.note = (f"measured on {sample} of {settings.repositories} repositories "
                      f"({sample * settings.tags_per_repository:,} tags) after the whole "
                      f"catalog, scaled by {settings.repositories / sample:g}; one keep-alive "
                      "session")
    else:
        naive.note = "measured on every repository; one keep-alive session"
    naive_warm.note = "has no cache: the same as cold"
    cold.note = ("catalog in pages of 100, tag lists, a GET of each manifest by tag, then a "
                 "config per digest (21,000 requests at 10,000 tags).")
    warm.note = "catalog, tag lists and a HEAD per tag; details from the disk cache."
    cold_floor.note = ("tag lists, GET manifest by tag, GET config: the least a fresh, full "
                       "listing asks.")
    warm_floor.note = ("tag lists and HEAD manifest by tag: the least a listing that is current "
                       "must ask (tag lists carry no digests).")
    for row in (cold, warm, cold_floor, warm_floor):
        used = sorted(cpu.get(id(row), []))
        if used and pid:
            registry_cpu, client_cpu = used[len(used) // 2]
            row.note += f" CPU: registry {registry_cpu:.1f} s, client {client_cpu:.1f} s."
    if not settings.quick:  # the targets are for 10,000 tags
        cold.target, warm.target = f"< {COLD_TARGET:g} s", f"< {WARM_TARGET:g} s"
        cold.met = cold.median is not None and cold.median < COLD_TARGET
        warm.met = warm.median is not None and warm.median < WARM_TARGET
        for row, floor, target in ((cold, cold_floor, COLD_TARGET),
                                   (warm, warm_floor, WARM_TARGET)):
            if not row.met and floor.median is not None and floor.median >= target:
                row.note += (f" Out of reach here: the registry alone needs "
                             f"{floor.median:.1f} s for the requests (the curl floor).")
    return table


def describe_seed(seconds: float, repositories: int, tags: int) -> str:
    return (f"Scenario 4 registry: {repositories:,} repositories under "
            f"{max(1, repositories // 25)} namespaces, {tags:,} tags, each its own image "
            f"(own config, {tags:,} distinct manifests) sharing 6 tiny layers; seeded over HTTP "
            f"in {seconds:.0f} s (not measured).")

