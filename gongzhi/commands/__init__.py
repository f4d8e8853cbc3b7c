"""Sub-commands of ``gongzhi``; each module registers its commands on the group."""

from gongzhi.commands import (  # noqa: F401
    bulletin,
    cycle,
    data,
    drill,
    kpi,
    partition,
    rank,
    repair,
    run,
    targets,
    users,
)
