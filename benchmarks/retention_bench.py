"""Scenario 6: retention over 1,000 repositories x 10 tags (keep the 3 newest of each).

The registry is seeded as scenario 4's (40 namespaces of 25 repositories, every tag its own
image with its own created date), then ``registry_widgets.retention(..., keep=3)`` runs on
each namespace:

- plan, cold: the dry runs with an empty detail cache (every manifest and config read);
- plan, warm: the dry runs again (tag lists and a HEAD per tag; details from the cache);
- apply: ``dry_run=False, plan=<the warm dry run>`` for every namespace: every affected
  repository read again and compared with the plan, one journal backup per namespace, then
  7,000 manifest DELETEs and their checks. Destructive, so it runs once.

Nothing here is compared with another tool: no peer plans retention over a plain registry.
"""

from __future__ import annotations

import os
import shutil

import registry_widgets
from devstack import LocalRegistry

from .harness import Settings, Stopwatch, fresh_clients, log
from .report import Report
from .seed import InventorySeed

KEEP = 3


def namespaces_of(seed: InventorySeed) -> list[str]:
    return sorted({name.split("/")[0] for name in seed.repositories})


def retention_scenario(settings: Settings, report: Report, registry: LocalRegistry,
                       seed: InventorySeed) -> None:
    label = (f"6 retention keep {KEEP}, {settings.repositories:,} repositories x "
             f"{settings.tags_per_repository} tags")
    cold = report.add(label, "registry_widgets.retention plan (dry run), empty cache")
    warm = report.add(label, "registry_widgets.retention plan (dry run), warm cache")
    apply = report.add(label, "registry_widgets.retention apply (runs once: it deletes)")
    spaces = namespaces_of(seed)
    expected = max(0, settings.tags_per_repository - KEEP) * settings.repositories
    cache = settings.work_dir / "retention-cache"
    plans: dict[str, registry_widgets.Result] = {}
    for number in range(settings.runs):
        log(f"scenario 6 plan run {number + 1}")
        shutil.rmtree(cache, ignore_errors=True)
        cache.mkdir(parents=True)
        os.environ["XDG_CACHE_HOME"] = str(cache)
        for row in (cold, warm):
            fresh_clients()
            try:
                with Stopwatch() as watch:
                    plans = {ns: registry_widgets.retention(f"{registry.host}/{ns}", keep=KEEP)
                             for ns in spaces}
                row.samples.append(watch.seconds)
                going = sum(len(p.details["tags_removed"]) for p in plans.values())
                if going != expected:
                    row.error = f"planned {going} removals, expected {expected}"
            except Exception as e:  # noqa: BLE001 - report and go on
                row.error = f"{type(e).__name__}: {e}"[:300]
    log("scenario 6 apply")
    fresh_clients()
    try:
        with Stopwatch() as watch:
            done = [registry_widgets.retention(f"{registry.host}/{ns}", keep=KEEP, dry_run=False,
                                               plan=plans[ns]) for ns in spaces]
        apply.samples.append(watch.seconds)
        removed = sum(len(r.details["tags_removed"]) for r in done)
        if removed != expected:
            apply.error = f"removed {removed}, expected {expected}"
    except Exception as e:  # noqa: BLE001
        apply.error = f"{type(e).__name__}: {e}"[:300]
    cold.note = (f"{len(spaces)} namespaces, one retention() each: catalog, tag lists, a GET of "
                 "each manifest and its config, then the pure plan.")
    warm.note = "catalog, tag lists and a HEAD per tag; dates from the detail cache."
    apply.note = (f"{expected:,} images deleted by digest: each affected repository read again "
                  "(a GET per tag) and compared with the plan, a backup per namespace, then the "
                  "DELETEs (8 repositories at a time) and a HEAD per removed tag to check.")
