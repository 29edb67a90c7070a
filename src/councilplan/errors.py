"""Where a problem is, for errors a user can act on: the file, row, id and field.

Shared by the engine (``economy``, ``planning``) and the councils' domain (``councils``),
so that neither imports the other for it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Where:
    """Where a problem is: the file or table, the 1-based data row, the id and the field."""

    source: str | None = None
    row: int | None = None
    id: str | None = None
    field: str | None = None

    def __str__(self) -> str:
        parts = []
        if self.source:
            parts.append(str(self.source))
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.id is not None:
            parts.append(f"id {self.id!r}")
        if self.field is not None:
            parts.append(f"field {self.field!r}")
        return ", ".join(parts)
