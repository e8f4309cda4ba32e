"""Scenario 10: across an air gap, a large image to ``oci-archive:`` and into another registry.

Issue 23's targets: the export (registry -> oci-archive) and the import (oci-archive -> a
cold registry) each take at most 1.0 x ``skopeo copy`` doing the same, with a peak RSS of at
most 100 MiB. Every copy runs in a process of its own, measured by scenario 3's launcher
(``memory_bench.peak_of``: wall time including start-up, and the child's peak RSS), so both
tools pay their start-up. Each import goes to a registry started for it; the digests at the
target are checked with a raw GET.
"""

from __future__ import annotations

import os
import sys

from devstack import LocalRegistry
from tests.support import push_image

from .copy_bench import SKOPEO, target_digest
from .harness import Settings, fresh_registry, log
from .memory_bench import _size_label, peak_of
from .report import Report
from .seed import stored_gzip_tar

TIME_TARGET = 1.0  # x skopeo copy (issue 23)
RSS_LIMIT_MIB = 100
CHILD = ("import sys, registry_widgets; "
         "registry_widgets.copy(sys.argv[1], sys.argv[2])")


def airgap_scenario(settings: Settings, report: Report, source: LocalRegistry) -> None:
    size = _size_label(settings.memory_layer)
    log(f"scenario 12: pushing the {size} image")
    layer = stored_gzip_tar("data/carried.bin", settings.memory_layer)
    image = push_image(source, "bench/carried", "1.0", layers=[layer])
    del layer
    rows = {}
    for step in ("export", "import"):
        what = (f"12 export a {size} image to oci-archive" if step == "export"
                else f"12 import that oci-archive into a cold registry")
        rows[step] = {
            "ours": report.add(what, "registry_widgets.copy (own process)"),
            "skopeo": report.add(what, "skopeo copy", peer=True),
            "ours_rss": report.add(f"12 peak RSS of that {step}", "registry_widgets.copy",
                                   unit="MiB"),
            "skopeo_rss": report.add(f"12 peak RSS of that {step}", "skopeo copy", unit="MiB",
                                     peer=True),
        }
    archives = settings.work_dir / "airgap"
    archives.mkdir(exist_ok=True)
    for number in range(settings.runs):
        log(f"scenario 12 run {number + 1}")
        for tool in ("ours", "skopeo"):
            archive = archives / f"{tool}.tar"
            archive.unlink(missing_ok=True)
            _measure(rows["export"], tool, image.reference, f"oci-archive:{archive}:1.0")
            with fresh_registry(settings, "airgap-target") as target:
                _measure(rows["import"], tool, f"oci-archive:{archive}:1.0",
                         f"{target.host}/bench/carried:1.0")
                if tool == "ours" and target_digest(target, "bench/carried", "1.0") != \
                        image.digest:
                    rows["import"]["ours"].error = "the target digest differs from the source"
            archive.unlink(missing_ok=True)
    for step in rows.values():
        step["ours"].target = f"≤ {TIME_TARGET} × skopeo copy"
        step["ours_rss"].target = f"≤ {RSS_LIMIT_MIB} MiB"
        if not settings.quick:  # a 4 MiB image measures nothing
            ours, peer = step["ours"].median, step["skopeo"].median
            if ours is not None and peer:
                step["ours"].met = ours <= TIME_TARGET * peer
            if step["ours_rss"].samples:
                step["ours_rss"].met = max(step["ours_rss"].samples) <= RSS_LIMIT_MIB
        step["ours"].note = "a new Python process: interpreter and import included"
    rows["import"]["skopeo"].note = "skopeo unpacks the archive to a temporary folder first"


def _measure(step: dict, tool: str, source: str, destination: str) -> None:
    if tool == "ours":
        argv = [sys.executable, "-c", CHILD, source, destination]
    else:
        add = (lambda ref: ref if ref.startswith("oci-archive:") else f"docker://{ref}")
        argv = [*SKOPEO, add(source), add(destination)]
    os.sync()
    try:
        seconds, peak = peak_of(argv)
    except Exception as e:  # noqa: BLE001 - report and go on
        step[tool].error = f"{type(e).__name__}: {e}"[:300]
        return
    step[tool].samples.append(seconds)
    step[f"{tool}_rss"].samples.append(peak)
