"""``python -m benchmarks --quick`` runs every scenario and writes the whole table.

A smoke test of the benchmark scripts: tiny sizes, one run. It asserts that each scenario
produced its rows, that the registry_widgets cases ran without error and that the Markdown
and JSON were written; never how fast anything was.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# (scenario prefix, a case every run must have measured)
EXPECTED = [
    ("1 copy 2 MiB image, cold target", "registry_widgets.copy"),
    ("1 copy 2 MiB image, cold target", "skopeo copy"),
    ("1 copy 2 MiB image, cold target", "raw bound"),
    ("1 copy, rerun", "registry_widgets.copy (new clients)"),
    ("1 copy, rerun", "registry_widgets.copy (clients reused)"),
    ("1 copy, rerun", "skopeo copy"),
    ("1 copy, new tag", "registry_widgets.copy"),
    ("2 copy a two-platform OCI index", "registry_widgets.copy (all platforms)"),
    ("2 copy a two-platform OCI index", "skopeo copy --all"),
    ("2 copy a two-platform OCI index", "skopeo copy (default)"),
    ("3 peak RSS", "registry_widgets.copy"),
    ("3 peak RSS", "skopeo copy"),
    ("4 image table", "registry_widgets.images (16 workers, empty index)"),
    ("4 image table", "registry_widgets.images (index from the cold run"),
    ("4 image table", "registry_widgets.images(max_age=3600), new process"),
    ("4 image table", "ImageTable(background=True), cold: first rows"),
    ("4 image table", "floor: curl"),
    ("4 client CPU per small manifest GET", "registry_widgets transport"),
    ("4 client CPU per small manifest GET", "http.client"),
    ("5 widgets", "tables.image_display"),
    ("5 widgets", "ImageTable() + show_frame"),
    ("7 SBOM of a", "registry_widgets.sbom (own process)"),
    ("7 SBOM of a", "stream the layers through the registry"),
    ("7 peak RSS of that SBOM", "registry_widgets.sbom"),
    ("7 match", "registry_widgets match (index built)"),
    ("6 retention", "registry_widgets.retention plan (dry run), empty cache"),
    ("6 retention", "registry_widgets.retention plan (dry run), warm cache"),
    ("6 retention", "registry_widgets.retention apply"),
    ("8 sync 4 repos x 2 tags, cold target", "registry_widgets.sync (thread pool"),
    ("8 sync 4 repos x 2 tags, cold target", "skopeo sync"),
    ("8 sync 4 repos x 2 tags, cold target", "registry_widgets.sync on Dask"),
    ("8 sync, rerun", "registry_widgets.sync (thread pool)"),
    ("8 sync, rerun", "registry_widgets.sync on Dask"),
    ("9 image table across a network", "floor: curl --http2"),
    ("9 image table across a network", "curl --http1.1"),
    ("9 image table across a network", "registry_widgets.images (empty index, new clients)"),
    ("10 diff of two", "registry_widgets.diff (own process)"),
    ("10 diff of two", "stream the differing layers"),
    ("11 vendor API listing", "registry_widgets.images, OCI API"),
    ("11 vendor API listing", "registry_widgets.images through Harbor's /artifacts API"),
    ("12 export a 4 MiB image to oci-archive", "registry_widgets.copy (own process)"),
    ("12 export a 4 MiB image to oci-archive", "skopeo copy"),
    ("12 import that oci-archive", "registry_widgets.copy (own process)"),
    ("12 peak RSS of that import", "registry_widgets.copy"),
]


def _engine_answers() -> bool:
    try:
        import docker

        return bool(docker.from_env(timeout=5).ping())
    except Exception:
        return False


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict, Path]:
    out = tmp_path_factory.mktemp("bench-results")
    argv = [sys.executable, "-m", "benchmarks", "--quick", "--output", str(out),
            "--work-dir", str(tmp_path_factory.mktemp("bench-work")), "--no-browser"]
    if not _engine_answers():
        argv.append("--no-engine")  # starting an engine is not this test's business
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout, json.loads((out / "quick.json").read_text()), out


@pytest.mark.slow
def test_quick_run_prints_a_table_with_every_scenario(quick_run):
    stdout, _, out = quick_run
    table = [line for line in stdout.splitlines() if line.startswith("| ")]
    assert table[0].startswith("| Scenario | Case | Median |")
    assert stdout.splitlines()[2].startswith("**Load average**")  # at the top, before the table
    for scenario, case in EXPECTED:
        assert any(line.startswith(f"| {scenario}") and f"| {case}" in line for line in table), \
            (scenario, case)
    assert "not measured here (--no-browser)" in stdout  # the browser's part, said so
    assert (out / "quick.md").read_text().strip() == stdout.strip()


@pytest.mark.slow
def test_quick_run_measured_every_case_of_the_package(quick_run):
    _, results, _ = quick_run
    assert {"cores", "cpu", "memory_gib", "kernel", "load_start", "load_end"} <= \
        set(results["machine"])
    assert {"python", "registry_widgets", "distribution", "skopeo"} <= set(results["versions"])
    for scenario, case in EXPECTED:
        rows = [r for r in results["rows"]
                if r["scenario"].startswith(scenario) and r["case"].startswith(case)]
        assert rows, (scenario, case)
        for row in rows:
            assert row["samples"] and row["median"] is not None, row
            if row["case"].startswith(("registry_widgets", "tables", "ImageTable")):
                assert not row["error"], row  # e.g. a copy that changed the digest
