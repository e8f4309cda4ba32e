"""Tag patterns the user types, matched in linear time.

A pattern such as ``(a+)+`` makes Python's backtracking ``re`` take exponential time on a tag
like ``aaaa...b``; saved with ``protect()``, it would hang every later remove in that
namespace, dry runs too. So user patterns (protected tags, retention's ``tags=``, sync's
``tags=``) are compiled here with RE2 (``google-re2``, the engine behind Go's ``regexp``),
whose matching time is linear in the tag's length whatever the pattern. RE2 has Python's
syntax except backreferences (``\\1``, ``(?P=name)``) and lookaround (``(?=``, ``(?!``,
``(?<=``, ``(?<!``), which need backtracking: such a pattern is refused, saying so.

Layer 3 helper: imports ``errors`` and ``re2`` only.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

from ...errors import InvalidArgument

__all__ = ["Matcher", "compile_pattern"]

_OPTIONS: Any = None  # RE2's options, made with the first pattern (see _re2)

# What RE2 lacks, spotted in the pattern to say which feature it is (RE2's own message only
# says "invalid escape sequence" or "invalid perl operator").
_BACKREFERENCE = re.compile(r"(?<!\\)(?:\\\\)*\\(?:[1-9]|g<)|\(\?P=")
_LOOKAROUND = re.compile(r"(?<!\\)(?:\\\\)*\(\?<?[=!]")


class Matcher(Protocol):
    """A compiled pattern: ``pattern`` (the text), ``fullmatch`` and ``search``."""

    pattern: str

    def fullmatch(self, text: str) -> Any: ...

    def search(self, text: str) -> Any: ...


def _unsupported(pattern: str) -> str | None:
    if _BACKREFERENCE.search(pattern):
        return "backreferences (\\1, (?P=name))"
    if _LOOKAROUND.search(pattern):
        return "lookahead and lookbehind ((?=...), (?!...), (?<=...), (?<!...))"
    return None


def _re2() -> tuple[Any, Any]:
    """The ``re2`` module and the options every pattern is compiled with. Imported at the
    first pattern, not with this module: a copy or a listing imports this module (through
    the policies) and compiles none, and RE2 is 2.4 MiB of a headless copy's memory."""
    global _OPTIONS
    import re2
    if _OPTIONS is None:
        options = re2.Options()
        options.log_errors = False  # RE2 would print every refused pattern on stderr
        _OPTIONS = options
    return re2, _OPTIONS


def compile_pattern(pattern: Any, *, option: str, target: str | None = None) -> Matcher:
    """``pattern`` compiled for linear-time matching; ``fullmatch(tag)`` and ``search(tag)``
    answer like Python's ``re`` for every pattern accepted.

    Raises InvalidArgument naming ``option`` (and nothing is done) when ``pattern`` is not a
    non-empty string, is not a regular expression, or uses what RE2 cannot match in linear
    time (backreferences, lookaround)."""
    if not isinstance(pattern, str) or not pattern:
        hint = " (leave the option out, None, to mean every tag)" if pattern == "" else ""
        raise InvalidArgument(f"{option}: {pattern!r} is not a regular expression{hint}; give "
                              "a string such as 'latest' or 'release-.*'; nothing was done",
                              reference=target)
    re2, options = _re2()
    try:
        return re2.compile(pattern, options)
    except re2.error as e:
        problem = e.args[0].decode("utf-8", "replace") if e.args and isinstance(
            e.args[0], bytes) else str(e)
    feature = _unsupported(pattern)
    if feature is not None:
        raise InvalidArgument(f"{option}: {pattern!r} uses {feature}, which this package does "
                              "not support: tag patterns are matched in linear time (RE2), so "
                              "that no pattern can hang a remove, retention or sync. Write it "
                              "without them, e.g. 'release-.*'; nothing was done",
                              reference=target) from None
    raise InvalidArgument(f"{option}: {pattern!r} is not a valid regular expression "
                          f"({problem}); nothing was done. Example: 'release-.*'",
                          reference=target) from None
