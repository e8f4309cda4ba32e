"""The configuration audit of an image: what its config and top layer say about how it runs.

Checks (ids are what exemptions name):

- ``CONFIG-NO-USER``: no ``USER`` set, so containers run as root by default;
- ``CONFIG-ROOT-USER``: ``USER root`` / ``0`` set explicitly;
- ``CONFIG-SECRET-ENV``: an environment variable whose name or value looks like a secret;
- ``CONFIG-SECRET-HISTORY``: a build step whose command line carries one (``--build-arg``
  values end up in the history);
- ``CONFIG-ADD-URL``: ``ADD`` from a URL (unpinned, unverified download at build time);
- ``CONFIG-NO-HEALTHCHECK``: no ``HEALTHCHECK``;
- ``CONFIG-WORLD-WRITABLE``: files or directories anyone may write, in the top layer
  (sticky directories such as ``/tmp`` are fine);
- ``CONFIG-PRIVILEGED-PORT``: an exposed port below 1024.

Secrets never reach the findings: a finding names the variable or build step, never the value.

Imports only the standard library and ``findings``.
"""

from __future__ import annotations

import re
from typing import Any

from .findings import Finding

SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|"
                         r"PRIVATE_?KEY|CREDENTIAL|AUTH)", re.IGNORECASE)
# Values that are secrets whatever the variable is called.
SECRET_VALUE = re.compile(r"(AKIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY|gh[pousr]_[A-Za-z0-9]{30,}|"
                          r"xox[baprs]-[A-Za-z0-9-]{10,}|glpat-[A-Za-z0-9_-]{20})")
HISTORY_SECRET = re.compile(r"(?<![A-Za-z0-9_])([A-Za-z0-9_]*(?:PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|"
                            r"ACCESS_?KEY|PRIVATE_?KEY)[A-Za-z0-9_]*)=(?!\s|$|\"\"|'')",
                            re.IGNORECASE)
ADD_URL = re.compile(r"\bADD\b(?:\s+--\S+)*\s+(https?|ftp)://", re.IGNORECASE)
# Names that look like secrets but hold none (paths to a secret file, a flag).
HARMLESS_SUFFIX = ("_FILE", "_PATH", "_DIR", "_URL_PATH")


def _issue(check: str, severity: str, summary: str) -> Any:

    return Finding(id=check, kind="configuration", severity=severity, summary=summary)


def audit(contents: Any) -> list[Any]:
    """The configuration findings of an image read by ``read_image`` (``ImageContents``).
    An OCI artifact (a model, a dataset) runs nowhere: it has no container settings to
    audit, so it has no findings."""
    if getattr(contents, "artifact_type", ""):
        return []
    config: dict[str, Any] = contents.config or {}
    run: dict[str, Any] = config.get("config") or {}
    out = []
    user = str(run.get("User") or "").strip()
    if not user:
        out.append(_issue("CONFIG-NO-USER", "medium", "No USER is set: containers run as root "
                          "unless the runtime says otherwise. Add `USER <uid>` to the Dockerfile"))
    elif user.split(":")[0] in ("root", "0"):
        out.append(_issue("CONFIG-ROOT-USER", "medium", f"The image runs as root (USER {user}). "
                          "Run as an unprivileged user"))
    for entry in run.get("Env") or []:
        name, _, value = str(entry).partition("=")
        by_name = SECRET_NAME.search(name) and value and not name.upper().endswith(HARMLESS_SUFFIX)
        if by_name or SECRET_VALUE.search(value):
            out.append(_issue("CONFIG-SECRET-ENV", "high", f"Environment variable {name} looks like "
                              "it holds a secret, and anyone who can pull the image can read it. "
                              "Pass secrets at run time (a mounted secret), not in the image"))
    for number, step in enumerate(config.get("history") or [], start=1):
        command = str(step.get("created_by") or "")
        names = sorted({m.group(1) for m in HISTORY_SECRET.finditer(command)})
        if names or SECRET_VALUE.search(command):
            what = ", ".join(names) or "a secret-looking value"
            out.append(_issue("CONFIG-SECRET-HISTORY", "high", f"Build step {number} records "
                              f"{what} in the image history. Use build secrets "
                              "(`RUN --mount=type=secret`) instead of build arguments"))
        if ADD_URL.search(command):
            out.append(_issue("CONFIG-ADD-URL", "low", f"Build step {number} uses ADD with a URL: "
                              "the download is neither pinned nor verified. Download with a "
                              "checksum in a RUN step, or COPY a vetted file"))
    health = run.get("Healthcheck") or {}
    if not health or (health.get("Test") or [""])[0] == "NONE":
        out.append(_issue("CONFIG-NO-HEALTHCHECK", "low", "No HEALTHCHECK: the runtime cannot "
                          "tell a hung container from a healthy one"))
    writable = list(getattr(contents, "top_layer_world_writable", []) or [])
    if writable:
        shown = ", ".join(writable[:5]) + (f" and {len(writable) - 5} more" if len(writable) > 5 else "")
        out.append(_issue("CONFIG-WORLD-WRITABLE", "medium", f"World-writable paths in the top "
                          f"layer: {shown}. Remove the o+w bit (chmod o-w)"))
    for port in sorted(run.get("ExposedPorts") or {}):
        number = str(port).split("/")[0]
        if number.isdigit() and 0 < int(number) < 1024:
            out.append(_issue("CONFIG-PRIVILEGED-PORT", "low", f"Exposes privileged port {port}: "
                              "binding it needs root or CAP_NET_BIND_SERVICE. Listen on a port "
                              "above 1023 and map it at run time"))
    return out
