"""Version order per ecosystem, so an installed version can be checked against an advisory's ranges.

- dpkg (Debian, Ubuntu): epochs, ``~``, letters before other characters; a tuple key checked
  against univers' implementation (tests/test_scan.py), because it is compared thousands of
  times per scan;
- apk (Alpine): apk-tools' order, including ``_git``/``_svn``/``_p`` suffixes that univers
  (which uses Gentoo's rules) rejects;
- PEP 440 (PyPI): ``packaging``, the reference implementation (univers wraps it too);
- semver (npm): ``semantic_version`` (univers' own backend), univers for looser versions.

Imports only the standard library and the version libraries; nothing of the package.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from typing import Any, Callable, Sequence

log = logging.getLogger("registry_widgets.scan")

def _univers(name: str) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        from univers import versions

        # the wrapped value (packaging's Version, semantic_version's) compares without
        # univers' attrs layer, several times faster
        return getattr(versions, name)(text).value
    return parse


def pep440_version(text: str) -> Any:
    """PEP 440 order by ``packaging`` (the reference implementation, which univers wraps)."""
    from packaging.version import InvalidVersion, Version

    try:
        return Version(text)
    except InvalidVersion as e:
        raise ValueError(str(e)) from e


def semver_version(text: str) -> Any:
    """Semantic Versioning 2.0 order; npm's strict versions parse directly, anything looser
    goes through univers' coercion."""
    import semantic_version

    try:
        return semantic_version.Version(text)
    except ValueError:
        return _univers("SemverVersion")(text)


@lru_cache(maxsize=None)
def _version_class(ecosystem: str) -> Any:
    base = ecosystem.split(":")[0]
    return {"Debian": dpkg_version_key, "Ubuntu": dpkg_version_key, "Alpine": apk_version_key,
            "PyPI": pep440_version, "npm": semver_version}.get(base)


def _dpkg_order(char: str) -> int:
    # dpkg's order(): letters, then everything else; "~" before the end of the string
    if char.isalpha():
        return ord(char)
    return -1 if char == "~" else ord(char) + 256


_DPKG_PART = re.compile(r"([^0-9]*)([0-9]*)")
_DPKG_END = ((0,), 0)


def _dpkg_string_key(text: str) -> tuple:
    parts = []
    for letters, digits in _DPKG_PART.findall(text):
        if not letters and not digits:
            continue
        parts.append((tuple(_dpkg_order(c) for c in letters) + (0,), int(digits or 0)))
    return tuple(parts) + (_DPKG_END,)


def dpkg_version_key(text: str) -> tuple:
    """A sort key in dpkg's order (``dpkg --compare-versions``): epoch, then upstream and
    revision, each compared as alternating non-digit parts (``~`` first, then the end, then
    letters, then other characters) and numbers. Equal to univers' Debian order (a test
    checks both on the same cases) and a tuple comparison instead of a Python call per
    comparison, which keeps a 10,000-package scan under a second."""
    from univers.debian import Version

    if not Version.is_valid(text):
        raise ValueError(f"{text!r} is not a dpkg version")
    epoch, colon, rest = text.partition(":")
    if not colon:
        epoch, rest = "0", text
    upstream, dash, revision = rest.rpartition("-")
    if dash and not revision:  # "1.0-": dpkg refuses an empty revision (univers does not)
        raise ValueError(f"{text!r} is not a dpkg version (empty revision)")
    if not dash:
        upstream, revision = rest, "0"
    return (int(epoch), _dpkg_string_key(upstream), _dpkg_string_key(revision or "0"))


# apk-tools' tokens (src/version.c): a version is digit{.digit}...{letter}{_suf{#}}...{~hash}{-r#}
_INITIAL, _DIGIT, _LETTER, _SUFFIX, _SUFFIX_NO, _HASH, _REVISION, _END, _INVALID = range(9)
# apk-tools' suffix order: pre-releases, then "no suffix" (4), then post-releases
_APK_SUFFIXES = {"alpha": 0, "beta": 1, "pre": 2, "rc": 3, "cvs": 5, "svn": 6, "git": 7,
                 "hg": 8, "p": 9}
_APK_NO_SUFFIX = 4
_APK_TOKEN = re.compile(r"\.?([0-9]*)|([a-z])|_([a-z]*)([0-9]*)|~([0-9a-f]*)|-r([0-9]*)")


def _apk_tokens(text: str) -> list[tuple[int, Any]]:
    """apk-tools' tokens of ``text`` as (kind, value), ending with ``_END`` or, where apk-tools
    stops reading an invalid version, ``_INVALID``. Each kind may only follow the kinds
    before it in the grammar, as apk-tools' ``token_next`` checks."""
    digits = re.match(r"[0-9]*", text).group()
    if not digits:
        return [(_INVALID, 0)]
    tokens: list[tuple[int, Any]] = [(_INITIAL, int(digits))]
    pos, last = len(digits), _INITIAL
    while pos < len(text):
        char = text[pos]
        if char == "." or char.isdigit():
            number = re.match(r"\.?([0-9]*)", text[pos:])
            if last > _DIGIT or not number.group(1):
                break
            value = number.group(1)
            # apk-tools: a component with a leading zero ("05") compares as a string, as in
            # Gentoo's rules, so 1.05 < 1.1 and 0.06 < 0.1; others numerically
            tokens.append((_DIGIT, (0, value) if value[0] == "0" else (1, int(value))))
            pos += number.end()
        elif "a" <= char <= "z":
            if last > _DIGIT:
                break
            tokens.append((_LETTER, char))
            pos += 1
        elif char == "_":
            suffix = re.match(r"_([a-z]*)([0-9]*)", text[pos:])
            rank = _APK_SUFFIXES.get(suffix.group(1))
            if last > _SUFFIX_NO or rank is None:
                break
            tokens.append((_SUFFIX, rank))
            if suffix.group(2):
                tokens.append((_SUFFIX_NO, int(suffix.group(2))))
            pos += suffix.end()
        elif char == "~":
            commit = re.match(r"~([0-9a-f]*)", text[pos:])
            if last >= _HASH or not commit.group(1):
                break
            tokens.append((_HASH, commit.group(1)))
            pos += commit.end()
        elif text.startswith("-r", pos):
            number = re.match(r"-r([0-9]*)", text[pos:])
            if last >= _REVISION or not number.group(1):
                break
            tokens.append((_REVISION, int(number.group(1))))
            pos += number.end()
        else:
            break
        last = tokens[-1][0]
    else:
        return tokens + [(_END, 0)]
    return tokens + [(_INVALID, 0)]


