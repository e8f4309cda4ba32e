"""``DetailView``: one image as Harbor's artifact page shows it, opened from a row of the
Images tab (its Details button, or a click in the Security column); and ``security_cells``,
the Security column as coloured counts by severity.

The view is a list of sections, ``(title, function)`` pairs (``SECTIONS``); a function takes
the view and the ``describe`` answer and returns a widget, so a section is one small function
and more can be added (``DetailView(sections=...)`` or ``add_section``), as the Files and Diff
sections add ``contents_view``'s pieces. Sections: Overview (digest, size, pull
commands with copy buttons), Platforms (every platform of an index with its config), Layers,
History, Vulnerabilities (counts by severity from a scan of this digest, else a Scan button),
SBOM (package count, the packages, a CycloneDX download), Signatures (signatures,
attestations, SBOMs and referrers), Labels, Files (the merged filesystem, one file to
download; an artifact's files to pull), Diff (against another tag), Manifest (pretty-printed).

Reading the registry runs in the panel's worker thread (``wait()`` for it). Nothing here
writes to a registry.

Imports the ``operations`` verbs, ``reference`` and the sibling widget modules only.
"""

from __future__ import annotations

import base64
import html
import json
from typing import Any, Callable, Mapping, Sequence

import ipywidgets as w

from ..operations.images.inspect import describe
from ..operations.security.sbom import cyclonedx_json, sbom
from ..operations.security.scan import ScanReport, scan
from ..reference import parse_reference
from .clipboard import clipboard_buttons
from .contents_view import artifact_view, diff_view, files_view
from .controls import button, show
from .panel import Panel
from .tables import (counted, format_labels, format_time, human_size, pull_command,
                     short_digest)

Section = Callable[["DetailView", dict], w.Widget]

# Harbor's and Trivy's colours: the worst is the darkest red; unknown is grey, not green.
SEVERITY_COLOURS = {"critical": "#8b0000", "high": "#d32f2f", "medium": "#ef6c00",
                    "low": "#f9a825", "unknown": "#757575"}
SEVERITY_ORDER = ("critical", "high", "medium", "low", "unknown")
ROWS_SHOWN = 200  # findings and packages drawn in the view; the downloads hold them all

# A click in the Security column opens the detail view: the cell writes its reference into
# the image table's hidden request box (the kernel observes it), and stops the click there
# so the row's selection does not toggle.
_OPEN_JS = ("event.stopPropagation();var t=this.closest('.rw-image-table');"
            "var i=t&&t.querySelector('.rw-img-details-request input');if(!i){return false}"
            "i.value=this.dataset.ref+' #'+Date.now();"
            "i.dispatchEvent(new Event('input',{bubbles:true}));return false")


def severity_badges(counts: Mapping[str, int]) -> str:
    """Coloured counts, worst first, zero counts left out: ``[2 critical] [1 high]``."""
    parts = []
    for level in SEVERITY_ORDER:
        n = counts.get(level, 0)
        if n:
            colour = SEVERITY_COLOURS[level]
            fg = "#000" if level == "low" else "#fff"
            parts.append(f'<span class="rw-sev rw-sev-{level}" title="{n} {level}" '
                         f'style="background:{colour};color:{fg};border-radius:3px;'
                         f'padding:0 4px;margin-right:2px;white-space:nowrap">{n} {level}</span>')
    return "".join(parts)


def security_html(report: Any) -> str:
    """One Security cell: coloured counts of a ``ScanReport``, "No issues" in green, or the
    status text (``not scanned``, ``unsupported OS``) in grey."""
    if report is None:
        return '<span class="rw-sev-none" style="color:#757575">not scanned</span>'
    if isinstance(report, str):
        colour = "#1b5e20" if report.startswith("No issues") else "#757575"
        return f'<span class="rw-sev-text" style="color:{colour}">{html.escape(report)}</span>'
    if not report.os_supported or not report.open_findings:
        return security_html(report.status)
    note = "" if report.complete else ' <span style="color:#757575">(incomplete)</span>'
    return severity_badges(report.counts()) + note


