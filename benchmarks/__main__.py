"""``python -m benchmarks``: run the scenarios, print the table, write results/latest.md.

    python -m benchmarks                      # every scenario, 3 runs each (make bench)
    python -m benchmarks --runs 5 --only copy,memory
    python -m benchmarks --quick --output /tmp/out   # tiny sizes, 1 run: a smoke test
    python -m benchmarks --only latency       # the listing over TLS through a 50 ms proxy
    python -m benchmarks --render benchmarks/results/latest.json   # the table again
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from . import (archive_bench, copy_bench, inventory_bench, latency_bench, memory_bench,
               report, retention_bench, scan_bench, sync_bench, vendor_bench,
               widgets_bench)
from .harness import SCENARIOS, Settings, Stopwatch, fresh_registry, isolate, log
from .seed import seed_inventory

RESULTS = Path(__file__).resolve().parent / "results"


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=None,
                        help="runs per case (default 3; 1 with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes and one run: checks the scripts, measures nothing")
    parser.add_argument("--only", default=",".join(SCENARIOS),
                        help=f"comma-separated scenarios out of {','.join(SCENARIOS)}")
    parser.add_argument("--no-engine", action="store_true",
                        help="leave out the Docker engine path of scenario 1")
    parser.add_argument("--no-browser", action="store_true",
                        help="leave out scenario 5's rendering in headless Chromium")
    parser.add_argument("--sync-repositories", type=int, default=None,
                        help="scenario 6's repositories (default 100; 4 with --quick)")
    parser.add_argument("--sync-tags", type=int, default=None,
                        help="scenario 8's tags per repository (default 5; 2 with --quick)")
    parser.add_argument("--naive-sample", type=int, default=None,
                        help="repositories the naive lister reads before extrapolating "
                             "(default 100; 0 reads all 1,000)")
    parser.add_argument("--latency-delay", type=float, default=None, metavar="SECONDS",
                        help="scenario 9's delay each way through its proxy (default 0.05)")
    parser.add_argument("--large", type=int, default=0, metavar="TAGS_PER_REPOSITORY",
                        help="scenario 4 also at 1,000 repositories x this many tags "
                             "(100: 100,000 tags; default: not)")
    parser.add_argument("--output", type=Path, default=None,
                        help=f"where latest.md/.json go (default {RESULTS}; quick.md/.json "
                             "with --quick)")
    parser.add_argument("--render", type=Path, default=None, metavar="JSON",
                        help="print (and write beside it) the Markdown of a results JSON, "
                             "running nothing")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="registries, caches and journals (default: a temporary folder, "
                             "removed afterwards)")
    args = parser.parse_args(argv)
    unknown = set(args.only.split(",")) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s) {sorted(unknown)}; choose from {SCENARIOS}")
    return args


def settings_from(args: argparse.Namespace, work_dir: Path) -> Settings:
    settings = Settings.quick_settings(work_dir) if args.quick else Settings(work_dir=work_dir)
    changes: dict[str, object] = {"scenarios": tuple(s for s in SCENARIOS if s in args.only.split(","))}
    if args.runs is not None:
        changes["runs"] = max(1, args.runs)
    if args.no_engine:
        changes["engine"] = False
    if args.no_browser:
        changes["browser"] = False
    if args.large:
        changes["large_tags_per_repository"] = args.large
    if args.naive_sample is not None:
        changes["naive_sample"] = args.naive_sample
    if args.latency_delay is not None:
        changes["latency_delay"] = max(0.0, args.latency_delay)
    if args.sync_repositories is not None:
        changes["sync_repositories"] = max(1, args.sync_repositories)
    if args.sync_tags is not None:
        changes["sync_tags"] = max(1, args.sync_tags)
    return settings.but(**changes)


def run_all(settings: Settings, results: report.Report) -> None:
    wanted = set(settings.scenarios)
    if wanted & {"copy", "multiarch", "memory"}:
        with fresh_registry(settings, "source") as source:
            if "copy" in wanted:
                copy_bench.copy_scenario(settings, results, source)
            if "multiarch" in wanted:
                copy_bench.multiarch_scenario(settings, results, source)
            if "memory" in wanted:
                memory_bench.memory_scenario(settings, results, source)
    table = None
    if "inventory" in wanted:
        per = settings.tags_per_repository
        sizes = [(settings.small_repositories, per, False), (settings.repositories, per, True)]
        if settings.large_tags_per_repository:
            sizes.append((settings.repositories, settings.large_tags_per_repository, False))
        for repositories, tags, main in sizes:
            with fresh_registry(settings, f"inventory-{repositories * tags}") as registry:
                log(f"scenario 4: seeding {repositories} repositories x {tags} tags")
                seed = seed_inventory(registry, repositories=repositories, tags=tags,
                                      workers=settings.seed_workers)
                results.notes.append(inventory_bench.describe_seed(seed.seconds, repositories,
                                                                   seed.tags))
                listed = inventory_bench.inventory_scenario(settings, results, registry, seed,
                                                            main=main)
                if main:
                    table = listed
                    inventory_bench.cpu_scenario(settings, results, registry, seed)
    if "widgets" in wanted:
        widgets_bench.widgets_scenario(settings, results, table)
    if "scan" in wanted:
        scan_bench.scan_scenario(settings, results)
    if "retention" in wanted:
        with fresh_registry(settings, "retention") as registry:
            log(f"scenario 6: seeding {settings.repositories} repositories x "
                f"{settings.tags_per_repository} tags")
            seed = seed_inventory(registry, repositories=settings.repositories,
                                  tags=settings.tags_per_repository, workers=settings.seed_workers)
            retention_bench.retention_scenario(settings, results, registry, seed)
    if "sync" in wanted:
        with fresh_registry(settings, "sync-source") as source:
            sync_bench.sync_scenario(settings, results, source)
    if "latency" in wanted:
        latency_bench.latency_scenario(settings, results)
    if "contents" in wanted:
        from . import contents_bench
        contents_bench.contents_scenario(settings, results)
    if "vendor" in wanted:
        vendor_bench.vendor_scenario(settings, results)
    if "airgap" in wanted:
        with fresh_registry(settings, "airgap-source") as source:
            archive_bench.airgap_scenario(settings, results, source)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.render:
        text = report.markdown(report.load(args.render))
        args.render.with_suffix(".md").write_text(text)
        print(text)
        return 0
    work_dir = args.work_dir or Path(tempfile.mkdtemp(prefix="registry-widgets-bench-"))
    work_dir.mkdir(parents=True, exist_ok=True)
    settings = settings_from(args, work_dir.resolve())
    isolate(settings.work_dir)
    results = report.Report(machine=report.machine(), versions=report.versions(),
                            settings={"runs": settings.runs, "quick": settings.quick,
                                      "scenarios": list(settings.scenarios),
                                      "engine": settings.engine, "browser": settings.browser,
                                      "naive_sample": settings.naive_sample})
    results.notes += [
        "Each cold copy goes to a registry started for it (empty storage, new port); cases "
        "take turns in a rotating order within each run. registry_widgets runs in this "
        "process with new clients for every call (as a fresh kernel would).",
        "All registries are Debian's distribution on 127.0.0.1 with filesystem storage on the "
        "same disk; everything shares the same 2 cores, so the load average matters.",
    ]
    try:
        with Stopwatch() as watch:
            run_all(settings, results)
    finally:
        if args.work_dir is None:
            shutil.rmtree(work_dir, ignore_errors=True)
    results.wall_seconds = watch.seconds
    results.machine["load_end"] = report.load_average()
    for row in results.rows:
        if row.error and row.target:
            row.met = False
    text = report.markdown(results)
    print(text)
    md, js = report.write(results, args.output or RESULTS, "quick" if settings.quick else "latest")
    log(f"wrote {md} and {js} in {watch.seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
