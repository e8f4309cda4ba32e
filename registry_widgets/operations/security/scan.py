"""``scan``: an image's packages matched against an OSV feed, plus its configuration audit.

Similar to ``ibmcloud cr va <image>`` or ``trivy image --offline-scan``: the SBOM (``sbom``)
is matched with each ecosystem's own version order (``versions``: dpkg, apk, PEP 440, npm
semver), so ``3.0.14-1~deb12u1 < 3.0.14-1`` and ``2.9.0 < 2.31.0`` hold although plain
string order says otherwise.

Debian and Alpine advisories name *source* packages, so OS packages are matched by their
source name and version. Each finding says which package, installed and fixed versions, the
advisory id and aliases (CVE), severity (CVSS base score via the ``cvss`` package where the
record gives a vector), and the layer that brought the package. Exempt findings stay in the
report, marked.

A scan that could not look at everything says so: ``ScanReport.notes`` names each package
database it could not read (which layer, why) and an image whose distribution or release is
unknown, and ``status`` then ends in "(incomplete)". A finding without a severity (OSV's
Debian records carry none) fails every ``fail_on`` threshold unless ``unknown_fails=False``:
an unranked known CVE is not a pass.

Imports ``errors``, ``progress``, ``reference``, ``operations.core`` and the other security
modules (sbom, osv, versions, findings, audit, exemptions).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Sequence

from ...errors import BadReference, FeedError, ScanFailed
from ...progress import ProgressCallback
from ...reference import Reference, parse_reference
from ..core.arguments import check_platform
from .audit import audit
from .findings import Finding
from .exemptions import Exemption, exemption_for, load_exemptions
from .osv import SEVERITIES, Feed, normal_name, open_feed
from .sbom import ImageContents, Package, os_ecosystem, read_image
from .versions import SUPPORTED_ECOSYSTEMS, affected_by

log = logging.getLogger("registry_widgets.scan")

SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}


# Version order lives in ``versions``; ``Finding`` in ``findings`` (shared with ``audit``).


def _candidates(db: Any, keys: set[str]) -> dict[tuple[str, str], list[tuple]]:
    """Every affected entry naming one of ``keys``, with its advisory, by (name, ecosystem).

    One query per few hundred names (not one per package): a 10,000-package image against a
    100,000-record feed then costs a few dozen queries."""
    out: dict[tuple[str, str], list[tuple]] = {}
    names = sorted(keys)
    for start in range(0, len(names), 500):
        chunk = names[start:start + 500]
        rows = db.execute(
            "SELECT name, ecosystem, advisory, ranges, versions, aliases, summary, severity, "
            f"score, vector FROM affected WHERE name IN ({','.join('?' * len(chunk))})", chunk)
        for row in rows:
            out.setdefault((row[0], row[1]), []).append(row[2:])
    return out


def _ecosystems(ecosystem: str) -> tuple[str, ...]:
    """The feed ecosystems that apply to a package's: itself, its base name (a record for
    all of Debian), and OSV's Ubuntu variants (``Ubuntu:22.04:LTS``, ``Ubuntu:Pro:22.04:LTS``)."""
    base = ecosystem.split(":")[0]
    out = [ecosystem] + ([base] if base != ecosystem else [])
    if base == "Ubuntu" and ecosystem != base:
        release = ecosystem.split(":", 1)[1]
        out += [f"Ubuntu:{release}:LTS", f"Ubuntu:Pro:{release}:LTS"]
    return tuple(out)


