"""Notebook 09_scan headless: JSON, SARIF and CycloneDX outputs, and ``fail_on`` making
``python -m registry_widgets run scan`` exit non-zero."""

from __future__ import annotations

import json
import subprocess
import sys

import nbformat
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from registry_widgets.runner import run_notebook
from tests.scan_images import OSV, debian_layers, push


def test_headless_scan_writes_json_sarif_and_cyclonedx(registry, tmp_path):
    image = push(registry, "nb/scan", "1.0", debian_layers())
    out = {kind: tmp_path / f"report.{kind}" for kind in ("json", "sarif", "cdx.json")}
    executed = run_notebook("09_scan", {
        "ref": image["reference"], "feed": str(OSV), "json_output": str(out["json"]),
        "sarif_output": str(out["sarif"]), "sbom_output": str(out["cdx.json"])},
        output=tmp_path / "09_scan.ipynb")
    cell = nbformat.read(executed, as_version=4).cells[-1]
    record = json.loads("".join(o.get("text", "") for o in cell.outputs))
    assert record["digest"] == image["digest"]
    assert {"DEBIAN-CVE-2024-2511", "GHSA-j8r2-6x86-q33q"} <= set(record["findings"])
    report = json.loads(out["json"].read_text())
    assert {f["package"] for f in report["findings"] if f["kind"] == "vulnerability"} == {
        "libssl3", "openssl", "requests", "semver"}
    assert json.loads(out["sarif"].read_text())["version"] == "2.1.0"
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(out["cdx.json"].read_text()) is None


def test_fail_on_makes_a_headless_run_exit_non_zero(registry, tmp_path):
    image = push(registry, "nb/scan", "1.1", debian_layers())
    sarif = tmp_path / "out.sarif"
    command = [sys.executable, "-m", "registry_widgets", "run", "scan", "-p", "ref",
               image["reference"], "-p", "feed", str(OSV), "-p", "sarif_output", str(sarif),
               "--output", str(tmp_path / "run.ipynb")]
    failed = subprocess.run(command + ["-p", "fail_on", "medium"], capture_output=True,
                            text=True, cwd=tmp_path)
    assert failed.returncode != 0
    assert "ScanFailed" in failed.stderr or "at or above medium" in failed.stderr
    assert sarif.exists()  # the outputs were written before the run failed
    # Debian's record of CVE-2024-2511 has no severity: it fails even "critical"
    unranked = subprocess.run(command + ["-p", "fail_on", "critical"], capture_output=True,
                              text=True, cwd=tmp_path)
    assert unranked.returncode != 0 and "DEBIAN-CVE-2024-2511" in unranked.stderr
    fixed = push(registry, "nb/scan", "1.2", debian_layers(
        openssl="3.0.14-1~deb12u1", requests="2.31.0", semver="7.5.2"))
    command[command.index(image["reference"])] = fixed["reference"]
    passed = subprocess.run(command + ["-p", "fail_on", "critical"], capture_output=True,
                            text=True, cwd=tmp_path)
    assert passed.returncode == 0, passed.stderr[-2000:]
