"""``ScanPanel``: scan an image against an advisory feed and show its findings; and
``security_status``, the Security status column of the image table.

The Vulnerability Advisor step of the guide as one control row: an image reference, a feed
(folder, zip or artifact reference) and an optional exemptions file, then Scan. The findings
table lists vulnerabilities and configuration issues worst first, exempt ones last and marked.
Reports are kept by image digest (content-addressed, so a report never goes stale for its
digest) for the Security status column. The heading names the registry the dashboard chose;
when it chooses another, an image of the old one leaves the field and its findings go.

Imports the ``operations`` verbs, ``reference`` and the sibling widget modules only.
"""

from __future__ import annotations

import html
from typing import Any, Callable, Mapping

import ipywidgets as w
import pandas as pd
import traitlets
from itables.widget import ITable

from ..operations.security.scan import ScanReport, scan
from ..reference import parse_reference
from .controls import button, text
from .panel import Panel
from .tables import short_digest, table_options

NOT_SCANNED = "not scanned"
FINDING_COLUMNS = ["severity", "score", "id", "aliases", "package", "installed", "fixed",
                   "layer", "status", "summary"]


def security_status(images: pd.DataFrame, reports: Mapping[str, Any]) -> list[str]:
    """One Security status per row of an image table (its ``digest`` column): "No issues",
    "N issues", "unsupported OS", or "not scanned" when no report is known for that digest.

    ``reports`` maps image digests to ``ScanReport`` (anything with a ``status``) or to the
    status text itself."""
    out = []
    for digest in images["digest"] if "digest" in images else []:
        report = reports.get(digest) if isinstance(digest, str) else None
        if report is None:
            out.append(NOT_SCANNED)
        else:
            out.append(report if isinstance(report, str) else report.status)
    return out


def findings_display(report: ScanReport) -> pd.DataFrame:
    """The findings table as shown: exempt rows say so in ``status`` (never hidden)."""
    frame = report.table()
    out = pd.DataFrame(columns=FINDING_COLUMNS)
    if frame.empty:
        return out
    out["severity"] = frame["severity"]
    out["score"] = [f"{s:.1f}" if isinstance(s, float) and s == s else "" for s in frame["score"]]
    for column in ("id", "aliases", "package", "installed", "fixed", "summary"):
        out[column] = frame[column].fillna("").astype(str)
    out["layer"] = frame["layer"].astype(str)
    out["status"] = ["exempt: " + e if x else "open" for x, e in zip(frame["exempt"], frame["exemption"])]
    out["summary"] = [s if len(s) <= 120 else s[:119] + "…" for s in out["summary"]]
    return out.reset_index(drop=True)


def summary_html(report: ScanReport) -> str:
    counts = ", ".join(f"{n} {level}" for level, n in report.counts().items() if n)
    exempt = len(report.findings) - len(report.open_findings)
    parts = [f"<b>{html.escape(report.status)}</b> in <code>{html.escape(report.reference)}</code>",
             f"({short_digest(report.digest)}, {html.escape(report.distro or 'no OS release')}, "
             f"{report.packages} packages)"]
    if counts:
        parts.append("— " + html.escape(counts))
    if exempt:
        parts.append(f"; {exempt} exempt")
    return " ".join(parts)


def _registry_of(reference: str) -> str | None:
    try:
        return parse_reference(reference.strip()).registry if reference.strip() else None
    except Exception:  # noqa: BLE001 - a half-typed reference names no registry yet
        return None


class ScanPanel(Panel):
    """Scan one image. Fields ``image``, ``feed``, ``exemptions``; ``scan_button``.

    ``report`` is the last ``ScanReport``, ``reports`` every report by digest (give it to
    ``security_status``); ``on_scanned(callback)`` is called with each new report.
    """

    registry = traitlets.Unicode("", help="the registry whose images are scanned")

    def __init__(self, image: str = "", feed: str = "", exemptions: str = "", *,
                 registry: str = ""):
        self.title = w.HTML("")
        self.title.add_class("rw-scan-title")
        self.image = text("registry/namespace/repository:tag", "rw-scan-image",
                          description="image", value=image,
                          width="24em")
        self.feed = text("folder, zip or artifact", "rw-scan-feed", description="feed",
                         value=feed, width="20em")
        self.exemptions = text("optional", "rw-scan-exemptions", description="exemptions file",
                               value=exemptions, width="14em")
        self.scan_button = button("Scan", "rw-scan-scan", icon="shield", style="primary")
        self.summary = w.HTML("")
        self.summary.add_class("rw-scan-summary")
        empty = pd.DataFrame(columns=FINDING_COLUMNS)
        self.table = ITable(empty, **table_options(empty, select=False))
        self.table.add_class("rw-scan-findings")
        self.report: ScanReport | None = None
        self.reports: dict[str, ScanReport] = {}
        self._callbacks: list[Callable[[ScanReport], Any]] = []
        super().__init__()
        self.children = [self.title,
                         w.HBox([self.image, self.feed, self.exemptions, self.scan_button],
                                layout=w.Layout(flex_flow="row wrap")),
                         self.message, self.summary, self.table]
        self.add_class("rw-scan-panel")
        self.on_click(self.scan_button, self.scan)
        self.observe(self.guard(lambda change: self._registry_set(), fresh=False),
                     names="registry")
        self.registry = registry

    def follow(self, registry: str) -> None:
        """The dashboard chose ``registry``: scan its images."""
        self.registry = registry

    def _registry_set(self) -> None:
        self.title.value = f"<b>Scan an image of {self.registry}</b>" if self.registry else ""
        if _registry_of(self.image.value) not in (None, self.registry):
            self.image.value = ""
        if self.report is not None and _registry_of(self.report.reference) != self.registry:
            self.report = None
            empty = pd.DataFrame(columns=FINDING_COLUMNS)
            self.table.update(empty, **table_options(empty, select=False))
            self.summary.value = ""

    def scan(self) -> ScanReport:
        ref, feed = self.image.value.strip(), self.feed.value.strip()
        if not ref:
            raise ValueError("give the image to scan, e.g. registry.example/team/app:1.0")
        if not feed:
            raise ValueError("give an advisory feed: a folder or zip of OSV JSON, or the "
                             "reference of a feed artifact (README, 'Security scanning')")
        self.message.status(f"scanning {ref}…")
        report = scan(ref, feed=feed, exemptions=self.exemptions.value.strip() or None)
        self.report = report
        self.reports[report.digest] = report
        display = findings_display(report)
        self.table.update(display, **table_options(display, select=False))
        self.summary.value = summary_html(report)
        self.message.status(f"scanned {ref}: {report.status}")
        for callback in list(self._callbacks):
            callback(report)
        return report

    def on_scanned(self, callback: Callable[[ScanReport], Any], remove: bool = False) -> None:
        """Call ``callback(report)`` after each scan (the dashboard refreshes its column)."""
        if remove:
            self._callbacks.remove(callback)
        else:
            self._callbacks.append(callback)
