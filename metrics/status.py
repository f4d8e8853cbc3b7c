"""The seed's three colours (红黄蓝三色): blue meets the target, yellow warns, red lags.

No colour when there is no value (a zero denominator is no value, never 0 %), when the sample
is below the KPI's minimum, or when the KPI has no target for this kind of area.
"""

from __future__ import annotations

from metrics.model import Kpi

BLUE, YELLOW, RED = "blue", "yellow", "red"
EPS = 1e-9  # values are fractions from divisions; 0.9 must meet a 0.9 target


def kpi_status(kpi: Kpi, value: float | None, sample: int | None, level: str) -> str | None:
    """The status colour of ``value`` for an area of ``level``, or None."""
    if value is None or kpi.target is None or level not in kpi.target_scopes:
        return None
    if (sample or 0) < kpi.min_sample:
        return None
    if kpi.direction == "higher":
        if value >= kpi.target - EPS:
            return BLUE
        if kpi.warning is not None and value >= kpi.warning - EPS:
            return YELLOW
        return RED
    if value <= kpi.target + EPS:
        return BLUE
    if kpi.warning is not None and value <= kpi.warning + EPS:
        return YELLOW
    return RED