def match(packages: Iterable[Package], feed: Feed | str) -> list[Finding]:
    """Every (package, advisory) pair where the installed version is affected."""
    feed = open_feed(feed)
    packages = [p for p in packages if p.ecosystem.split(":")[0] in SUPPORTED_ECOSYSTEMS]
    names = {p: normal_name(p.ecosystem.split(":")[0], p.match_name) for p in packages}
    try:
        db = feed.connect()
        try:
            candidates = _candidates(db, set(names.values()))
        finally:
            db.close()
    except sqlite3.Error as e:
        raise FeedError(f"the index of the feed {feed.source} at {feed.index} cannot be read "
                        f"({e}); delete it and scan again to rebuild it") from e
    parsed: dict[str, Any] = {}  # the same ranges serve many packages

    def load(text: str) -> Any:
        value = parsed.get(text)
        if value is None:
            value = parsed[text] = json.loads(text)
        return value

    findings: list[Finding] = []
    for pkg in packages:
        name = names[pkg]
        rows = [row for eco in _ecosystems(pkg.ecosystem)
                for row in candidates.get((name, eco), [])]
        seen = set()
        for advisory, ranges, versions, aliases, summary, severity, score, vector in rows:
            if advisory in seen:
                continue
            hit, fixed = affected_by(pkg.ecosystem, pkg.match_version, load(ranges),
                                     load(versions))
            if not hit:
                continue
            seen.add(advisory)
            findings.append(Finding(
                id=advisory, kind="vulnerability", severity=severity, summary=summary or "",
                aliases=tuple(load(aliases)), package=pkg.name, installed=pkg.version,
                fixed=fixed, ecosystem=pkg.ecosystem, source=pkg.source, purl=pkg.purl,
                score=score, vector=vector or "", layer=pkg.layer, layer_index=pkg.layer_index,
                path=pkg.path))
    return findings


@dataclass
class ScanReport:
    """What ``scan`` found for one image."""

    reference: str
    digest: str
    distro: str
    os_supported: bool
    packages: int
    feed: str
    findings: list[Finding] = field(default_factory=list)
    # what the scan could not look at, one sentence each; any of them makes it incomplete
    gaps: list[str] = field(default_factory=list)
    # does a finding without a severity fail every fail_on threshold? (see ``scan``)
    unknown_fails: bool = True
    # what the layers held (for the SBOM outputs without reading them again); not serialised
    contents: ImageContents | None = field(default=None, repr=False, compare=False)
    # an OCI artifact's type: it is not scanned as a container (no packages, no settings)
    artifact_type: str = ""

    @property
    def open_findings(self) -> list[Finding]:
        return [f for f in self.findings if not f.exempt]

    @property
    def complete(self) -> bool:
        """Did the scan read every package database and know the distribution?"""
        return not self.gaps

    @property
    def notes(self) -> list[str]:
        """What a reader of the report must know: each gap of the scan, then how findings
        without a severity were counted."""
        out = list(self.gaps)
        if self.artifact_type:
            out.append(f"{self.reference} is an artifact of type {self.artifact_type}, not a "
                       "container image: it holds no packages and runs nowhere, so there was "
                       "nothing to match or audit")
        unranked = [f for f in self.open_findings if f.severity == "unknown"]
        if unranked:
            how = ("count as failing at any fail_on threshold (unknown_fails=False ranks them "
                   "below low)" if self.unknown_fails else
                   "rank below low, so fail_on thresholds above 'unknown' pass them "
                   "(unknown_fails=False)")
            ids = ", ".join(sorted({f.id for f in unranked})[:5])
            out.append(f"{len(unranked)} open finding{'s' if len(unranked) != 1 else ''} "
                       f"without a severity in the feed ({ids}) {how}")
        return out

    @property
    def status(self) -> str:
        """The Security status column: "No issues", "N issues" or "unsupported OS"; followed by
        " (incomplete)" when the scan could not read everything (see ``notes``)."""
        if self.artifact_type:
            return "artifact, not scanned"
        if not self.os_supported:
            return "unsupported OS"
        n = len(self.open_findings)
        text = "No issues" if n == 0 else f"{n} issue{'s' if n != 1 else ''}"
        return text if self.complete else f"{text} (incomplete)"

    def counts(self) -> dict[str, int]:
        """Open findings per severity, highest first."""
        out = {s: 0 for s in reversed(SEVERITIES)}
        for f in self.open_findings:
            out[f.severity] = out.get(f.severity, 0) + 1
        return out

    def at_or_above(self, threshold: str) -> list[Finding]:
        """Open findings at or above ``threshold``; with ``unknown_fails``, those without a
        severity too, whatever the threshold."""
        rank = severity_rank(threshold)
        return [f for f in self.open_findings if SEVERITY_RANK.get(f.severity, 0) >= rank
                or (self.unknown_fails and f.severity == "unknown")]

    def check(self, fail_on: str | None) -> "ScanReport":
        """Raise ``ScanFailed`` when open findings reach ``fail_on`` (low, medium, high,
        critical; ``unknown`` counts every finding; findings without a severity count at any
        level while ``unknown_fails``); else return the report."""
        if fail_on is None:
            return self
        failing = self.at_or_above(fail_on)
        if failing:
            ids = ", ".join(sorted({f.id for f in failing})[:10])
            ref = parse_reference(self.reference)
            raise ScanFailed(f"{self.reference}: {len(failing)} open finding(s) at or above "
                             f"{fail_on} ({ids}). Update the packages named in the report, or "
                             "exempt an accepted issue with add_exemption"
                             + (" (findings without a severity count at any level: "
                                "unknown_fails=False ranks them below low)"
                                if self.unknown_fails and any(f.severity == "unknown"
                                                              for f in failing) else ""),
                             report=self,
                             registry=ref.registry, reference=self.reference)
        return self

    def table(self) -> Any:
        """The findings as a DataFrame, worst first (exempt ones last)."""
        return findings_table(self.findings)

    def _repr_html_(self) -> str:
        """A summary table for a notebook that shows the report as it is: the image, what
        was read, the status and the open findings per severity."""
        from ..core.result import html_table

        counts = ", ".join(f"{n} {level}" for level, n in self.counts().items() if n)
        return html_table([("image", self.reference), ("digest", self.digest),
                           ("distribution", self.distro), ("packages", self.packages),
                           ("feed", self.feed), ("status", self.status),
                           ("open findings", counts or "none")]
                          + [("note", note) for note in self.notes])

    def to_dict(self) -> dict[str, Any]:
        return {"reference": self.reference, "digest": self.digest, "distro": self.distro,
                "os_supported": self.os_supported, "packages": self.packages, "feed": self.feed,
                "status": self.status, "complete": self.complete,
                "unknown_fails": self.unknown_fails, "notes": self.notes,
                "counts": self.counts(), "findings": [asdict(f) for f in self.findings],
                "artifact_type": self.artifact_type}

    def to_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def to_sarif(self) -> str:
        """SARIF 2.1.0, as CI systems (GitHub code scanning, GitLab) read it: one rule per
        issue id, one result per finding; exempt findings carry a suppression."""
        return json.dumps(sarif(self), indent=2)


