"""Planning: pure computation on an Economy — labour values and the optimal plan."""

from councilplan.planning.needs import Limits, Needs, PlanInputError, read_limits, read_needs
from councilplan.planning.plan import Diagnostics, Plan, PlanError, plan
from councilplan.planning.values import labour_values

__all__ = [
    "Diagnostics",
    "Limits",
    "Needs",
    "Plan",
    "PlanError",
    "PlanInputError",
    "labour_values",
    "plan",
    "read_limits",
    "read_needs",
]
