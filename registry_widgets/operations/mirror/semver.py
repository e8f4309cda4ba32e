"""npm-style semver ranges for ``sync(semver=...)``: which tags a range selects. Pure.

People who write ``semver=`` write what npm, Helm and Renovate take: ``^1.2``, ``~1.2.3``,
``>=1.2.0 <2.0.0``, ``1.x``, ``1.2 - 1.4``, alternatives joined by ``||``. A range is read by
the grammar node-semver's README documents and desugared by its rules (tilde, caret, X and
hyphen ranges become ``>=``/``<`` comparators); versions are ``semantic_version.Version`` and
compared by semver precedence. A pre-release (``1.2.0-rc1``) is in a range only when a
comparator of the same alternative names a pre-release of that major.minor.patch, as in npm.

Why not ``semantic_version.NpmSpec`` itself: it reads a range that names a pre-release
otherwise than npm (``1.2.3-rc.1`` selects ``1.2.3`` too, ``<=1.2.3-rc.2`` selects ``1.2.3``,
``<1.2`` selects ``1.2.0-rc1``), and accepts ``x.1``, which npm refuses; a mirror must copy
only what the user named. tests/test_sync_semver.py checks its table against node-semver.

npm's leniencies are kept: ``v`` or ``=`` before a version, spaces after an operator
(``>= 1.2``), ``~>`` for ``~``, build metadata ignored. A tag is a version when it is a full
``MAJOR.MINOR.PATCH[-pre]`` after an optional leading ``v`` (as ``semver.valid`` reads it);
``latest``, ``1.2`` or ``nightly`` are not, and no range selects them.

Layer 5 (``operations.mirror``): imports ``errors`` only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

from semantic_version import Version

from ...errors import InvalidArgument

__all__ = ["NpmRange", "npm_range", "tag_version", "select"]

EXAMPLE = "'^1.2', '~1.2.3', '>=1.2.0 <2.0.0', '1.x' or '1.2 - 1.4'"

_NR = r"0|[1-9][0-9]*"
_X = r"[xX*]"
_PARTS = r"[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*"
# node-semver's ``partial``: major[.minor[.patch[-pre][+build]]], each part a number or a
# wildcard; a number after a wildcard (``x.1``) is refused, as npm does.
_PARTIAL = (rf"(?:(?P<M>{_NR})(?:\.(?P<m>{_NR})(?:\.(?P<p>{_NR}|{_X})(?:-(?P<pre>{_PARTS}))?"
            rf"(?:\+{_PARTS})?)?|\.{_X}(?:\.{_X})?)?|{_X}(?:\.{_X}(?:\.{_X})?)?)")
_SIMPLE = re.compile(rf"(?P<op><=|>=|<|>|=|~|\^)?{_PARTIAL}")

Comparator = tuple[str, Version]  # (">=", 1.2.0): one bound of an alternative


@dataclass(frozen=True)
class _Partial:
    major: int | None  # None: a wildcard, and so is everything after it
    minor: int | None
    patch: int | None
    pre: str | None


def _version(major: int, minor: int = 0, patch: int = 0, pre: str | None = None) -> Version:
    return Version(major=major, minor=minor, patch=patch,
                   prerelease=tuple(pre.split(".")) if pre else ())


def _floor(v: _Partial) -> Version:
    return _version(v.major or 0, v.minor or 0, v.patch or 0,
                    v.pre if v.patch is not None else None)


def _next(v: _Partial) -> Version:
    """The first version past a partial: ``1`` -> 2.0.0-0, ``1.2`` -> 1.3.0-0 (``-0``: the
    lowest version there is, so no pre-release of 2.0.0 slips in)."""
    if v.minor is None:
        return _version((v.major or 0) + 1, pre="0")
    return _version(v.major or 0, v.minor + 1, pre="0")


ANYTHING: list[Comparator] = []
NOTHING: list[Comparator] = [("<", _version(0, pre="0"))]


def _tilde(v: _Partial) -> list[Comparator]:
    if v.major is None:
        return ANYTHING
    upper = _next(v if v.minor is None else _Partial(v.major, v.minor, None, None))
    return [(">=", _floor(v)), ("<", upper)]


def _caret(v: _Partial) -> list[Comparator]:
    if v.major is None:
        return ANYTHING
    if v.major == 0 and v.minor is not None:
        if v.minor == 0 and v.patch is not None:  # ^0.0.3: that patch only
            return [(">=", _floor(v)), ("<", _version(0, 0, v.patch + 1, "0"))]
        return [(">=", _floor(v)), ("<", _version(0, v.minor + 1, pre="0"))]
    return [(">=", _floor(v)), ("<", _version(v.major + 1, pre="0"))]


def _primitive(op: str, v: _Partial) -> list[Comparator]:
    if v.major is None:
        return NOTHING if op in ("<", ">") else ANYTHING
    if v.patch is not None:  # a whole version
        return [(op or "=", _floor(v))]
    if op in ("", "="):  # 1.2 means 1.2.x
        return [(">=", _floor(v)), ("<", _next(v))]
    if op == ">":  # >1.2 is >=1.3.0
        return [(">=", _next(v).truncate("patch"))]
    if op == "<=":  # <=1.2 is <1.3.0-0
        return [("<", _next(v))]
    if op == "<":
        return [("<", _version(v.major, v.minor or 0, pre="0"))]
    return [(">=", _floor(v))]


def _partial(match: re.Match[str]) -> _Partial:
    def number(name: str) -> int | None:
        text = match.group(name)
        return None if text is None or text in "xX*" else int(text)
    major, minor, patch = number("M"), number("m"), number("p")
    return _Partial(major, minor if major is not None else None,
                    patch if minor is not None else None, match.group("pre"))


def _hyphen(low: _Partial, high: _Partial) -> list[Comparator]:
    lower = [] if low.major is None else [(">=", _floor(low))]
    if high.major is None:
        return lower
    if high.patch is None:
        return lower + [("<", _next(high))]
    return lower + [("<=", _floor(high))]


@dataclass(frozen=True)
class NpmRange:
    """A parsed range: its ``||`` alternatives, each a list of comparators that must all
    hold."""

    text: str
    alternatives: tuple[tuple[Comparator, ...], ...]

    def __contains__(self, version: Version) -> bool:
        return any(_satisfies(version, alternative) for alternative in self.alternatives)


_COMPARE = {"=": lambda a, b: a == b, "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
            ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}


def _satisfies(version: Version, comparators: tuple[Comparator, ...]) -> bool:
    if not all(_COMPARE[op](version, bound) for op, bound in comparators):
        return False
    if not version.prerelease:
        return True
    # npm: a pre-release only where the range names one of the same major.minor.patch.
    return any(bound.prerelease and bound.truncate() == version.truncate()
               for _, bound in comparators)


def _invalid(text: Any, why: str) -> InvalidArgument:
    return InvalidArgument(f"semver={text!r} is not an npm version range ({why}); write one such "
                           f"as {EXAMPLE}; nothing was done")


def _normalise(alternative: str) -> str:
    """npm's leniencies undone: ``~>`` is ``~``; no space after an operator; no ``v``/``=``
    before a version number."""
    text = re.sub(r"~>", "~", alternative)
    text = re.sub(r"(<=|>=|<|>|=|~|\^)\s+", r"\1", text)
    text = re.sub(r"(^|\s)=(?=v?[0-9xX*])", r"\1", text)
    text = re.sub(r"(^|\s|<=|>=|<|>|=|~|\^)v(?=[0-9xX*])", r"\1", text)
    return " ".join(text.split())


def _alternative(normal: str, text: str) -> tuple[Comparator, ...]:
    tokens = normal.split()
    if "-" in tokens:
        if len(tokens) != 3 or tokens[1] != "-":
            raise _invalid(text, "a hyphen range is two versions around ' - ', like 1.2 - 1.4")
        low, high = (_SIMPLE.fullmatch(t) for t in (tokens[0], tokens[2]))
        if low is None or high is None or low.group("op") or high.group("op"):
            raise _invalid(text, "a hyphen range is two versions around ' - ', like 1.2 - 1.4")
        return tuple(_hyphen(_partial(low), _partial(high)))
    comparators: list[Comparator] = []
    for token in tokens:
        match = _SIMPLE.fullmatch(token)
        if match is None:
            raise _invalid(text, f"{token!r} is not a version or a comparison")
        op, version = match.group("op") or "", _partial(match)
        comparators += (_tilde(version) if op == "~" else _caret(version) if op == "^"
                        else _primitive(op, version))
    return tuple(comparators)


def npm_range(text: Any) -> NpmRange:
    """``text`` as a range; InvalidArgument naming ``semver`` (TypeError for a non-str)."""
    if not isinstance(text, str):
        raise TypeError(f"semver must be an npm version range (a str) such as {EXAMPLE}, not "
                        f"{text!r}; nothing was done")
    return NpmRange(text, tuple(_alternative(_normalise(alternative), text)
                                for alternative in text.split("||")))


def tag_version(tag: str) -> Version | None:
    """The version a tag names (``1.2.3``, ``v1.2.3-rc.1``), or None (``latest``, ``1.2``)."""
    try:
        return Version(tag[1:] if tag.startswith("v") else tag)
    except ValueError:
        return None


def select(tags: Sequence[str], semver: str | NpmRange) -> list[str]:
    """The tags that are versions in the range, in their order."""
    spec = semver if isinstance(semver, NpmRange) else npm_range(semver)
    return [tag for tag in tags if (v := tag_version(tag)) is not None and v in spec]
