"""Sub-commands of ``gongzhi``; each module registers its commands on the group."""

from gongzhi.commands import bulletin, cycle, data, kpi, rank, repair, run, targets, users  # noqa: F401