def security_cells(images: Any, reports: Mapping[str, Any]) -> list[str]:
    """The Security column of the image table as HTML: per row (its ``digest``), the
    ``security_html`` of its report, as a link that opens the row's detail view."""
    out = []
    for ref, digest in zip(images["reference"], images["digest"]) if len(images) else []:
        report = reports.get(digest) if isinstance(digest, str) else None
        out.append(f'<a class="rw-sec-link" href="#" title="open the details of this image" '
                   f'data-ref="{html.escape(str(ref))}" onclick="{_OPEN_JS}" '
                   f'style="text-decoration:none">{security_html(report)}</a>')
    return out


def html_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], css: str = "") -> str:
    """A small HTML table, every cell escaped (a label may hold anything)."""
    head = "".join(f"<th style='text-align:left;padding:2px 8px'>{html.escape(h)}</th>"
                   for h in headers)
    body = "".join("<tr>" + "".join(
        f"<td style='padding:2px 8px;vertical-align:top'>{html.escape(str(c))}</td>"
        for c in row) + "</tr>" for row in rows)
    return (f"<table class='rw-dt-table {css}' style='border-collapse:collapse;"
            f"font-size:12px'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def _box(content: str, css: str) -> w.HTML:
    widget = w.HTML(f"<div style='max-height:520px;overflow:auto'>{content}</div>")
    widget.add_class(css)
    return widget


def _joined(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(value)
    return "" if value is None else str(value)


# -- the sections: one function each -------------------------------------------------------

def overview_section(view: "DetailView", info: dict) -> w.Widget:
    """Reference, digest, kind, size, created, and the pull commands with copy buttons."""
    ref = parse_reference(info["reference"])
    pinned = f"{ref.name}@{info['digest']}"
    first = info["platforms"][0] if info["platforms"] else {}
    kind = (f"multi-arch index of {len(info['platforms'])} platforms" if info["is_index"]
            else "image")
    rows = [("reference", info["reference"]), ("digest", info["digest"]),
            ("kind", f"{kind} ({info['media_type']})"),
            ("platforms", ", ".join(p["platform"] for p in info["platforms"])),
            ("size", " + ".join(human_size(p["size"]) for p in info["platforms"])),
            ("created", format_time(first.get("created"))),
            ("accessories", f"{len(info['accessories'])} (see Signatures)")]
    commands = {"docker": pull_command(ref), "digest-pinned": pull_command(pinned),
                "podman": pull_command(ref, "podman")}
    text = html_table(["", ""], rows) + "<p><b>Pull</b></p><pre class='rw-dt-pull'>" + \
        html.escape("\n".join(commands.values())) + "</pre>" + clipboard_buttons(commands)
    return _box(text, "rw-dt-overview")


def platforms_section(view: "DetailView", info: dict) -> w.Widget:
    """Every platform with its config: os/arch/variant, created, user, entrypoint, command,
    working directory, environment, exposed ports, labels."""
    rows = []
    for p in info["platforms"]:
        run = p["run"]
        rows.append((p["platform"], short_digest(p["digest"]), format_time(p["created"]),
                     run.get("User") or "", _joined(run.get("Entrypoint")),
                     _joined(run.get("Cmd")), run.get("WorkingDir") or "",
                     "; ".join(run.get("Env") or []), _joined(run.get("ExposedPorts")),
                     format_labels(run.get("Labels"), None), human_size(p["size"])))
    return _box(html_table(["platform", "digest", "created", "user", "entrypoint", "command",
                            "workdir", "env", "ports", "labels", "size"], rows),
                "rw-dt-platforms")


def layers_section(view: "DetailView", info: dict) -> w.Widget:
    """The layers of each platform: digest, size, media type."""
    parts = []
    for p in info["platforms"]:
        total = sum(layer["size"] for layer in p["layers"])
        parts.append(f"<p><b>{html.escape(p['platform'])}</b>: {len(p['layers'])} layers, "
                     f"{human_size(total)}</p>")
        parts.append(html_table(["#", "digest", "size", "media type"], [
            (i + 1, layer["digest"], human_size(layer["size"]), layer["media_type"])
            for i, layer in enumerate(p["layers"])]))
    return _box("".join(parts), "rw-dt-layers")


def history_section(view: "DetailView", info: dict) -> w.Widget:
    """The build steps of each platform, oldest first; steps without a layer say so."""
    parts = []
    for p in info["platforms"]:
        parts.append(f"<p><b>{html.escape(p['platform'])}</b></p>")
        parts.append(html_table(["created", "step", "layer"], [
            (format_time(step.get("created")), step.get("created_by", ""),
             "none" if step.get("empty_layer") else "yes") for step in p["history"]]))
    return _box("".join(parts), "rw-dt-history")


def vulnerabilities_section(view: "DetailView", info: dict) -> w.Widget:
    """Counts by severity with colours and the findings, from a scan of this digest; else
    a Scan button (the feed is the Scan tab's)."""
    report = view.reports.get(info["digest"])
    box = w.VBox()
    box.add_class("rw-dt-vulnerabilities")
    if report is None or isinstance(report, str):
        note = w.HTML("<p>Not scanned yet. Press Scan to match its packages against the "
                      "advisory feed given in the Scan tab.</p>")
        box.children = [note, view.scan_button]
        return box
    findings = sorted(report.findings, key=lambda f: (
        f.exempt, SEVERITY_ORDER.index(f.severity) if f.severity in SEVERITY_ORDER else 9))
    rows = [(f.severity, f.id, f.package, f.installed, f.fixed or "",
             "exempt" if f.exempt else "open", f.summary[:100]) for f in findings[:ROWS_SHOWN]]
    head = (f"<p>{security_html(report)} &nbsp;{html.escape(report.status)}, "
            f"{report.packages} packages, {html.escape(report.distro or 'no OS release')}</p>")
    more = (f"<p>the first {ROWS_SHOWN} of {len(findings)}; the Scan tab shows all</p>"
            if len(findings) > ROWS_SHOWN else "")
    # The scan's own notes speak to code (its keyword arguments): the gaps are said as they
    # are, findings without a severity in this view's words.
    unranked = sum(1 for f in report.open_findings if f.severity == "unknown")
    said = list(report.gaps) + ([f"{counted(unranked, 'open finding')} without a severity in "
                                 "the feed: counted as failing at any level"] if unranked else [])
    notes = "".join(f"<p style='color:#757575'>{html.escape(n)}</p>" for n in said)
    box.children = [_box(head + html_table(["severity", "id", "package", "installed", "fixed",
                                            "status", "summary"], rows) + more + notes,
                         "rw-dt-findings")]
    return box


def sbom_section(view: "DetailView", info: dict) -> w.Widget:
    """The packages (from the scan, else read on request) and a CycloneDX download."""
    contents = view.contents.get(info["digest"])
    report = view.reports.get(info["digest"])
    if contents is None and isinstance(report, ScanReport):
        contents = report.contents
    box = w.VBox()
    box.add_class("rw-dt-sbom")
    if contents is None:
        box.children = [w.HTML("<p>Press Read packages to list what the layers hold (Debian, "
                               "Alpine and Python package databases).</p>"), view.sbom_button]
        return box
    document = base64.b64encode(cyclonedx_json(contents).encode()).decode()
    link = (f"<a class='rw-dt-cyclonedx' download='sbom.cdx.json' "
            f"href='data:application/json;base64,{document}'>Download CycloneDX JSON</a>")
    rows = [(p.name, p.version, p.type, p.license or "", p.purl)
            for p in contents.packages[:ROWS_SHOWN]]
    box.children = [_box(f"<p><b>{len(contents.packages)} packages</b> "
                         f"({html.escape(contents.distro or 'no OS release')}) {link}</p>"
                         + html_table(["name", "version", "type", "license", "purl"], rows),
                         "rw-dt-packages")]
    return box


def signatures_section(view: "DetailView", info: dict) -> w.Widget:
    """Signatures, attestations, SBOMs and referrers attached to this image's digests."""
    found = info["accessories"]
    api = ("the registry answers the referrers API" if info["referrers_api"] else
           "the registry has no referrers API: accessories are found by their tags")
    if not found:
        text = f"<p>No signatures, attestations or referrers ({html.escape(api)}).</p>"
    else:
        text = f"<p>{len(found)} found ({html.escape(api)}).</p>" + html_table(
            ["kind", "tag or digest", "of"],
            [(a["kind"], a["reference"], short_digest(a["subject"])) for a in found])
    return _box(text, "rw-dt-signatures")


def labels_section(view: "DetailView", info: dict) -> w.Widget:
    """Every label of the image's configs."""
    labels = info["labels"]
    text = html_table(["label", "value"], sorted(labels.items())) if labels else \
        "<p>No labels.</p>"
    return _box(text, "rw-dt-labels")


def manifest_section(view: "DetailView", info: dict) -> w.Widget:
    """The manifest as the registry stores it, indented."""
    return _box(f"<pre class='rw-dt-manifest-json'>{html.escape(info['manifest'])}</pre>",
                "rw-dt-manifest")


IMAGE_CONFIGS = ("application/vnd.oci.image.config.v1+json",
                 "application/vnd.docker.container.image.v1+json")


def artifact_type(info: dict) -> str | None:
    """The artifact type of what ``describe`` read, or None for a container image: an OCI
    1.1 ``artifactType``, else a config that is not an image config (older oras)."""
    if info["is_index"]:
        return None
    try:
        manifest = json.loads(info["manifest"])
    except ValueError:
        return None
    config = (manifest.get("config") or {}).get("mediaType")
    return manifest.get("artifactType") or (config if config and config not in IMAGE_CONFIGS
                                            else None)


def files_section(view: "DetailView", info: dict) -> w.Widget:
    """An image's merged filesystem (List files, Download one), or an artifact's files
    (Pull files): both read only when their button is pressed, except an artifact's short
    file list."""
    if artifact_type(info):
        return artifact_view(info["reference"])
    return files_view(info["reference"])


def diff_section(view: "DetailView", info: dict) -> w.Widget:
    """What changed from another tag of the repository to this image (Compare)."""
    return diff_view(info["reference"])


SECTIONS: list[tuple[str, Section]] = [
    ("Overview", overview_section), ("Platforms", platforms_section),
    ("Layers", layers_section), ("History", history_section),
    ("Vulnerabilities", vulnerabilities_section), ("SBOM", sbom_section),
    ("Signatures", signatures_section), ("Labels", labels_section),
    ("Files", files_section), ("Diff", diff_section), ("Manifest", manifest_section)]


class DetailView(Panel):
    """The details of one image: ``show_image(reference)``, then one tab per section.

    ``reports`` maps digests to ``ScanReport`` (the Scan tab's, shared); ``feed`` and
    ``exemptions`` return the advisory feed and the exemptions file Scan uses.
    ``scan_button`` scans the image shown, ``sbom_button`` reads its packages;
    ``on_scanned(callback)`` hears of each new report. ``info`` is the last ``describe``
    answer; ``sections`` the list drawn (``add_section`` appends).
    """

    def __init__(self, *, sections: Sequence[tuple[str, Section]] = (),
                 reports: dict[str, Any] | None = None,
                 feed: Callable[[], str] | None = None,
                 exemptions: Callable[[], str] | None = None):
        self.sections: list[tuple[str, Section]] = list(SECTIONS) + list(sections)
        self.reports: dict[str, Any] = reports if reports is not None else {}
        self.contents: dict[str, Any] = {}
        self.feed = feed or (lambda: "")
        self.exemptions = exemptions or (lambda: "")
        self.info: dict | None = None
        self.title = w.HTML("<b>Image details</b>: choose a row in the Images tab and press "
                            "Details, or click its Security cell")
        self.title.add_class("rw-dt-title")
        self.refresh_button = button("Refresh", "rw-dt-refresh", icon="refresh")
        self.scan_button = button("Scan", "rw-dt-scan", icon="shield", style="primary")
        self.sbom_button = button("Read packages", "rw-dt-sbom-read", icon="list")
        self.tabs = w.Tab()
        self.tabs.add_class("rw-dt-sections")
        self._callbacks: list[Callable[[ScanReport], Any]] = []
        super().__init__()
        self.children = [w.HBox([self.title, self.refresh_button]), self.message,
                         self.tabs]
        self.add_class("rw-detail-view")
        show(self.refresh_button, False)
        self.on_click(self.refresh_button, self._load, background=True)
        self.on_click(self.scan_button, self.scan, background=True)
        self.on_click(self.sbom_button, self.read_packages, background=True)

    @property
    def reference(self) -> str | None:
        return self.info["reference"] if self.info else None

    def follow(self, registry: str) -> None:
        """The bar chose ``registry``: an image of another registry is no longer shown."""
        if self.info is not None and parse_reference(self.info["reference"]).registry != registry:
            self.info = None
            for holder in self.tabs.children:
                holder.children = []
            show(self.refresh_button, False)
            self.title.value = ("<b>Image details</b>: choose a row in the Images tab and "
                                "press Details, or click its Security cell")

    def add_section(self, title: str, section: Section) -> None:
        """Add a section (drawn from the next ``show_image`` or redraw on)."""
        self.sections.append((title, section))
        if self.info is not None:
            self.draw()

    def show_image(self, reference: str) -> Any:
        """Show ``reference`` (read in the worker thread: ``wait()`` for it)."""
        self._wanted = str(parse_reference(reference))
        self.title.value = f"<b>Details of {html.escape(self._wanted)}</b> (reading…)"
        return self.start("details", self._load)

    def _load(self) -> None:
        info = describe(self._wanted)
        self.info = info
        self.draw()
        show(self.refresh_button, True)

    def draw(self) -> None:
        """Build every section from ``info`` again (after a scan, a read, an added one)."""
        info = self.info
        if info is None:
            return
        titles = tuple(title for title, _ in self.sections)
        if self.tabs.titles != titles or len(self.tabs.children) != len(titles):
            # One lasting box per section: the browser's tab keeps showing the box whose
            # content is replaced (a new child in a shown tab would stay hidden there).
            self.tabs.children = [w.VBox() for _ in titles]
            self.tabs.titles = titles
            self.tabs.selected_index = 0
        for holder, (title, section) in zip(self.tabs.children, self.sections):
            try:
                holder.children = [section(self, info)]
            except Exception as e:  # noqa: BLE001 - one broken section must not hide the rest
                holder.children = [w.HTML(f"<p style='color:#b00020'>{html.escape(title)} "
                                          f"could not be shown: {html.escape(str(e))}</p>")]
        platforms = ", ".join(p["platform"] for p in info["platforms"])
        self.title.value = (f"<b>Details of {html.escape(info['reference'])}</b> "
                            f"<code>{short_digest(info['digest'])}</code> "
                            f"({html.escape(platforms)})")

    def select_section(self, title: str) -> None:
        """Show the section called ``title``."""
        self.tabs.selected_index = [t for t, _ in self.sections].index(title)

    def _need_image(self) -> dict:
        if self.info is None:
            raise ValueError("Details: no image is shown; choose a row in the Images tab and "
                             "press Details first")
        return self.info

    def scan(self) -> ScanReport:
        """Scan the image shown with the Scan tab's feed; the report joins ``reports``."""
        info = self._need_image()
        feed = self.feed().strip()
        if not feed:
            raise ValueError("Details, Scan: no advisory feed is given. Type a feed (a folder "
                             "or zip of OSV records) in the Scan tab's feed box, then press "
                             "Scan here again")
        pinned = f"{parse_reference(info['reference']).name}@{info['digest']}"
        report = scan(pinned, feed=feed, exemptions=self.exemptions().strip() or None)
        report.reference = info["reference"]
        self.reports[info["digest"]] = report
        self.draw()
        self.select_section("Vulnerabilities")
        self.message.status(f"scanned {info['reference']}: {report.status}")
        for callback in list(self._callbacks):
            callback(report)
        return report

    def read_packages(self) -> None:
        """Read the packages of the image shown (its SBOM) from its layers."""
        info = self._need_image()
        pinned = f"{parse_reference(info['reference']).name}@{info['digest']}"
        self.contents[info["digest"]] = sbom(pinned)
        self.draw()
        self.select_section("SBOM")

    def on_scanned(self, callback: Callable[[ScanReport], Any], remove: bool = False) -> None:
        """Call ``callback(report)`` after a scan from this view."""
        if remove:
            self._callbacks.remove(callback)
        else:
            self._callbacks.append(callback)
