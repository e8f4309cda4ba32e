"""Package databases for the scan samples of ``make lab``, written here rather than downloaded.

Why: a scanner reads an image's package databases, not its binaries, so a sample image that
carries a real-looking database teaches the Scan tutorial (09_scan) and the Scan tab with real
findings, offline, in kilobytes. Each database names a few real packages at real, old versions
of Debian 12 (bookworm) and Alpine 3.19, and of PyPI, chosen so that the advisories shipped in
``notebooks/osv-demo`` match them, each with a known "fixed in" version:

- Debian 12: ``openssl``/``libssl3`` 3.0.11-1~deb12u2 (CVE-2024-2511, fixed in 3.0.14-1~deb12u1);
- Alpine 3.19: ``libcrypto3``/``libssl3`` 3.1.4-r5, origin ``openssl`` (CVE-2024-2511, fixed in
  3.1.4-r6);
- PyPI: ``requests`` 2.28.1 (CVE-2023-32681, fixed in 2.31.0) in the Debian sample and
  ``urllib3`` 1.26.17 (CVE-2023-45803, fixed in 1.26.18) in the Alpine one.

The other packages (libc6, zlib1g, musl, zlib...) are at versions no shipped advisory names, so
the tutorial shows packages that are fine next to ones that are not. The files follow the
formats ``registry_widgets.operations.security.packages`` parses (dpkg's RFC 822 stanzas with
``Status`` and ``Source``, apk's one-letter fields ``P:``/``V:``/``A:``/``o:``, a dist-info
``METADATA``) and are what the real distributions write, trimmed to the fields a scanner reads.

Imports nothing of ``registry_widgets`` (see ``devstack/__init__``).
"""

from __future__ import annotations

DEBIAN_OS_RELEASE = b"""\
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
"""

ALPINE_OS_RELEASE = b"""\
NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.19.1
PRETTY_NAME="Alpine Linux v3.19"
HOME_URL="https://alpinelinux.org/"
"""


def _dpkg(name: str, version: str, arch: str, description: str, source: str = "") -> str:
    lines = [f"Package: {name}", "Status: install ok installed", "Priority: optional",
             f"Architecture: {arch}"]
    if source:
        lines.append(f"Source: {source}")
    lines += [f"Version: {version}", f"Description: {description}"]
    return "\n".join(lines) + "\n"


# (name, version, architecture, description, "source (version)" when it differs)
DEBIAN_PACKAGES = [
    ("base-files", "12.4+deb12u5", "amd64", "Debian base system miscellaneous files", ""),
    ("libc6", "2.36-9+deb12u4", "amd64", "GNU C Library: Shared libraries", "glibc"),
    ("zlib1g", "1:1.2.13.dfsg-1", "amd64", "compression library - runtime",
     "zlib (1:1.2.13.dfsg-1)"),
    ("libssl3", "3.0.11-1~deb12u2", "amd64", "Secure Sockets Layer toolkit - shared libraries",
     "openssl"),
    ("openssl", "3.0.11-1~deb12u2", "amd64",
     "Secure Sockets Layer toolkit - cryptographic utility", ""),
    ("ca-certificates", "20230311", "all", "Common CA certificates", ""),
]


def dpkg_status() -> bytes:
    """``var/lib/dpkg/status`` of the Debian sample."""
    return "\n".join(_dpkg(name, version, arch, text, source)
                     for name, version, arch, text, source in DEBIAN_PACKAGES).encode()


# (P name, V version, A arch, o origin, L license, T description)
ALPINE_PACKAGES = [
    ("musl", "1.2.4_git20230717-r4", "x86_64", "musl", "MIT", "the musl c library (libc)"),
    ("busybox", "1.36.1-r15", "x86_64", "busybox", "GPL-2.0-only", "Size optimized toolbox"),
    ("zlib", "1.3.1-r0", "x86_64", "zlib", "Zlib", "A compression/decompression Library"),
    ("libcrypto3", "3.1.4-r5", "x86_64", "openssl", "Apache-2.0", "Crypto library from openssl"),
    ("libssl3", "3.1.4-r5", "x86_64", "openssl", "Apache-2.0", "SSL shared libraries"),
    ("ca-certificates-bundle", "20240226-r0", "x86_64", "ca-certificates",
     "MPL-2.0 AND MIT", "Pre generated bundle of Mozilla certificates"),
]


def apk_installed() -> bytes:
    """``lib/apk/db/installed`` of the Alpine sample."""
    blocks = [f"P:{name}\nV:{version}\nA:{arch}\nT:{text}\nL:{license_}\no:{origin}\n"
              for name, version, arch, origin, license_, text in ALPINE_PACKAGES]
    return "\n".join(blocks).encode()


def python_metadata(name: str, version: str, summary: str, license_: str) -> bytes:
    """A dist-info ``METADATA``: the headers a scanner reads (``Name``, ``Version``)."""
    return (f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: {summary}\n"
            f"License: {license_}\nRequires-Python: >=3.7\n\n{summary}.\n").encode()


def debian_files() -> dict[str, bytes]:
    """The Debian sample's package layer: Debian 12 with openssl and Python's requests."""
    site = "usr/lib/python3/dist-packages"
    return {
        "etc/os-release": DEBIAN_OS_RELEASE,
        "var/lib/dpkg/status": dpkg_status(),
        f"{site}/requests-2.28.1.dist-info/METADATA": python_metadata(
            "requests", "2.28.1", "Python HTTP for Humans", "Apache 2.0"),
    }


def alpine_files() -> dict[str, bytes]:
    """The Alpine sample's package layer: Alpine 3.19 with openssl and Python's urllib3."""
    site = "usr/lib/python3.11/site-packages"
    return {
        "etc/os-release": ALPINE_OS_RELEASE,
        "lib/apk/db/installed": apk_installed(),
        f"{site}/urllib3-1.26.17.dist-info/METADATA": python_metadata(
            "urllib3", "1.26.17", "HTTP library with thread-safe connection pooling", "MIT"),
    }
