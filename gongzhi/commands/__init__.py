"""Sub-commands of ``gongzhi``; each module registers its commands on the group."""

from gongzhi.commands import data, kpi, rank, repair, run, targets, users  # noqa: F401
