"""Scenario 7: mirror a namespace, ``registry_widgets.sync`` against ``skopeo sync``.

The source: ``sync_repositories`` repositories x ``sync_tags`` tags under one namespace,
each tag its own small image (own config and a small layer of its own) on a base layer all
of them share; seeded over raw HTTP, the base mounted into every repository (not timed).

Cases, each into a fresh target registry, then again on the target it just filled (the
rerun): ``registry_widgets.sync`` on its default thread pool in this process;
``skopeo sync --all --src yaml`` (Debian's 1.9.3: one image at a time) with a YAML file
listing the same repositories; and ``registry_widgets.sync`` on a local Dask cluster (a
scheduler and two worker processes, started before the timing), which reports which
workers copied. Every target digest is checked against the source after each cold run.
"""

from __future__ import annotations

import importlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import yaml

import registry_widgets
from registry_widgets.operations.mirror.sync import by_status
from devstack import LocalRegistry
from tests.support.images import put_manifest, upload_blob
from tests.support.oracle import OCI_MANIFEST, RawClient

from .harness import KiB, Settings, Stopwatch, fresh_clients, fresh_registry, log, run
from .report import Report, Row

NAMESPACE = "mirror-src"
FIRST_TARGET = 0.5  # x skopeo sync
RERUN_TARGET = 0.2  # x our first run


def compact(value: dict) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def seed(registry: LocalRegistry, repositories: int, tags: int) -> dict[str, str]:
    """Push the source namespace; ``{"repo:tag": digest}``."""
    client = RawClient(registry)
    base = os.urandom(256 * KiB)
    first = f"{NAMESPACE}/repo000"
    base_digest = upload_blob(client, first, base)

    def one_repository(index: int) -> dict[str, str]:
        repo = f"{NAMESPACE}/repo{index:03d}"
        if repo != first:
            client.request("POST", f"/v2/{repo}/blobs/uploads/?mount={base_digest}&from={first}",
                           scope=f"repository:{repo}:pull,push", expect=(201, 202))
        pushed = {}
        for t in range(tags):
            tag = f"1.{t}.0"
            layer = os.urandom(8 * KiB)
            layer_digest = upload_blob(client, repo, layer)
            config = compact({"architecture": "amd64", "os": "linux",
                                 "created": f"2024-01-{t + 1:02d}T00:00:00Z",
                                 "rootfs": {"type": "layers",
                                            "diff_ids": [base_digest, layer_digest]}})
            config_digest = upload_blob(client, repo, config)
            manifest = compact({
                "schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           "digest": config_digest, "size": len(config)},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                            "digest": d, "size": n}
                           for d, n in ((base_digest, len(base)), (layer_digest, len(layer)))],
            })
            pushed[f"{repo}:{tag}"] = put_manifest(client, repo, tag, manifest, OCI_MANIFEST)
        return pushed

    with ThreadPoolExecutor(max_workers=8) as pool:
        images: dict[str, str] = {}
        for part in pool.map(one_repository, range(repositories)):
            images.update(part)
    return images


def check_target(target: LocalRegistry, prefix: str, images: dict[str, str]) -> str:
    """"" when every image is at ``prefix/<repository>`` with the source digest, else why."""
    client = RawClient(target)
    accept = {"Accept": OCI_MANIFEST}

    def digest(image: str) -> str | None:
        repo, tag = image.split(":")
        path = f"{prefix}/{repo.split('/', 1)[1]}" if prefix else repo
        response = client.request("HEAD", f"/v2/{path}/manifests/{tag}", headers=accept)
        return response.headers.get("Docker-Content-Digest")

    with ThreadPoolExecutor(max_workers=8) as pool:
        found = dict(zip(images, pool.map(digest, images)))
    wrong = [image for image, d in found.items() if d != images[image]]
    return f"{len(wrong)} of {len(images)} images wrong at the target, e.g. {wrong[0]}" \
        if wrong else ""


def skopeo_sync(source: LocalRegistry, target: LocalRegistry, repositories: list[str],
                work: str) -> float:
    config = os.path.join(work, "skopeo-sync.yaml")
    with open(config, "w") as handle:
        yaml.safe_dump({source.host: {"tls-verify": False,
                                      "images": {repo: [] for repo in repositories}}}, handle)
    seconds, _ = run(["skopeo", "sync", "--all", "--preserve-digests", "--src", "yaml",
                      "--dest", "docker",
                      "--dest-tls-verify=false", config, f"{target.host}/skopeo"], timeout=3600)
    return seconds


