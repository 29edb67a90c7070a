"""Errors a user can act on: what was wrong and where (file, row, id, field)."""

from __future__ import annotations

from councilplan.errors import Where


class EconomyError(ValueError):
    """Input that cannot make a valid economy. ``where`` says which file, row, id, field."""

    def __init__(self, message: str, where: Where | None = None):
        self.message = message
        self.where = where or Where()
        located = str(self.where)
        super().__init__(f"{located}: {message}" if located else message)


class NotProductiveError(EconomyError):
    """The economy cannot produce a net surplus; ``cycle`` names the products at fault."""

    def __init__(self, message: str, cycle: list[str], spectral_radius: float, where=None):
        super().__init__(message, where)
        self.cycle = cycle
        self.spectral_radius = spectral_radius
