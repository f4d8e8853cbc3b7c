"""Sub-commands of ``gongzhi``; each module registers its commands on the group."""

from gongzhi.commands import data, drill, kpi, repair, run, users  # noqa: F401