def ours(source: LocalRegistry, target: LocalRegistry, executor: object = None,
         workers: set[str] | None = None) -> float:
    fresh_clients()
    with Stopwatch() as watch:
        result = registry_widgets.sync(f"{source.host}/{NAMESPACE}", f"{target.host}/mirror",
                                       executor=executor)  # type: ignore[arg-type]
    failed = result.details["counts"].get("failed")
    if failed:
        raise RuntimeError(f"{failed} images failed: {by_status(result)['failed'][:3]}")
    if workers is not None:
        workers.update(result.details.get("workers", []))
    return watch.seconds


def sync_scenario(settings: Settings, report: Report, source: LocalRegistry) -> None:
    count, tags = settings.sync_repositories, settings.sync_tags
    cold = f"8 sync {count} repos x {tags} tags, cold target"
    again = "8 sync, rerun (target synced)"
    log(f"scenario 8: seeding {count} repositories x {tags} tags")
    with Stopwatch() as watch:
        images = seed(source, count, tags)
    repositories = sorted({image.split(":")[0] for image in images})
    report.notes.append(f"Scenario 7 source: {count} repositories x {tags} tags under one "
                        f"namespace, each tag its own image (config and an 8 KiB layer) on a "
                        f"256 KiB base layer they all share; seeded in {watch.seconds:.1f} s.")

    cluster = client = None
    dask_error = ""
    workers: set[str] = set()
    try:
        import distributed

        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=4, processes=True,
                                           dashboard_address=None, host="127.0.0.1")
        client = distributed.Client(cluster)
        # Each worker imports the package once before the timing, as a warm cluster has.
        client.run(importlib.import_module, "registry_widgets.operations.mirror.sync")
    except Exception as e:  # noqa: BLE001 - the extra may be missing: say so in the table
        dask_error = f"no Dask cluster: {type(e).__name__}: {e}"[:300]

    ours_row = report.add(cold, "registry_widgets.sync (thread pool, 8 repositories at once)")
    skopeo_row = report.add(cold, "skopeo sync --all --preserve-digests (YAML source)",
                            peer=True)
    dask_row = report.add(cold, "registry_widgets.sync on Dask (scheduler + 2 worker processes)")
    ours_again = report.add(again, "registry_widgets.sync (thread pool)")
    skopeo_again = report.add(again, "skopeo sync --all --preserve-digests (YAML source)",
                              peer=True)
    dask_again = report.add(again, "registry_widgets.sync on Dask")
    dask_row.error = dask_again.error = dask_error

    Case = tuple[Row, Row, Callable[[LocalRegistry], float], str]
    cases: list[Case] = [
        (ours_row, ours_again, lambda target: ours(source, target), "mirror"),
        (skopeo_row, skopeo_again,
         lambda target: skopeo_sync(source, target, repositories, str(settings.work_dir)),
         "skopeo"),
    ]
    if client is not None:
        executor = client.get_executor()
        cases.append((dask_row, dask_again,
                      lambda target: ours(source, target, executor, workers), "mirror"))
    try:
        for number in range(settings.runs):
            order = cases[number % len(cases):] + cases[:number % len(cases)]
            for row, rerun, tool, prefix in order:
                os.sync()
                with fresh_registry(settings, "sync-target") as target:
                    try:
                        log(f"scenario 8 run {number + 1}: {row.case}")
                        row.samples.append(tool(target))
                        problem = check_target(target, prefix, images)
                        if problem:
                            row.error = problem
                        rerun.samples.append(tool(target))
                    except Exception as e:  # noqa: BLE001 - one failing tool must not end the run
                        row.error = f"{type(e).__name__}: {e}"[:300]
                        log(f"  failed: {row.error}")
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()

    for row in (ours_row, dask_row):
        if row.median and skopeo_row.median:
            row.target = f"≤ {FIRST_TARGET} × skopeo sync"
            row.met = row.median <= FIRST_TARGET * skopeo_row.median
    for first, rerun in ((ours_row, ours_again), (dask_row, dask_again)):
        if first.median and rerun.median:
            rerun.target = f"≤ {RERUN_TARGET} × its first run"
            rerun.met = rerun.median <= RERUN_TARGET * first.median
            rerun.note = f"{rerun.median / first.median:.2f} × its first run; plan only: " \
                         "a tag list, a HEAD at each side per tag"
    ours_row.note = "target digests = source digests (checked for every image)"
    skopeo_row.note = "one image at a time; rerun: skopeo 1.9.3 copies every image again " \
                      "(its blobs are skipped)"
    if client is not None:
        dask_row.note = (f"workers that copied: {len(workers)} "
                         f"({', '.join(sorted(w.split(':')[-1] for w in workers))} by pid); "
                         "cluster start not timed")
        if len(workers) < 2 and not settings.quick:  # a handful of quick units may not spread
            dask_row.error = f"only {len(workers)} worker(s) did work"
