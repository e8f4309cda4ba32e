"""Checks every verb applies to its keyword arguments before it sends anything.

Python would accept ``remove(ref, force="no")`` and treat "no" as true; a headless run passes
strings. So a verb checks its flags and counts itself, and a wrong type is a TypeError (or a
ValueError for a wrong value) naming the argument, raised before any request. Layer 3: imports
only the bottom modules.
"""

from __future__ import annotations

from typing import Any


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
