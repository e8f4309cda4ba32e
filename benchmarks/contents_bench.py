"""Scenario 10: ``diff`` of two images that share half their layers.

Two 500 MiB images (four layers each, 125 MiB of 4 MiB random files per layer; the first
two shared) are compared by ``registry_widgets.diff``, against streaming through the
registry, with the package's own client, only the layers that differ (the floor: what a
diff that skips the shared layers must download, with its digest check). Each runs in its
own process (the memory scenario's launcher); the time is the call itself, measured inside
that process. Target: <= 1.2x the stream of the differing layers.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from tests.support import push_image

from .harness import MiB, Settings, fresh_clients, fresh_registry, log
from .memory_bench import peak_of
from .report import Report
from .scan_bench import data_layer

RATIO_LIMIT = 1.2

DIFF_CHILD = ("import sys, time, registry_widgets; t = time.perf_counter(); "
              "d = registry_widgets.diff(sys.argv[1], sys.argv[2]); "
              "open(sys.argv[3], 'w').write(f'{time.perf_counter() - t} {len(d.files)}')")
STREAM_CHILD = (
    "import sys, time; from registry_widgets.reference import parse_reference; "
    "from registry_widgets.operations.core.clients import client_for; "
    "a, b = parse_reference(sys.argv[1]), parse_reference(sys.argv[2]); "
    "t = time.perf_counter(); c = client_for(a.registry); n = 0\n"
    "la = c.get_manifest(a.repository, a.reference).layers\n"
    "lb = c.get_manifest(b.repository, b.reference).layers\n"
    "shared = {x.digest for x in la} & {x.digest for x in lb}\n"
    "for ref, layers in ((a, la), (b, lb)):\n"
    "    for d in layers:\n"
    "        if d.digest not in shared:\n"
    "            for chunk in c.iter_blob(ref.repository, d.digest): n += len(chunk)\n"
    "open(sys.argv[3], 'w').write(f'{time.perf_counter() - t} {n}')")


def _child(code: str, a: str, b: str, work: Path) -> tuple[float, str]:
    out = work / f"child-{os.getpid()}-{time.perf_counter_ns()}.txt"
    peak_of([sys.executable, "-c", code, a, b, str(out)])
    seconds, what = out.read_text().split()
    out.unlink()
    return float(seconds), what


def contents_scenario(settings: Settings, report: Report) -> None:
    fresh_clients()
    size = 4 * MiB if settings.quick else 500 * MiB
    label = f"{size // MiB} MiB"
    per_layer = size // 4
    file_size = min(4 * MiB, max(64 * 1024, per_layer // 8))
    scenario = f"10 diff of two {label} images sharing half their layers"
    with fresh_registry(settings, "contents") as registry:
        log(f"scenario 10: pushing two {label} images")
        shared = [data_layer(per_layer, file_size, seed) for seed in (101, 102)]
        a = push_image(registry, "bench/diff", "1.0", layers=shared + [
            data_layer(per_layer, file_size, seed) for seed in (103, 104)])
        b = push_image(registry, "bench/diff", "1.1", layers=shared + [
            data_layer(per_layer, file_size, seed) for seed in (105, 106)])
        del shared
        ours = report.add(scenario, "registry_widgets.diff (own process)")
        floor = report.add(scenario, "stream the differing layers (the floor)", peer=True)
        work = Path(tempfile.mkdtemp(prefix="contents-bench-", dir=settings.work_dir))
        for number in range(settings.runs):
            log(f"scenario 10 run {number + 1}")
            cases = [(floor, STREAM_CHILD), (ours, DIFF_CHILD)]
            for row, code in cases[number % 2:] + cases[:number % 2]:  # take turns first
                try:
                    seconds, what = _child(code, a.reference, b.reference, work)
                    row.samples.append(seconds)
                    if row is ours and int(what) == 0:
                        row.error = "the diff found no file changes"
                except Exception as e:  # noqa: BLE001 - report and go on
                    row.error = f"{type(e).__name__}: {e}"[:300]
        if ours.samples and floor.samples:
            ratio = ours.median / floor.median
            ours.target = f"<= {RATIO_LIMIT}x the stream of the differing layers"
            ours.met = ratio <= RATIO_LIMIT if not settings.quick else None
            ours.note = f"{ratio:.2f}x the stream"
