"""The economy: its data model, and everything that reads or writes one."""

from councilplan.economy.bundle import DEMO_BUNDLE, load_demo, read_bundle, write_bundle
from councilplan.economy.errors import EconomyError, NotProductiveError
from councilplan.economy.model import Economy, make_economy

__all__ = [
    "DEMO_BUNDLE",
    "Economy",
    "EconomyError",
    "NotProductiveError",
    "load_demo",
    "make_economy",
    "read_bundle",
    "write_bundle",
]
