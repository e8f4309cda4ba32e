"""Scenario 6: security scanning.

6a. SBOM of a 1 GiB image (three layers: Debian 12 package databases, then two 512 MiB layers
    of 4 MiB files) by ``registry_widgets.sbom``, against streaming the same layers through
    the registry with the package's own client and doing nothing with them (the floor: the
    download and its digest check). Each runs in its own process through the memory
    scenario's launcher, which reports the peak RSS; the time is the call itself, measured
    inside that process (start-up excluded, for both). Targets: <= 1.2x the stream, peak RSS
    <= 150 MiB.
6b. Matching 10,000 packages against a 100,000-record OSV feed (a zip as OSV exports it) with
    the index already built; the version caches are cleared before each run. Target <= 1 s.
    Building the index is reported too (once per feed; no target).
"""

from __future__ import annotations

import io
import json
import os
import random
import statistics
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

from devstack import LocalRegistry
from tests.support import files_layer, push_image

from .harness import GiB, MiB, Settings, fresh_clients, fresh_registry, log
from .memory_bench import peak_of
from .report import Report

RSS_LIMIT_MIB = 150
RATIO_LIMIT = 1.2
MATCH_LIMIT_S = 1.0
DATA = Path(__file__).resolve().parents[1] / "tests" / "scan_data"

SBOM_CHILD = ("import sys, time, registry_widgets; t = time.perf_counter(); u = time.process_time(); "
              "c = registry_widgets.sbom(sys.argv[1]); "
              "open(sys.argv[2], 'w').write(f'{time.perf_counter() - t} {time.process_time() - u} "
              "{len(c.packages)}')")
STREAM_CHILD = ("import sys, time; from registry_widgets.reference import parse_reference; "
                "from registry_widgets.operations.core.clients import client_for; "
                "r = parse_reference(sys.argv[1]); t = time.perf_counter(); u = time.process_time(); "
                "c = client_for(r.registry); "
                "m = c.get_manifest(r.repository, r.reference); n = 0\n"
                "for d in m.layers:\n"
                "    for chunk in c.iter_blob(r.repository, d.digest): n += len(chunk)\n"
                "open(sys.argv[2], 'w').write(f'{time.perf_counter() - t} {time.process_time() - u} {n}')")


