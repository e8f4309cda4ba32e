"""The change engine's guards that need this layer: protected tags and running containers.

Registered with ``core.guards`` when ``operations.images`` is imported, so
``changes.apply`` checks them on every plan, whatever verb made it:

- ``protected``: a tag the namespace's saved patterns protect (``protect``) goes;
- ``in-use``: an image a running container of the local engine uses goes (deleted, or left
  without a tag). No engine answering is a note, not a refusal.

Imports the sibling ``protection`` and ``in_use`` and the core's ``guards``.
"""

from __future__ import annotations

from ...reference import namespace_of
from ..core import guards
from ..core.guards import Finding, Outcome
from .in_use import local_use
from .protection import protected_tags


def protected(out: Outcome) -> list[Finding]:
    found = []
    registry = out.plan.registry
    for repository, tags in sorted(out.tags_going.items()):
        hits = protected_tags(registry, repository, list(tags))
        if hits:
            listed = ", ".join(f"{repository}:{t} (pattern {p!r})"
                               for t, p in sorted(hits.items()))
            found.append(Finding("protected", (
                f"it would touch protected tags on {registry}: {listed} (unprotect("
                f"{registry + '/' + namespace_of(repository)!r}, ...) lifts that)")))
    return found


def in_use(out: Outcome) -> list[Finding]:
    going = {repo: out.images_going.get(repo, set()) | out.untagged.get(repo, set())
             for repo in set(out.images_going) | set(out.untagged)}
    if not any(going.values()):
        return []
    use = local_use()
    if not use.checked:
        return [Finding("in-use", use.note, blocking=False)]
    running = [f"{out.plan.registry}/{repo}@{digest[:19]} ({u})"
               for repo, digests in sorted(going.items()) for digest in sorted(digests)
               for u in use.of(out.plan.registry, repo, [digest]) if u.running]
    if not running:
        return []
    return [Finding("in-use", f"images it removes are used by running containers on the "
                              f"local engine: {'; '.join(running)} (stop them first)")]


guards.register("protected", protected)
guards.register("in-use", in_use)
