"""Checks every verb applies to its keyword arguments before it sends anything.

Python would accept ``remove(ref, force="no")`` and treat "no" as true; a headless run passes
strings. So a verb checks its flags and counts itself, and a wrong type is a TypeError (or a
ValueError for a wrong value) naming the argument, raised before any request. Layer 3: imports
only the bottom modules.
"""

from __future__ import annotations

from typing import Any

from ...manifest import PLATFORM_FORM, normalize_platform


def check_bool(name: str, value: Any) -> bool:
    """``value`` itself when it is a real bool; otherwise a TypeError naming ``name``."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, not {value!r} ({type(value).__name__}); "
                        f"nothing was done")
    return value


def check_positive_int(name: str, value: Any) -> int:
    """``value`` when it is an int >= 1 (bools are refused: ``True`` is not a count)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be a whole number, not {value!r} ({type(value).__name__}); "
                        f"nothing was done")
    if value < 1:
        raise ValueError(f"{name} must be 1 or more, not {value}; nothing was done")
    return value


def check_optional_positive_int(name: str, value: Any) -> int | None:
    return None if value is None else check_positive_int(name, value)


def check_platform(name: str, value: Any) -> str:
    """One platform, normalised as containerd does (``manifest.normalize_platform``:
    ``arm64`` is ``linux/arm64/v8``); anything else is a TypeError or ValueError naming
    ``name`` and saying what to write."""
    try:
        return normalize_platform(value)
    except (TypeError, ValueError):
        kind = TypeError if not isinstance(value, str) else ValueError
        raise kind(f"{name}: {value!r} is not a platform; write {PLATFORM_FORM}; nothing was "
                   "done") from None


def check_platforms(name: str, value: Any) -> str | list[str]:
    """``"all"``, or the platforms as a list of ``os/arch[/variant]`` strings (one such string
    alone means a list of it), each normalised (:func:`check_platform`). Anything else
    (None, a number, an empty list, ``"linux"``) is a TypeError or ValueError naming
    ``name``."""
    if value == "all" and isinstance(value, str):
        return "all"
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or isinstance(items, (bytes, bytearray)):
        raise TypeError(f'{name} must be "all" or a list such as ["linux/amd64"], not {value!r} '
                        f"({type(value).__name__}); nothing was done")
    if not items:
        raise ValueError(f'{name} is empty: give "all" or at least one platform such as '
                         '"linux/amd64"; nothing was done')
    for item in items:
        if not isinstance(item, str):
            raise ValueError(f'{name}: {item!r} is not a platform; write {PLATFORM_FORM} (or '
                             '"all"); nothing was done')
        check_platform(name, item)
    return list(dict.fromkeys(normalize_platform(item) for item in items))


def check_optional_str(name: str, value: Any) -> str | None:
    """``value`` when it is text or None; otherwise a TypeError naming ``name``."""
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{name} must be text or None, not {value!r} ({type(value).__name__}); "
                        "nothing was done")
    return value