TABLE_COLUMNS = ["severity", "score", "id", "aliases", "package", "installed", "fixed", "kind",
                 "summary", "layer", "exempt", "exemption"]


def findings_table(findings: Sequence[Finding]) -> Any:
    import pandas as pd

    rows = [{**{c: getattr(f, c) for c in TABLE_COLUMNS}, "aliases": ", ".join(f.aliases),
             "layer": f"{f.layer_index + 1}: {f.layer[:19]}" if f.layer else ""}
            for f in findings]
    frame = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    if frame.empty:
        return frame
    frame["_rank"] = [-SEVERITY_RANK.get(s, 0) for s in frame["severity"]]
    frame = frame.sort_values(["exempt", "_rank", "id", "package"], kind="stable")
    return frame.drop(columns="_rank").reset_index(drop=True)


_SARIF_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note",
                "unknown": "warning"}


def sarif(report: ScanReport) -> dict[str, Any]:
    rules: dict[str, dict[str, Any]] = {}
    results = []
    for f in report.findings:
        rules.setdefault(f.id, {
            "id": f.id, "shortDescription": {"text": f.summary or f.id},
            "properties": {"security-severity": f"{f.score:.1f}" if f.score is not None else "",
                           "tags": ["security", f.kind]}})
        where = f"{f.package} {f.installed}" if f.package else "image configuration"
        text = f"{f.id} in {where}" + (f" (fixed in {f.fixed})" if f.fixed else "")
        result: dict[str, Any] = {
            "ruleId": f.id, "level": _SARIF_LEVEL.get(f.severity, "warning"),
            "message": {"text": text},
            "locations": [{"physicalLocation": {"artifactLocation": {
                "uri": f"{report.reference}{f.path}" if f.path else report.reference}}}],
            "properties": {"severity": f.severity, "aliases": list(f.aliases), "layer": f.layer},
        }
        if f.exempt:
            result["suppressions"] = [{"kind": "external", "justification": f.exemption}]
        results.append(result)
    return {"$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0",
            "runs": [{"tool": {"driver": {"name": "registry_widgets",
                                          "rules": list(rules.values()),
                                          "informationUri": "https://ossf.github.io/osv-schema/"}},
                      "results": results}]}


