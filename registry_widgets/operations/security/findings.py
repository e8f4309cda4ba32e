"""``Finding``: one result of a scan, a known vulnerability of a package or a configuration
issue. Its own module so that the audit and the scan share it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    """One known vulnerability of one package (``kind="vulnerability"``), or one
    configuration issue (``kind="configuration"``, package fields empty)."""

    id: str
    kind: str
    severity: str
    summary: str = ""
    aliases: tuple[str, ...] = ()
    package: str = ""
    installed: str = ""
    fixed: str = ""
    ecosystem: str = ""
    source: str = ""
    purl: str = ""
    score: float | None = None
    vector: str = ""
    layer: str = ""
    layer_index: int = -1
    path: str = ""
    exempt: bool = False
    exemption: str = ""  # the scope and reason of the exemption that applies

    @property
    def ids(self) -> tuple[str, ...]:
        return (self.id, *self.aliases)
