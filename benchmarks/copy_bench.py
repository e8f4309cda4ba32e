"""Scenarios 1 and 2: registry-to-registry copies, side by side.

1. A 512 MiB image (busybox base plus two 256 MiB random layers) from registry A to a fresh
   registry, with ``registry_widgets.copy``, ``skopeo copy``, the engine (``pull``, ``tag``,
   ``push``) and the raw bound: curl streaming every blob concurrently, GET piped into PUT,
   then the manifest. Then a rerun on the target that now holds everything, and a copy to a
   new tag there (blobs present, manifest new).
2. A two-platform OCI index: ``registry_widgets.copy`` (all platforms, and one), ``skopeo
   copy`` (its default: the current platform only) and ``skopeo copy --all``; time and the
   digest each leaves at the target.

Cases of a run take turns in a rotating order, so a noisy moment does not always hit the
same tool (the engine, which leaves the most to write back, always goes last). Every cold
copy goes to a registry started for it, on a synced disk.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from typing import Callable

import requests

import registry_widgets
from devstack import EngineUnavailable, LocalRegistry, ensure_engine
from devstack.services import state_root

from .harness import MiB, Settings, Stopwatch, fresh_clients, fresh_registry, log, now, run
from .report import Report, Row
from .seed import push_copy_image, push_multiarch_image

SKOPEO = ["skopeo", "copy", "--quiet", "--src-tls-verify=false", "--dest-tls-verify=false"]
ACCEPT = ", ".join(("application/vnd.oci.image.index.v1+json",
                    "application/vnd.oci.image.manifest.v1+json",
                    "application/vnd.docker.distribution.manifest.list.v2+json",
                    "application/vnd.docker.distribution.manifest.v2+json"))
RERUN_TARGET = 0.3  # seconds
RAW_MARGIN = 1.10  # within 10% of the raw bound


def target_digest(registry: LocalRegistry, repository: str, tag: str) -> str | None:
    """What the target tag points at, as the registry says (HEAD, no package code)."""
    with requests.Session() as session:
        session.trust_env = False  # loopback: no proxy from the environment
        response = session.head(f"{registry.url}/v2/{repository}/manifests/{tag}",
                                headers={"Accept": ACCEPT}, timeout=30)
    return response.headers.get("Docker-Content-Digest") if response.status_code == 200 else None


# -- the tools -----------------------------------------------------------------------------

def ours(source: str, target: str, *, reuse_clients: bool = False, **options: object) -> float:
    """``registry_widgets.copy`` in this process, with new clients (as in a fresh kernel)
    unless ``reuse_clients`` (as a second call in the same kernel)."""
    if not reuse_clients:
        fresh_clients()
    with Stopwatch() as watch:
        registry_widgets.copy(source, target, **options)  # type: ignore[arg-type]
    return watch.seconds


def skopeo(source: str, target: str, *extra: str) -> float:
    seconds, _ = run([*SKOPEO, *extra, f"docker://{source}", f"docker://{target}"])
    return seconds


def engine_path(source: str, target: str, splits: list[tuple[float, float]] | None = None
                ) -> float:
    """``registry_widgets.pull``, ``tag`` and ``push`` through the Docker engine; the
    (pull, tag + push) seconds go to ``splits``."""
    start = now()
    registry_widgets.pull(source)
    pulled = now()
    registry_widgets.tag(source, target)
    registry_widgets.push(target)
    done = now()
    if splits is not None:
        splits.append((pulled - start, done - pulled))
    return done - start


def forget_local(*references: str) -> None:
    """Remove images from the engine so the next pull downloads everything (not timed)."""
    for reference in references:
        try:
            registry_widgets.remove_local(reference, force=True)
        except registry_widgets.RegistryWidgetsError:
            pass


def raw_copy(source: LocalRegistry, repository: str, tag: str, target: LocalRegistry,
             target_repository: str, target_tag: str, *, buffered: bool = False) -> float:
    """The raw bound: curl only. GET the manifest; for every blob at once, POST for an
    upload location and pipe ``curl GET`` into ``curl PUT``; then PUT the manifest.

    Streamed (default): ``curl -T -`` with the blob's ``Content-Length`` (no chunked
    encoding, no ``Expect`` round trip), so the PUT starts with the first bytes of the GET.
    ``buffered``: ``--data-binary @-`` as often written, which reads the whole blob first.
    """
    src = f"{source.url}/v2/{repository}"
    dst = f"{target.url}/v2/{target_repository}"
    start = now()
    manifest = subprocess.run(["curl", "-sf", "-H", f"Accept: {ACCEPT}", f"{src}/manifests/{tag}"],
                              check=True, capture_output=True).stdout
    body = json.loads(manifest)
    blobs = [body["config"], *body.get("layers", [])]
    put = ("-X PUT --data-binary @-" if buffered
           else "-T - -H 'Transfer-Encoding:' -H 'Expect:'")
    jobs = []
    for blob in blobs:
        script = (
            "set -euo pipefail; "
            f"loc=$(curl -sf -X POST -D - -o /dev/null '{dst}/blobs/uploads/' "
            "| sed -n 's/^[Ll]ocation: //p' | tr -d '\\r'); "
            f"curl -sf '{src}/blobs/{blob['digest']}' | curl -sf -o /dev/null {put} "
            f"-H 'Content-Length: {blob['size']}' -H 'Content-Type: application/octet-stream' "
            f"\"$loc&digest={blob['digest']}\"")
        jobs.append(subprocess.Popen(["bash", "-c", script], stderr=subprocess.PIPE, text=True))
    failures = [job.stderr.read() if job.wait() else None for job in jobs]
    if any(f is not None for f in failures):
        raise RuntimeError(f"raw curl copy failed: {[f for f in failures if f is not None]}")
    with tempfile.NamedTemporaryFile() as file:
        file.write(manifest)
        file.flush()
        subprocess.run(["curl", "-sf", "-o", "/dev/null", "-X", "PUT", "--data-binary",
                        f"@{file.name}", "-H", f"Content-Type: {body['mediaType']}",
                        f"{dst}/manifests/{target_tag}"], check=True)
    return now() - start


# -- scenario 1 ----------------------------------------------------------------------------

Copier = Callable[[LocalRegistry, str, str], float]  # (target, repository, tag) -> seconds


@dataclass
class _Case:
    row: Row
    copy: Copier
    rerun: Row | None = None
    new_tag: Row | None = None
    before: Callable[[LocalRegistry, str], None] | None = None  # untimed set-up
    keeps_digest: bool = True
    again: Copier | None = None  # the rerun, if not `copy`
    last: bool = False  # goes after the others in every run
    rerun_reused: Row | None = None  # the rerun again, clients kept from the one before


def _size_label(settings: Settings) -> str:
    total = 2 * settings.copy_layer
    return f"{total // MiB} MiB" if total >= MiB else f"{total // 1024} KiB"


def copy_scenario(settings: Settings, report: Report, source_registry: LocalRegistry) -> None:
    size = _size_label(settings)
    cold, again, newtag = (f"1 copy {size} image, cold target", "1 copy, rerun (target has it)",
                           "1 copy, new tag (target has the blobs)")
    log(f"scenario 1: pushing the {size} source image")
    image = push_copy_image(source_registry, "bench/big", "1.0", settings.copy_layer)
    source = image.reference

    def with_tool(tool: Callable[[str, str], float]) -> Copier:
        return lambda target, repo, tag: tool(source, f"{target.host}/{repo}:{tag}")

    def with_curl(buffered: bool) -> Copier:
        return lambda target, repo, tag: raw_copy(source_registry, "bench/big", "1.0", target,
                                                  repo, tag, buffered=buffered)

    cases = [
        _Case(report.add(cold, "registry_widgets.copy (in-process, 4 workers)"), with_tool(ours),
              report.add(again, "registry_widgets.copy (new clients)"),
              report.add(newtag, "registry_widgets.copy"),
              rerun_reused=report.add(again, "registry_widgets.copy (clients reused)")),
        _Case(report.add(cold, "skopeo copy", peer=True), with_tool(skopeo),
              report.add(again, "skopeo copy", peer=True),
              report.add(newtag, "skopeo copy", peer=True)),
        _Case(report.add(cold, "raw bound: curl GET | curl -T - PUT, all blobs at once"),
              with_curl(buffered=False)),
        _Case(report.add(cold, "curl GET | curl --data-binary @- PUT (buffers each blob)"),
              with_curl(buffered=True)),
    ]
    splits: list[tuple[float, float]] = []
    engine_digests: set[str | None] = set()
    if settings.engine:
        engine_row = report.add(cold, "engine: pull + tag + push")
        try:
            ensure_engine(state_root())
            cases.append(_Case(engine_row, with_tool(lambda s, t: engine_path(s, t, splits)),
                               report.add(again, "engine: pull + tag + push"),
                               before=lambda target, repo: forget_local(
                                   source, f"{target.host}/{repo}:1.0"),
                               keeps_digest=False, again=with_tool(engine_path), last=True))
        except EngineUnavailable as e:
            engine_row.error = str(e)
    raw_row = cases[2].row

    # The engine leaves a gigabyte of layers to write back: it goes last in every run, and
    # every case starts with the disk synced, so no case pays for the one before.
    rotating = [case for case in cases if not case.last]
    for number in range(settings.runs):
        shift = number % len(rotating)
        order = rotating[shift:] + rotating[:shift] + [case for case in cases if case.last]
        for case in order:
            os.sync()
            with fresh_registry(settings, "copy-target") as target:
                repo = "bench/big"
                try:
                    if case.before:
                        case.before(target, repo)
                    log(f"scenario 1 run {number + 1}: {case.row.case}")
                    case.row.samples.append(case.copy(target, repo, "1.0"))
                    digest = target_digest(target, repo, "1.0")
                    if not case.keeps_digest:
                        engine_digests.add(digest)
                    elif digest != image.digest:
                        case.row.error = f"target digest {digest}, source {image.digest}"
                    if case.rerun is not None:
                        case.rerun.samples.append((case.again or case.copy)(target, repo, "1.0"))
                    if case.rerun_reused is not None:
                        case.rerun_reused.samples.append(ours(
                            source, f"{target.host}/{repo}:1.0", reuse_clients=True))
                    if case.new_tag is not None:  # the same image under another tag
                        case.new_tag.samples.append(case.copy(target, repo, "copy-2"))
                except Exception as e:  # noqa: BLE001 - one failing tool must not end the run
                    case.row.error = f"{type(e).__name__}: {e}"[:300]
                    log(f"  failed: {case.row.error}")
                finally:
                    if case.before:
                        forget_local(source, f"{target.host}/{repo}:1.0")

    ours_row, skopeo_row = cases[0].row, cases[1].row
    if ours_row.median and skopeo_row.median and raw_row.median:
        to_raw = ours_row.median / raw_row.median
        ours_row.target = f"≤ 1.00 × skopeo and ≤ {RAW_MARGIN:.2f} × raw bound"
        ours_row.met = ours_row.median <= skopeo_row.median and to_raw <= RAW_MARGIN
        ours_row.note = f"{to_raw:.2f} × raw bound; target digest = source digest"
    skopeo_row.note = "its default: 6 blobs at once, streamed"
    raw_row.note = "curl in parallel; bash + curl processes, manifest PUT last"
    cases[3].row.note = "the brief's command; reads each whole blob before sending"
    if settings.engine and len(cases) > 4:
        pulls, pushes = sorted(p for p, _ in splits), sorted(p for _, p in splits)
        split = (f"pull {pulls[len(pulls) // 2]:.1f} s, tag + push {pushes[len(pushes) // 2]:.1f} s; "
                 if splits else "")
        changed = ("the target digest differs: " if image.digest not in engine_digests
                   else "the target digest is the source's: ")
        cases[4].row.note = (f"{split}{changed}the layers are stored-gzip tars and push "
                             "re-compresses them; the engine's images are removed before "
                             "each run")
    if cases[0].rerun is not None and cases[0].rerun.median is not None:
        cases[0].rerun.target = f"< {RERUN_TARGET} s"
        cases[0].rerun.met = cases[0].rerun.median < RERUN_TARGET
        cases[0].rerun.note = ("HEAD of the target tag matches: nothing else sent. Most of "
                               "the time is the two new clients' HTTPS probe (loading the CA "
                               "bundle) before they settle on plain HTTP")
    if cases[0].new_tag is not None:
        cases[0].new_tag.note = "HEAD every blob (present), PUT the manifest"


# -- scenario 2 ----------------------------------------------------------------------------

def multiarch_scenario(settings: Settings, report: Report, source_registry: LocalRegistry) -> None:
    scenario = "2 copy a two-platform OCI index"
    log("scenario 2: pushing the two-platform index")
    index_digest, children = push_multiarch_image(source_registry, "bench/multi", "1.0",
                                                  settings.multiarch_layer)
    child_digests = {"/".join(c.platform): c.digest for c in children}
    source = f"{source_registry.host}/bench/multi:1.0"
    cases: list[tuple[Row, Callable[[str], float], str]] = [
        (report.add(scenario, "registry_widgets.copy (all platforms)"),
         lambda target: ours(source, target), "kept"),
        (report.add(scenario, "skopeo copy --all", peer=True),
         lambda target: skopeo(source, target, "--all"), "kept"),
        (report.add(scenario, "skopeo copy (default)"),
         lambda target: skopeo(source, target), "child"),
        (report.add(scenario, "registry_widgets.copy (platforms=['linux/amd64'])"),
         lambda target: ours(source, target, platforms=["linux/amd64"]), "filtered"),
    ]
    seen: dict[str, set[str]] = {row.case: set() for row, _, _ in cases}
    for number in range(settings.runs):
        order = cases[number % len(cases):] + cases[:number % len(cases)]
        for row, copy, _ in order:
            os.sync()
            with fresh_registry(settings, "multi-target") as target:
                try:
                    row.samples.append(copy(f"{target.host}/bench/multi:1.0"))
                    seen[row.case].add(target_digest(target, "bench/multi", "1.0") or "missing")
                except Exception as e:  # noqa: BLE001
                    row.error = f"{type(e).__name__}: {e}"[:300]
    for row, _, expected in cases:
        digests = seen[row.case]
        if not digests:
            continue
        if digests == {index_digest}:
            row.note = "index digest kept"
        elif digests <= set(child_digests.values()):
            platform = next(p for p, d in child_digests.items() if d in digests)
            row.note = f"digest changed: the tag now points at the {platform} image only"
        else:
            row.note = "digest changed: a rewritten index (one platform)"
        if expected == "kept":
            row.target = "index digest kept"
            row.met = digests == {index_digest}