def severity_rank(level: str) -> int:
    text = str(level).lower()
    if text == "any":
        return 0
    if text not in SEVERITY_RANK:
        raise BadReference(f"unknown severity {level!r} for fail_on; use one of "
                           f"{', '.join(SEVERITIES)} (or 'any')")
    return SEVERITY_RANK[text]


def _mark_exempt(findings: list[Finding], ref: Reference, digest: str,
                 exemptions: Sequence[Exemption]) -> list[Finding]:
    out = []
    for f in findings:
        rule = exemption_for(f.ids, ref, digest, exemptions)
        if rule is not None:
            f = Finding(**{**asdict(f), "aliases": f.aliases, "exempt": True,
                           "exemption": f"{rule.scope}: {rule.reason}".rstrip(": ")})
        out.append(f)
    return out


def _gaps(contents: ImageContents) -> list[str]:
    """What the scan could not look at: unread package databases (from the SBOM), and OS
    packages whose distribution or release is unknown (their advisories are per release)."""
    gaps = list(contents.notes)
    os_packages = [p for p in contents.packages if p.type in ("deb", "apk")]
    if not os_packages:
        return gaps
    count = f"{len(os_packages)} OS package{'s' if len(os_packages) != 1 else ''}"
    if not contents.os:
        gaps.append(f"the distribution is unknown (no /etc/os-release): the advisories of its "
                    f"release could not be matched against its {count}")
    elif os_ecosystem(contents.os) is None:
        gaps.append(f"the distribution {contents.distro or contents.os.get('ID', '?')!r} is "
                    f"not one whose advisories this scan reads (Debian, Ubuntu, Alpine): its "
                    f"{count} were not matched")
    elif ":" not in os_ecosystem(contents.os):
        gaps.append(f"the release of {contents.distro!r} is unknown (no VERSION_ID in its "
                    f"os-release): only advisories for all of "
                    f"{os_ecosystem(contents.os)} were matched against its {count}")
    return gaps


def scan(ref: str | Reference, *, feed: str | Feed,
         exemptions: str | Sequence[Exemption] | None = None, fail_on: str | None = None,
         unknown_fails: bool = True, platform: str | None = None,
         progress: ProgressCallback | None = None) -> ScanReport:
    """Scan an image: known vulnerabilities of its packages from ``feed`` (a folder, zip or
    artifact reference of OSV records) and its configuration audit.

    ``exemptions`` is an exemptions file (or a list of ``Exemption``): matching findings are
    kept and marked exempt. With ``fail_on`` (low/medium/high/critical), open findings at or
    above it raise ``ScanFailed`` (the report is on the exception), so a headless run exits
    non-zero. A finding whose advisory gives no severity (OSV's Debian records give none)
    fails at any ``fail_on`` level while ``unknown_fails`` (the default): pass
    ``unknown_fails=False`` to rank it below low instead. The report's ``notes`` say so,
    and name what could not be read (``status`` then ends in "(incomplete)").
    """
    ref = parse_reference(ref)
    if fail_on is not None:
        severity_rank(fail_on)  # a typo fails before any download
    if platform is not None:  # so does a platform that is none (arm64 is linux/arm64/v8)
        platform = check_platform("platform", platform)
    rules = load_exemptions(exemptions) if isinstance(exemptions, (str, bytes)) or \
        hasattr(exemptions, "__fspath__") else list(exemptions or [])
    indexed = open_feed(feed)
    contents: ImageContents = read_image(ref, platform=platform, progress=progress)
    findings = match(contents.packages, indexed) + audit(contents)
    findings = _mark_exempt(findings, ref, contents.digest, rules)
    report = ScanReport(reference=str(ref), digest=contents.digest, distro=contents.distro,
                        os_supported=not contents.os or os_ecosystem(contents.os) is not None,
                        packages=len(contents.packages), feed=indexed.source, findings=findings,
                        gaps=_gaps(contents), unknown_fails=unknown_fails, contents=contents,
                        artifact_type=contents.artifact_type)
    return report.check(fail_on)
