"""Protected tags: per-namespace regular expressions that no delete touches without ``force``.

Like Harbor's tag immutability rules and IBM's habit of never pruning ``latest``: a team lists
the tags that must survive clean-ups (``latest``, ``release-.*``, ``v\\d+``). ``remove``,
``remove_namespace`` and the copy-over plan refuse (Protected, nothing changed) to delete or
overwrite such a tag unless ``force=True``; ``retention`` never removes one, whatever it is
told. A pattern must match the WHOLE tag (``fullmatch``): ``latest`` protects ``latest``
and not ``latest-rc``. Patterns are matched in linear time (RE2, ``core.patterns``), so a
pattern such as ``(a+)+`` cannot hang a remove; backreferences and lookaround are refused.

Saved in ``policies.json`` under ``protected_tags`` (see ``policies``). Layer 3: imports
``errors`` and the sibling ``policies``, ``patterns``, ``journal`` and ``result``.
"""

from __future__ import annotations

from typing import Iterable, Sequence

from ...errors import InvalidArgument, Protected
from ..core import journal, policies
from ..core.patterns import Matcher, compile_pattern
from ...reference import namespace_of
from ..core.result import Result, Timer

KEY = "protected_tags"


def compile_patterns(patterns: str | Iterable[str] | None, *, option: str = "protect",
                     target: str | None = None) -> list[Matcher]:
    """Regular expressions from a string or a list, for linear-time matching (``patterns``);
    InvalidArgument naming the option and the bad one."""
    if patterns is None:
        return []
    if isinstance(patterns, str):
        patterns = [patterns]
    # Linear-time matching (RE2): a saved pattern can never hang a later remove.
    return [compile_pattern(pattern, option=option, target=target) for pattern in patterns]


def protected_patterns(registry: str, namespace: str) -> list[str]:
    """The saved protected-tag patterns of ``registry/namespace``."""
    if not namespace:
        return []
    return list(policies.get(registry, namespace, KEY, []))


def protect(target: str, patterns: str | Sequence[str]) -> Result:
    """Add protected-tag patterns to the namespace ``registry/namespace``. Journaled."""
    return _change(target, patterns, add=True)


def unprotect(target: str, patterns: str | Sequence[str] | None = None) -> Result:
    """Drop those patterns (all of them when ``patterns`` is None). Journaled."""
    return _change(target, patterns, add=False)


def _change(target: str, patterns: str | Sequence[str] | None, *, add: bool) -> Result:
    verb = "protect" if add else "unprotect"
    registry, namespace, _ = policies.split_target(target, verb=verb, repository_allowed=False)
    listed = [patterns] if isinstance(patterns, str) else patterns
    known: list[str] = []
    if not add and isinstance(listed, (list, tuple)):
        # A saved pattern is dropped as written, uncompiled: one that RE2 refuses (saved
        # before patterns were matched in linear time) must still be removable.
        saved = protected_patterns(registry, namespace)
        known = [p for p in listed if p in saved]
        listed = [p for p in listed if p not in saved]
    wanted = known + [p.pattern for p in compile_patterns(listed, option="patterns",
                                                          target=target)]
    if add and not wanted:
        raise InvalidArgument("protect: give at least one pattern, e.g. protect(target, "
                              "['latest']); nothing was done", reference=target)
    result = Result(action=verb, target=f"{registry}/{namespace}")
    with Timer() as timer:
        old = protected_patterns(registry, namespace)
        if add:
            new = old + [p for p in wanted if p not in old]
        else:
            new = [p for p in old if patterns is not None and p not in wanted]
        result.changed = new != old
        if result.changed:
            policies.put(registry, namespace, KEY, new or None)
    result.duration = timer.elapsed
    result.details = {"registry": registry, "namespace": namespace, "protected_tags": new}
    journal.append(result)
    return result


def matching(tags: Iterable[str], patterns: Sequence[Matcher]) -> dict[str, str]:
    """``{tag: pattern}`` for each tag a pattern matches whole."""
    hits = {}
    for tag in tags:
        for pattern in patterns:
            if pattern.fullmatch(tag):
                hits[tag] = pattern.pattern
                break
    return hits


def protected_tags(registry: str, repository: str, tags: Iterable[str],
                   extra: str | Iterable[str] | None = None) -> dict[str, str]:
    """Which of ``tags`` (in ``repository``) the namespace's patterns, plus ``extra``, protect."""
    patterns = compile_patterns(protected_patterns(registry, namespace_of(repository)),
                                option="saved protected_tags")
    return matching(tags, patterns + compile_patterns(extra))


def refuse_protected(registry: str, repository: str, tags: Iterable[str], *, force: bool,
                     action: str) -> dict[str, str]:
    """Raise Protected when a saved pattern protects one of ``tags``, unless ``force``.
    Returns what was protected (forced through), for the Result."""
    hits = protected_tags(registry, repository, tags)
    if hits and not force:
        listed = ", ".join(f"{repository}:{t} (pattern {p!r})" for t, p in sorted(hits.items()))
        raise Protected(f"{action} would touch protected tags on {registry}: {listed}. Nothing "
                        f"was changed. Pass force=True to do it anyway, or "
                        f"unprotect({registry + '/' + namespace_of(repository)!r}, ...)",
                        registry=registry, reference=f"{registry}/{repository}")
    return hits
