"""Scenario 11: a listing through a vendor API beside the generic OCI listing, on the same
content, in one run.

The seeded distribution is listed twice per run: straight (the OCI API: tag lists, then a
request per tag) and through a Harbor v2 front (``tests/support/vendor_servers.FakeHarbor``:
Harbor's registry challenge and its ``/artifacts`` API, answered from the same registry's
storage, every ``/v2/`` request forwarded to it). Each is listed cold (an empty index) and
warm (the index the cold run left; every tag confirmed now). The requests each sent are in
the notes: the vendor API replaces the per-tag request, not the per-image one (each new
image's manifest and config are read once, cold, on both paths).

The front is a Python server on the same 2 cores: its time is in the Harbor figures, so
they are an upper bound on what a real Harbor would cost this client.
"""

from __future__ import annotations

import os
import shutil

import registry_widgets
from registry_widgets.operations.core import index
from tests.support.vendor_servers import FakeHarbor

from .harness import Settings, Stopwatch, fresh_clients, fresh_registry, log
from .report import Report
from .seed import seed_inventory


def vendor_scenario(settings: Settings, report: Report) -> None:
    repositories, per = settings.vendor_repositories, settings.vendor_tags
    label = f"{repositories * per:,} tags, {repositories} repositories"
    with fresh_registry(settings, "vendor") as registry:
        log(f"scenario 11: seeding {repositories} repositories x {per} tags")
        seed = seed_inventory(registry, repositories=repositories, tags=per,
                              workers=settings.seed_workers)
        harbor = FakeHarbor(registry)
        try:
            rows = {}
            for kind in ("cold", "warm, current"):
                name = f"11 vendor API listing, {label}: {kind}"
                rows[("oci", kind)] = report.add(name, "registry_widgets.images, OCI API "
                                                 "(tag lists, a request per tag)", peer=True)
                rows[("harbor", kind)] = report.add(name, "registry_widgets.images through "
                                                    "Harbor's /artifacts API (100 a page)")
            sent: dict[tuple[str, str], list[int]] = {}
            cache = settings.work_dir / "vendor-cache"
            for number in range(settings.runs):
                log(f"scenario 11 run {number + 1}")
                for path, host in (("oci", registry.host), ("harbor", harbor.host)):
                    index.close_shared()
                    shutil.rmtree(cache, ignore_errors=True)
                    cache.mkdir(parents=True)
                    os.environ["XDG_CACHE_HOME"] = str(cache)
                    for kind in ("cold", "warm, current"):
                        fresh_clients()
                        row = rows[(path, kind)]
                        try:
                            with Stopwatch() as watch:
                                frame = registry_widgets.images(host)
                            row.samples.append(watch.seconds)
                            sent.setdefault((path, kind), []).append(frame.attrs["requests"])
                            if len(frame) != seed.tags:
                                row.error = row.error or f"{len(frame)} rows, not {seed.tags}"
                            if path == "harbor" and frame.attrs.get("vendor_api") != "harbor":
                                row.error = row.error or "the Harbor API was not used"
                        except Exception as e:  # noqa: BLE001 - report and go on
                            row.error = f"{type(e).__name__}: {e}"[:300]
            for (path, kind), row in rows.items():
                counts = sorted(sent.get((path, kind), []))
                if counts:
                    row.note = f"{counts[len(counts) // 2]:,} requests."
            rows[("harbor", "cold")].note += (
                " Tags and digests from one /artifacts page per repository; each image's "
                "manifest and config once, as on the OCI path.")
            rows[("harbor", "warm, current")].note += (
                " One /artifacts page per repository confirms every tag's digest: no "
                "request per tag.")
        finally:
            harbor.close()
    index.close_shared()