def apk_version_key(text: str) -> tuple:
    """A sort key in apk-tools' order (``apk version -t``), checked against apk-tools' own
    test list (tests/scan_data/apk-version-vectors).

    apk-tools compares token by token: equal kinds by value (numbers numerically, a
    component with a leading zero as a string, suffixes ``_alpha < _beta < _pre < _rc <
    (none) < _cvs < _svn < _git < _hg < _p``); at the first position where the kinds differ,
    a pre-release suffix sorts lowest, otherwise the kind later in the grammar sorts lower
    (so ``1.2 < 1.2.1``, ``1.2-r0 < 1.2_p1``, the end of the string below a revision). Each
    token becomes (class, value) with that class order, so a tuple comparison agrees with
    apk-tools' walk. Written here because univers' Alpine order (Gentoo's) rejects
    ``_git``/``_svn``/``_cvs``/``_hg`` versions such as musl's ``1.2.4_git20230717-r4``.
    An invalid version still gets apk-tools' answer (it compares up to where it stops)."""
    key = []
    for kind, value in _apk_tokens(text):
        if kind == _SUFFIX and value < _APK_NO_SUFFIX:
            key.append((0, value))
        else:
            key.append((9 - kind, value))
    return tuple(key)


SUPPORTED_ECOSYSTEMS = ("Debian", "Ubuntu", "Alpine", "PyPI", "npm")


@lru_cache(maxsize=262144)
def parse_version(ecosystem: str, text: str) -> Any:
    """The version object of ``text`` in ``ecosystem``'s order (cached: feeds repeat them)."""
    cls = _version_class(ecosystem)
    if cls is None:
        raise ValueError(f"no version order for ecosystem {ecosystem!r}")
    return cls(text)


def compare(ecosystem: str, a: str, b: str) -> int:
    """-1, 0 or 1 as ``a`` sorts before, with or after ``b`` in ``ecosystem``'s order."""
    x, y = parse_version(ecosystem, a), parse_version(ecosystem, b)
    return -1 if x < y else (1 if y < x else 0)


_EVENT_KINDS = ("introduced", "fixed", "last_affected")


def _events(ecosystem: str, rng: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """A range's events as (kind, version, parsed), sorted in the ecosystem's order with
    ``introduced: "0"`` (parsed None) first."""
    events = []
    for event in rng.get("events") or []:
        for kind in _EVENT_KINDS:
            if kind in event:
                at = str(event[kind])
                key = None if kind == "introduced" and at == "0" else parse_version(ecosystem, at)
                events.append((kind, at, key))
    if len(events) > 1:
        events.sort(key=lambda e: (e[2] is not None, e[2]) if e[2] is not None else (False,))
    return events


def affected_by(ecosystem: str, version: str, ranges: Sequence[dict[str, Any]],
                versions: Sequence[str] = ()) -> tuple[bool, str]:
    """Is ``version`` affected by an OSV ``affected`` entry? And the first fixed version after it.

    OSV's evaluation: events sorted by version; ``introduced`` at or below the version turns
    it on, ``fixed`` at or below turns it off, ``last_affected`` below turns it off.
    """
    if version in versions:
        return True, _next_fixed(ecosystem, version, ranges)
    try:
        installed = parse_version(ecosystem, version)
    except ValueError as e:
        log.info("cannot order %s version %r: %s", ecosystem, version, e)
        return False, ""
    for rng in ranges:
        try:
            events = _events(ecosystem, rng)
        except ValueError as e:  # a version the ecosystem's rules cannot read
            log.info("skipping a range for %s %s: %s", ecosystem, version, e)
            continue
        hit = False
        for kind, _at, key in events:
            if kind == "introduced":
                if key is None or installed >= key:
                    hit = True
            elif kind == "fixed":
                if installed >= key:
                    hit = False
            elif installed > key:
                hit = False
        if hit:
            fixed = next((at for kind, at, key in events if kind == "fixed" and key > installed), "")
            return True, fixed
    return False, ""


def _next_fixed(ecosystem: str, version: str, ranges: Sequence[dict[str, Any]]) -> str:
    try:
        installed = parse_version(ecosystem, version)
        fixed = sorted((parse_version(ecosystem, str(e["fixed"])), str(e["fixed"]))
                       for r in ranges for e in r.get("events") or [] if "fixed" in e)
    except (ValueError, TypeError):
        return ""
    return next((text for key, text in fixed if key > installed), "")
