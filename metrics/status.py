"""The seed's three colours (红黄蓝三色): blue meets the target, yellow warns, red lags.

No colour when there is no value (a zero denominator is no value, never 0 %), when the sample
is below the KPI's minimum, or when the KPI has no target for this kind of area (a count's
district target does not apply to a community: :attr:`metrics.model.Kpi.target_levels`).
"""

from __future__ import annotations

from metrics.model import Kpi

BLUE, YELLOW, RED = "blue", "yellow", "red"
EPS = 1e-9  # values are fractions from divisions; 0.9 must meet a 0.9 target


Area = tuple[float | None, float | None]  # a leader's (target, warning) for one area and year


def target_for(kpi: Kpi, level: str, area: Area | None = None
               ) -> tuple[float | None, float | None]:
    """(target, warning) of ``kpi`` for an area of ``level``; (None, None) where the target
    does not apply (:attr:`Kpi.target_levels`): such a target is neither shown nor coloured.

    The one place that answers "which target holds here": an ``area`` target (set by a
    leader for that street or community and year, :mod:`metrics.targets`) wins over the
    district default of the YAML, also for counts whose district target does not apply."""
    if area is not None and area[0] is not None:
        return area
    if kpi.target is None or level not in kpi.target_levels:
        return None, None
    return kpi.target, kpi.warning


def kpi_status(kpi: Kpi, value: float | None, sample: int | None, level: str,
               area: Area | None = None) -> str | None:
    """The status colour of ``value`` for an area of ``level`` (with its own target when a
    leader set one), or None."""
    target, warning = target_for(kpi, level, area)
    if value is None or target is None:
        return None
    if (sample or 0) < kpi.min_sample:
        return None
    if kpi.direction == "higher":
        if value >= target - EPS:
            return BLUE
        if warning is not None and value >= warning - EPS:
            return YELLOW
        return RED
    if value <= target + EPS:
        return BLUE
    if warning is not None and value <= warning + EPS:
        return YELLOW
    return RED