def data_layer(size: int, file_size: int, seed: int) -> bytes:
    """A gzip (level 1) tar of random files: incompressible, like most of a big image."""
    import gzip

    rng = random.Random(seed)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for i in range(max(1, size // file_size)):
            info = tarfile.TarInfo(f"opt/data/{seed}/{i:05d}.bin")
            info.size, info.mtime = file_size, 1700000000
            tar.addfile(info, io.BytesIO(rng.randbytes(file_size)))
    return gzip.compress(raw.getvalue(), compresslevel=1, mtime=0)


def package_layer() -> bytes:
    status = (DATA / "debian12-dpkg-status").read_bytes()
    # ~1,500 packages: the real stanzas under other names, like a full Debian system
    stanzas = [s for s in status.split(b"\n\n") if s.strip()]
    many = b"\n\n".join(s.replace(b"Package: ", b"Package: p%d-" % i, 1)
                        for i in range(250) for s in stanzas)
    return files_layer({"etc/os-release": (DATA / "debian12-os-release").read_bytes(),
                        "var/lib/dpkg/status": many + b"\n"})


def _child(code: str, ref: str, work: Path) -> tuple[float, float, float, str]:
    """Run one child; (wall seconds, CPU seconds of the child, peak RSS MiB, what it counted)."""
    out = work / f"child-{os.getpid()}-{time.perf_counter_ns()}.txt"
    _, peak = peak_of([sys.executable, "-c", code, ref, str(out)])
    seconds, cpu, what = out.read_text().split()
    out.unlink()
    return float(seconds), float(cpu), peak, what


def sbom_scenario(settings: Settings, report: Report, registry: LocalRegistry, *,
                  size: int | None = None) -> None:
    size = size or (4 * MiB if settings.quick else 1 * GiB)
    label = f"{size // MiB} MiB" if size < GiB else f"{size // GiB} GiB"
    scenario = f"7 SBOM of a {label} image"
    log(f"scenario 7: pushing the {label} image")
    half = size // 2
    file_size = min(4 * MiB, max(64 * 1024, half // 8))
    layers = [package_layer(), data_layer(half, file_size, 1), data_layer(half, file_size, 2)]
    image = push_image(registry, "bench/scan", "1.0", layers=layers)
    del layers
    ours = report.add(scenario, "registry_widgets.sbom (own process)")
    stream = report.add(scenario, "stream the layers through the registry (the floor)", peer=True)
    ours_rss = report.add(f"7 peak RSS of that SBOM ({label})", "registry_widgets.sbom", unit="MiB")
    stream_rss = report.add(f"7 peak RSS of that SBOM ({label})", "streaming the layers",
                            unit="MiB", peer=True)
    work = Path(tempfile.mkdtemp(prefix="scan-bench-", dir=settings.work_dir))
    cpu: dict[str, list[float]] = {"ours": [], "stream": []}
    for number in range(settings.runs):
        log(f"scenario 7a run {number + 1}")
        cases = [(stream, stream_rss, STREAM_CHILD), (ours, ours_rss, SBOM_CHILD)]
        for row, rss, code in cases[number % 2:] + cases[:number % 2]:  # take turns going first
            try:
                os.sync()
                seconds, used, peak, what = _child(code, image.reference, work)
                row.samples.append(seconds)
                cpu["ours" if row is ours else "stream"].append(used)
                rss.samples.append(peak)
                if row is ours and int(what) < 1000:
                    row.error = f"only {what} packages found"
            except Exception as e:  # noqa: BLE001 - report and go on
                row.error = f"{type(e).__name__}: {e}"[:300]
    if ours.samples and stream.samples:
        ratio = ours.median / stream.median
        ours.target = f"<= {RATIO_LIMIT}x the stream"
        ours.met = ratio <= RATIO_LIMIT if not settings.quick else None
        ours.note = f"{ratio:.2f}x the stream"
        if cpu["ours"] and cpu["stream"]:
            ours.note += (f"; CPU of the process {statistics.median(cpu['ours']):.2f} s vs "
                          f"{statistics.median(cpu['stream']):.2f} s (the registry's own CPU not counted)")
    if ours_rss.samples:
        ours_rss.target = f"<= {RSS_LIMIT_MIB} MiB"
        ours_rss.met = max(ours_rss.samples) <= RSS_LIMIT_MIB  # a peak: the worst run counts


def synthetic_feed(path: Path, records: int, names: int, seed: int = 6) -> list[str]:
    """A zip of OSV records over four ecosystems (CVSS on a third of them); the names."""
    rng = random.Random(seed)
    ecosystems = ["Debian:12", "Alpine:v3.19", "PyPI", "npm"]
    pool = [f"pkg{i}" for i in range(names)]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for i in range(records):
            eco = ecosystems[i % 4]
            record = {"id": f"BENCH-{i}", "modified": "2024-01-01T00:00:00Z",
                      "aliases": [f"CVE-2024-{i}"], "summary": "synthetic advisory",
                      "affected": [{"package": {"ecosystem": eco, "name": rng.choice(pool)},
                                    "ranges": [{"type": "ECOSYSTEM", "events": [
                                        {"introduced": "0"}, {"fixed": _version(rng, eco)}]}]}]}
            if i % 3 == 0:
                record["severity"] = [{"type": "CVSS_V3",
                                       "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"}]
            archive.writestr(f"{eco.split(':')[0]}/BENCH-{i}.json", json.dumps(record))
    return pool


def _version(rng: random.Random, ecosystem: str) -> str:
    a, b, c = rng.randint(0, 5), rng.randint(0, 20), rng.randint(0, 30)
    if ecosystem.startswith("Debian"):
        return f"{a}.{b}.{c}-1~deb12u{rng.randint(1, 3)}"
    if ecosystem.startswith("Alpine"):
        return f"{a}.{b}.{c}-r{rng.randint(0, 12)}"
    return f"{a}.{b}.{c}"


def match_scenario(settings: Settings, report: Report) -> None:
    from registry_widgets.operations.security import scan as scan_module
    from registry_widgets.operations.security import versions
    from registry_widgets.operations.security.osv import open_feed
    from registry_widgets.operations.security.sbom import Package

    records, packages = (2_000, 500) if settings.quick else (100_000, 10_000)
    scenario = f"7 match {packages:,} packages against {records:,} advisories"
    build = report.add(scenario, "build the feed index (once per feed)")
    timed = report.add(scenario, "registry_widgets match (index built)")
    work = Path(tempfile.mkdtemp(prefix="scan-feed-", dir=settings.work_dir))
    archive = work / "all.zip"
    log(f"scenario 7b: writing a {records:,}-record feed")
    pool = synthetic_feed(archive, records, names=max(100, records // 5))
    rng = random.Random(7)
    kinds = [("Debian:12", "deb"), ("Alpine:v3.19", "apk"), ("PyPI", "pypi"), ("npm", "npm")]
    image = [Package(name=rng.choice(pool), version=_version(rng, kinds[i % 4][0]),
                     type=kinds[i % 4][1], ecosystem=kinds[i % 4][0]) for i in range(packages)]
    try:
        start = time.perf_counter()
        feed = open_feed(archive)
        build.samples.append(time.perf_counter() - start)
        found, used = 0, []
        for number in range(settings.runs):
            log(f"scenario 7b run {number + 1}")
            versions.parse_version.cache_clear()
            start, cpu = time.perf_counter(), time.process_time()
            found = len(scan_module.match(image, feed))
            timed.samples.append(time.perf_counter() - start)
            used.append(time.process_time() - cpu)
        timed.note = f"{found:,} findings; CPU {statistics.median(used):.2f} s"
        timed.target = f"<= {MATCH_LIMIT_S:g} s"
        timed.met = max(timed.samples) <= MATCH_LIMIT_S if not settings.quick else None
    except Exception as e:  # noqa: BLE001
        timed.error = f"{type(e).__name__}: {e}"[:300]


def scan_scenario(settings: Settings, report: Report) -> None:
    fresh_clients()
    with fresh_registry(settings, "scan") as registry:
        sbom_scenario(settings, report, registry)
    match_scenario(settings, report)
