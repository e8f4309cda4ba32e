"""Package databases inside an image, as files: parsers for each, and which file is which.

Pure functions over text (no network, no tar): dpkg's ``status`` and ``status.d/*``, Alpine's
``lib/apk/db/installed``, Python's ``METADATA``/``PKG-INFO``, npm's ``package.json``, and
``os-release`` with the OSV ecosystem it names. Tested on real files (tests/scan_data).

Layer 3 helper: imports only the standard library.
"""

from __future__ import annotations

import json
import posixpath
import re
from email.parser import HeaderParser
from typing import Iterator


def os_ecosystem(os_release: dict[str, str]) -> str | None:
    """The OSV ecosystem of a distribution: ``Debian:12``, ``Ubuntu:22.04``, ``Alpine:v3.19``."""
    distro = os_release.get("ID", "").lower()
    version = os_release.get("VERSION_ID", "")
    if distro == "debian":
        # testing/sid have no VERSION_ID; their advisories are under the codename-less name
        return f"Debian:{version.split('.')[0]}" if version else "Debian"
    if distro == "ubuntu" and version:
        return f"Ubuntu:{version}"
    if distro == "alpine" and version:
        return "Alpine:v" + ".".join(version.split(".")[:2])
    return None


# --- parsing package databases (pure functions, tested on real files) ---------------------

def parse_os_release(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        key, eq, value = line.strip().partition("=")
        if eq and key and not key.startswith("#"):
            out[key] = value.strip().strip("\"'")
    return out


def _stanzas(text: str) -> Iterator[dict[str, str]]:
    """RFC 822-style paragraphs (dpkg status): continuation lines start with a space."""
    fields: dict[str, str] = {}
    key = None
    for line in text.splitlines():
        if not line.strip():
            if fields:
                yield fields
            fields, key = {}, None
        elif line[0] in " \t":
            if key:
                fields[key] += "\n" + line.strip()
        else:
            key, _, value = line.partition(":")
            key = key.strip()
            fields[key] = value.strip()
    if fields:
        yield fields


_SOURCE = re.compile(r"^(\S+)(?:\s+\((\S+)\))?")


def parse_dpkg_status(text: str) -> list[dict[str, str]]:
    """Installed packages of a dpkg status file: name, version, source, source_version, arch.

    ``Source: openssl (3.0.11-1)`` names a source package whose version differs from the
    binary's; without a version the binary's is the source's; without ``Source`` the source
    package has the binary's name. Entries whose ``Status`` is not ``... installed`` (removed,
    config-files) are left out; distroless ``status.d`` entries have no ``Status`` at all.
    """
    out = []
    for fields in _stanzas(text):
        name, version = fields.get("Package"), fields.get("Version")
        status = fields.get("Status")
        if not name or not version or (status is not None and not status.endswith(" installed")):
            continue
        source, source_version = name, version
        match = _SOURCE.match(fields.get("Source", ""))
        if match:
            source, source_version = match.group(1), match.group(2) or version
        out.append({"name": name, "version": version, "source": source,
                    "source_version": source_version, "arch": fields.get("Architecture", ""),
                    "license": ""})
    return out


def parse_apk_installed(text: str) -> list[dict[str, str]]:
    """Alpine's ``lib/apk/db/installed``: one letter per field (P name, V version, A arch,
    o origin, L license), a blank line between packages."""
    out = []
    for block in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            if len(line) > 2 and line[1] == ":" and line[0] not in fields:
                fields[line[0]] = line[2:]
        if fields.get("P") and fields.get("V"):
            out.append({"name": fields["P"], "version": fields["V"],
                        "source": fields.get("o", fields["P"]), "source_version": fields["V"],
                        "arch": fields.get("A", ""), "license": fields.get("L", "")})
    return out


def parse_python_metadata(text: str) -> list[dict[str, str]]:
    """``METADATA``/``PKG-INFO`` headers: ``Name`` and ``Version`` (the body is the README)."""
    headers = HeaderParser().parsestr(text.split("\n\n", 1)[0] + "\n", headersonly=True)
    name, version = headers.get("Name"), headers.get("Version")
    if not name or not version:
        return []
    return [{"name": name.strip(), "version": version.strip(), "source": "", "source_version": "",
             "arch": "", "license": (headers.get("License") or "").strip()[:200]}]


def parse_package_json(text: str) -> list[dict[str, str]]:
    try:
        data = json.loads(text)
    except ValueError:
        return []
    if not isinstance(data, dict) or not isinstance(data.get("name"), str) \
            or not isinstance(data.get("version"), str):
        return []
    license_ = data.get("license")
    return [{"name": data["name"], "version": data["version"], "source": "", "source_version": "",
             "arch": "", "license": license_ if isinstance(license_, str) else ""}]


def database_kind(path: str) -> str | None:
    """Which parser reads the file at ``path`` (no leading slash), if any."""
    if path in ("etc/os-release", "usr/lib/os-release"):
        return "os-release"
    if path == "var/lib/dpkg/status" or (path.startswith("var/lib/dpkg/status.d/")
                                         and path.count("/") == 4 and not path.endswith(".md5sums")):
        return "dpkg"
    if path == "lib/apk/db/installed":
        return "apk"
    parent, base = posixpath.split(path)
    if (base == "METADATA" and parent.endswith(".dist-info")) \
            or (base == "PKG-INFO" and parent.endswith(".egg-info")) or base.endswith(".egg-info"):
        return "python"
    if base == "package.json":
        parts = parent.split("/")
        if len(parts) >= 2 and parts[-2] == "node_modules":
            return "npm"
        if len(parts) >= 3 and parts[-3] == "node_modules" and parts[-2].startswith("@"):
            return "npm"
    return None


PARSERS = {"dpkg": parse_dpkg_status, "apk": parse_apk_installed,
            "python": parse_python_metadata, "npm": parse_package_json}
PURL_TYPES = {"dpkg": "deb", "apk": "apk", "python": "pypi", "npm": "npm"}
