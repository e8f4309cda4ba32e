"""Rows, targets, the machine and versions, and the Markdown and JSON they are written as.

A ``Row`` is one case of one scenario (``registry_widgets.copy`` in "copy 512 MiB, cold")
with its samples; the table shows the median, the spread, the ratio to the scenario's peer
row (the tool people use instead), the target and whether it is met.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Row:
    """One case of one scenario. ``peer`` marks the row that others in the scenario are
    compared with; ``met`` is None where there is no target."""

    scenario: str
    case: str
    samples: list[float] = field(default_factory=list)
    unit: str = "s"
    peer: bool = False
    target: str = ""
    met: bool | None = None
    note: str = ""
    error: str = ""

    @property
    def median(self) -> float | None:
        return statistics.median(self.samples) if self.samples else None


@dataclass
class Report:
    """Every row of a run plus what it ran on."""

    rows: list[Row] = field(default_factory=list)
    machine: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    started: str = field(default_factory=lambda: time.strftime("%Y-%m-%d %H:%M:%S %Z"))
    wall_seconds: float = 0.0

    def add(self, scenario: str, case: str, **kwargs: Any) -> Row:
        row = Row(scenario, case, **kwargs)
        self.rows.append(row)
        return row

    def peer_of(self, row: Row) -> Row | None:
        return next((r for r in self.rows if r.scenario == row.scenario and r.peer), None)

    def ratio(self, row: Row) -> float | None:
        peer = self.peer_of(row)
        if peer is None or row.median is None or not peer.median:
            return None
        return row.median / peer.median

    def to_json(self) -> dict[str, Any]:
        rows = []
        for row in self.rows:
            rows.append({**asdict(row), "median": row.median, "ratio_to_peer": self.ratio(row),
                         "peer_case": (self.peer_of(row) or Row("", "")).case or None})
        return {"started": self.started, "wall_seconds": self.wall_seconds,
                "machine": self.machine, "versions": self.versions, "settings": self.settings,
                "notes": self.notes, "rows": rows}


# -- Markdown ------------------------------------------------------------------------------

def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    if unit == "s":
        return f"{value:.3f} s" if value < 1 else f"{value:.2f} s"
    if unit == "MiB":
        return f"{value:.0f} MiB" if value >= 10 else f"{value:.1f} MiB"
    return f"{value:.3g} {unit}".strip()


def _spread(row: Row) -> str:
    if len(row.samples) < 2:
        return ""
    return f"{_number(min(row.samples), row.unit)} – {_number(max(row.samples), row.unit)}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(report: Report) -> str:
    """The whole report: title, machine, versions, the table, then notes."""
    lines = [f"# registry_widgets benchmarks ({report.started})", ""]
    m = report.machine
    # First: on shared cores every figure below depends on what else was running.
    lines.append(f"**Load average** (1, 5, 15 min): {m.get('load_start', 'unknown')} at start, "
                 f"{m.get('load_end', 'unknown')} at end, on {m.get('cores')} cores.")
    lines.append(f"Machine: {m.get('cores')} cores ({m.get('cpu')}), "
                 f"{m.get('memory_gib')} GiB memory, Linux {m.get('kernel')}.")
    lines.append("Versions: " + ", ".join(f"{k} {v}" for k, v in report.versions.items()) + ".")
    s = report.settings
    lines.append(f"Runs per case: {s.get('runs')} (median shown, min – max beside it)"
                 + ("; QUICK MODE: tiny sizes, not a measurement" if s.get("quick") else "")
                 + f". Total wall time: {report.wall_seconds:.0f} s.")
    lines += ["", "| Scenario | Case | Median | Min – max | Runs | vs peer | Target | Met | Notes |",
              "|---|---|---|---|---|---|---|---|---|"]
    order = {scenario: i for i, scenario in reversed(list(enumerate(r.scenario for r in report.rows)))}
    for row in sorted(report.rows, key=lambda r: order[r.scenario]):  # stable: grouped
        ratio = report.ratio(row)
        if row.peer:
            versus = "1.00 (peer)"
        else:
            versus = f"{ratio:.2f}" if ratio is not None else ""
        met = {True: "yes", False: "**no**", None: ""}[row.met]
        note = row.note + (f" FAILED: {row.error}" if row.error else "")
        lines.append("| " + " | ".join(_cell(c) for c in (
            row.scenario, row.case, _number(row.median, row.unit), _spread(row),
            str(len(row.samples)), versus, row.target, met, note.strip())) + " |")
    if report.notes:
        lines += ["", "Notes:", ""] + [f"- {note}" for note in report.notes]
    return "\n".join(lines) + "\n"


def load(path: Path) -> Report:
    """A report back from its JSON (to render it again)."""
    data = json.loads(path.read_text())
    fields = set(Row.__dataclass_fields__)
    rows = [Row(**{k: v for k, v in row.items() if k in fields}) for row in data["rows"]]
    return Report(rows=rows, machine=data["machine"], versions=data["versions"],
                  settings=data["settings"], notes=data["notes"], started=data["started"],
                  wall_seconds=data["wall_seconds"])


def write(report: Report, directory: Path, stem: str) -> tuple[Path, Path]:
    """``<stem>.md`` and ``<stem>.json`` in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    md, js = directory / f"{stem}.md", directory / f"{stem}.json"
    md.write_text(markdown(report))
    js.write_text(json.dumps(report.to_json(), indent=2, default=str) + "\n")
    return md, js


# -- machine and versions ------------------------------------------------------------------

def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        match = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
        cpu = match.group(1).strip() if match else platform.processor() or "unknown"
    except OSError:
        pass
    memory = 0.0
    try:
        match = re.search(r"^MemTotal:\s*(\d+) kB", Path("/proc/meminfo").read_text(), re.M)
        memory = int(match.group(1)) / (1 << 20) if match else 0.0
    except OSError:
        pass
    return {"cores": os.cpu_count(), "cpu": cpu, "memory_gib": round(memory, 1),
            "kernel": platform.release(), "hostname": platform.node(),
            "load_start": load_average()}


def _first_line(argv: list[str]) -> str:
    if not shutil.which(argv[0]):
        return "not installed"
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0].strip() if text else "unknown"


def versions() -> dict[str, str]:
    import docker
    import pandas
    import requests
    import urllib3

    import registry_widgets

    distribution = _first_line(["docker-registry", "--version"])
    match = re.search(r"(\d+\.\d+\.\d+\S*)", distribution)
    skopeo = _first_line(["skopeo", "--version"]).replace("skopeo version ", "")
    docker_server = _first_line(["docker", "version", "--format", "{{.Server.Version}}"])
    curl = _first_line(["curl", "--version"]).split(" ")
    return {
        "python": platform.python_version(), "registry_widgets": registry_widgets.__version__,
        "distribution": match.group(1) if match else distribution, "skopeo": skopeo,
        "docker engine": docker_server, "curl": curl[1] if len(curl) > 1 else "unknown",
        "docker SDK": docker.__version__, "requests": requests.__version__,
        "urllib3": urllib3.__version__, "pandas": pandas.__version__,
        "chromium": _first_line(["chromium", "--version"]).replace("Chromium ", "").split(" ")[0],
    }

