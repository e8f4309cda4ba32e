"""Client CPU per small request, and a small listing, for two copies of the package side by
side (issue 22): ``python benchmarks/small_requests.py OLD_TREE NEW_TREE [rounds]``.

One plain registry (devstack) is seeded with 100 repositories x 10 tags; each round runs,
in a new process per tree (alternating, so both see the same machine load):
- micro: one small manifest GET through ``Transport.request``, 2,000 times in a row;
- cold: ``images()`` with an empty index; warm: ``images()`` again (HEAD per tag);
with the process's CPU per request and wall seconds, and curl's floor for the same
requests (``inventory_bench.curl_floor``). Prints one line per round and tree, then medians.
"""
from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

MICRO = 2000
ACCEPT = ", ".join(("application/vnd.oci.image.index.v1+json",  # as inventory_bench sends
                    "application/vnd.oci.image.manifest.v1+json",
                    "application/vnd.docker.distribution.manifest.list.v2+json",
                    "application/vnd.docker.distribution.manifest.v2+json"))


def _cpu() -> float:
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


def child(host: str, repository: str, tag: str, cache: str) -> None:
    os.environ["XDG_CACHE_HOME"] = cache
    import registry_widgets
    from registry_widgets.operations.core import clients, index

    out: dict[str, float] = {}
    client = clients.client_for(host)
    path = f"/v2/{repository}/manifests/{tag}"
    send = lambda: client.transport.request("GET", path, headers={"Accept": ACCEPT},  # noqa
                                            scopes=()).content
    send()
    start, wall = _cpu(), time.perf_counter()
    for _ in range(MICRO):
        send()
    out["micro_ms"] = (_cpu() - start) * 1000 / MICRO
    out["micro_wall_ms"] = (time.perf_counter() - wall) * 1000 / MICRO
    clients.reset()
    for kind in ("cold", "warm"):
        clients.reset()
        start, wall = _cpu(), time.perf_counter()
        frame = registry_widgets.images(host)
        out[f"{kind}_s"] = time.perf_counter() - wall
        out[f"{kind}_ms"] = (_cpu() - start) * 1000 / frame.attrs["requests"]
        out[f"{kind}_rows"] = len(frame)
    index.close_shared()
    print(json.dumps(out))


def main() -> None:
    old, new = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    sys.path[0] = new
    from devstack import start_registry

    from benchmarks.inventory_bench import curl_floor, floor_urls
    from benchmarks.seed import seed_inventory

    work = tempfile.mkdtemp(prefix="small-requests-")
    registry = start_registry("plain", state_dir=os.path.join(work, "registry"))
    try:
        seed = seed_inventory(registry, repositories=100, tags=10)
        repository, tag, _ = seed.images[0]
        cold_urls, warm_urls = floor_urls(seed)
        results: dict[str, list[dict[str, float]]] = {"old": [], "new": [], "curl": []}
        for number in range(rounds):
            for name, tree in (("old", old), ("new", new)):
                cache = tempfile.mkdtemp(dir=work)
                env = dict(os.environ, PYTHONPATH=tree)
                line = subprocess.run([sys.executable, os.path.abspath(__file__), "child",
                                       registry.host, repository, tag, cache], env=env,
                                      cwd=tree, check=True, stdout=subprocess.PIPE,
                                      text=True).stdout.strip()
                row = json.loads(line.splitlines()[-1]) if line else {}
                results[name].append(row)
                print(number, name, row, flush=True)
            config = os.path.join(work, "urls.curl")
            floors = {"cold_s": curl_floor(registry, cold_urls, config),
                      "warm_s": curl_floor(registry, warm_urls, config, head=True)}
            results["curl"].append(floors)
            print(number, "curl", floors, flush=True)
        print("medians:")
        for name, rows in results.items():
            keys = rows[0].keys() if rows else ()
            print(name, {key: round(statistics.median(r[key] for r in rows), 4) for key in keys})
    finally:
        registry.stop()


if __name__ == "__main__":
    if sys.argv[1] == "child":
        sys.path.pop(0)  # this file's folder: the tree comes from PYTHONPATH
        child(*sys.argv[2:])
    else:
        main()
