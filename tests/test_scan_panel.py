"""The Scan panel (button + findings table) and the Security status column, without a
browser: ``Button.click()`` fires the callbacks."""

from __future__ import annotations

import pandas as pd
import pytest

from registry_widgets.operations.core import clients
from registry_widgets.operations.security.exemptions import add_exemption
from registry_widgets.widgets.scan_panel import ScanPanel, findings_display, security_status
from tests.scan_images import OSV, alpine_layers, push, tar_layer


@pytest.fixture(autouse=True)
def fresh_clients():
    clients.reset()
    yield
    clients.reset()


def test_security_status_column_from_reports_by_digest():
    images = pd.DataFrame({"repository": ["a", "a", "b", "c"], "tag": ["1", "2", "1", "1"],
                           "digest": ["sha256:aa", "sha256:aa", "sha256:bb", "sha256:cc"]})
    reports = {"sha256:aa": "3 issues", "sha256:bb": "No issues"}
    assert security_status(images, reports) == ["3 issues", "3 issues", "No issues", "not scanned"]


def test_scan_button_fills_the_findings_table(registry, tmp_path):
    image = push(registry, "panel/alpine", "3.19.1", alpine_layers())
    exemptions = tmp_path / "exemptions.json"
    add_exemption(exemptions, "CONFIG-NO-HEALTHCHECK", f"{registry.host}/panel", reason="batch job")
    panel = ScanPanel(image["reference"], str(OSV), str(exemptions))
    panel.scan_button.click()
    assert panel.last_error is None, panel.last_error
    report = panel.report
    shown = findings_display(report)
    assert list(shown["id"]).count("ALPINE-CVE-2024-2511") == 2
    assert shown.iloc[-1]["status"] == "exempt: " + f"{registry.host}/panel: batch job"
    assert "2 issues" not in panel.summary.value and report.status == "3 issues"
    unsupported = push(registry, "panel/other", "1", [tar_layer([
        ("etc/os-release", b"ID=arch\n", 0o644, None)])])
    panel.image.value = unsupported["reference"]
    panel.scan_button.click()
    frame = pd.DataFrame({"digest": [image["digest"], unsupported["digest"], "sha256:00"]})
    assert security_status(frame, panel.reports) == ["3 issues", "unsupported OS", "not scanned"]


def test_a_missing_feed_is_one_clear_message(registry):
    panel = ScanPanel(f"{registry.host}/panel/alpine:3.19.1", "")
    panel.scan_button.click()
    assert "advisory feed" in panel.message.value
    panel.feed.value = "/no/such/feed"
    panel.scan_button.click()
    assert "no feed at" in panel.message.value
