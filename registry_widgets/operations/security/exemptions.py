"""Exemptions, as IBM Vulnerability Advisor has them (``ibmcloud cr exemption-add``).

An exemption names an issue id (a CVE, an advisory id such as ``GHSA-...``, or a
configuration check such as ``CONFIG-NO-HEALTHCHECK``) and a scope:

- ``*``: everywhere;
- ``registry`` (``us.icr.io``): every image there;
- ``registry/namespace`` or ``registry/namespace/repository``: that path and below it;
- ``registry/namespace/repository:tag``: one tag;
- ``registry/namespace/repository@sha256:...``: one image, whatever its tags.

They are kept in a JSON file (``{"exemptions": [{"issue", "scope", "reason"}]}``) that can
live in version control. Exempt findings are shown as exempt, never hidden.

Layer 3: imports ``errors`` and ``reference``.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from ...errors import BadReference
from ...reference import (Reference, validate_digest, validate_registry, validate_repository,
                          validate_tag)


@dataclass(frozen=True)
class Exemption:
    issue: str
    scope: str = "*"
    reason: str = ""

    def applies(self, ids: Iterable[str], ref: Reference, digest: str) -> bool:
        wanted = self.issue.upper()
        if wanted not in {i.upper() for i in ids}:
            return False
        return scope_matches(self.scope, ref, digest)


def parse_scope(scope: str) -> tuple[str, str, str, str]:
    """``(registry, path, tag, digest)`` of a scope; empty parts are unset. ``*`` is all empty.
    Raises ``BadReference`` with the expected forms."""
    if not isinstance(scope, str) or not scope.strip():
        raise BadReference("an exemption scope is '*', a registry, registry/namespace, "
                           "registry/namespace/repository, or that with :tag or @sha256:...")
    scope = scope.strip()
    if scope == "*":
        return "", "", "", ""
    rest, _, digest = scope.partition("@")
    registry, _, path = rest.partition("/")
    tag = ""
    if ":" in path:
        path, _, tag = path.rpartition(":")
    validate_registry(registry)
    if path:
        validate_repository(path)
    if tag:
        validate_tag(tag)
    if digest:
        validate_digest(digest)
        if not path:
            raise BadReference(f"exemption scope {scope!r}: a digest needs its repository "
                               "(registry/namespace/repository@sha256:...)")
    return registry, path, tag, digest


def scope_matches(scope: str, ref: Reference, digest: str) -> bool:
    registry, path, tag, pinned = parse_scope(scope)
    if not registry:
        return True
    if registry != ref.registry:
        return False
    if path and not (ref.repository == path or ref.repository.startswith(path + "/")):
        return False
    if (tag or pinned) and ref.repository != path:
        return False
    if tag and ref.tag != tag:
        return False
    if pinned and pinned not in (digest, ref.digest):
        return False
    return True


def exemption_for(ids: Iterable[str], ref: Reference, digest: str,
                  exemptions: Sequence[Exemption]) -> Exemption | None:
    ids = tuple(ids)
    for rule in exemptions:
        if rule.applies(ids, ref, digest):
            return rule
    return None


def load_exemptions(path: str | os.PathLike[str]) -> list[Exemption]:
    """The exemptions in a file; a missing file means none."""
    file = Path(path).expanduser()
    if not file.exists():
        return []
    try:
        data = json.loads(file.read_text())
        rules = [Exemption(issue=str(e["issue"]), scope=str(e.get("scope", "*")),
                           reason=str(e.get("reason", ""))) for e in data["exemptions"]]
    except (ValueError, KeyError, TypeError) as e:
        raise BadReference(f"{file} is not an exemptions file ({e}); expected "
                           '{"exemptions": [{"issue": "CVE-...", "scope": "...", "reason": "..."}]}'
                           ) from e
    for rule in rules:
        parse_scope(rule.scope)
    return rules


def _save(path: Path, rules: list[Exemption]) -> None:
    # A temporary file of its own, then an atomic rename: a reader sees the old or the new file.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(json.dumps({"exemptions": [asdict(r) for r in rules]}, indent=2) + "\n")
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


@contextmanager
def _changing(file: Path) -> Iterator[None]:
    """Hold the file's lock while it is read, changed and written back: the file is the
    team's (often kept in git, read by CI), so it stays a file; two processes adding an
    exemption at once take turns instead of one losing the other's."""
    file.parent.mkdir(parents=True, exist_ok=True)
    with open(file.with_name(file.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def add_exemption(path: str | os.PathLike[str], issue: str, scope: str = "*", *,
                  reason: str = "") -> Exemption:
    """Record an exemption in the file (similar to ``ibmcloud cr exemption-add --issue-id ID
    --scope SCOPE``); adding the same issue and scope again updates its reason."""
    if not isinstance(issue, str) or not issue.strip():
        raise BadReference("an exemption needs an issue id, e.g. CVE-2024-2511 or "
                           "CONFIG-NO-HEALTHCHECK")
    parse_scope(scope)
    rule = Exemption(issue=issue.strip(), scope=scope.strip(), reason=reason)
    file = Path(path).expanduser()
    with _changing(file):
        rules = [r for r in load_exemptions(file)
                 if (r.issue, r.scope) != (rule.issue, rule.scope)]
        _save(file, rules + [rule])
    return rule


def remove_exemption(path: str | os.PathLike[str], issue: str, scope: str = "*") -> bool:
    """Forget an exemption; True if there was one."""
    file = Path(path).expanduser()
    with _changing(file):
        rules = load_exemptions(file)
        kept = [r for r in rules if (r.issue, r.scope) != (issue, scope)]
        if len(kept) != len(rules):
            _save(file, kept)
    return len(kept) != len(rules)
