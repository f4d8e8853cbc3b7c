"""Sub-commands of ``gongzhi``; each module registers its commands on the group."""

from gongzhi.commands import cycle, data, kpi, repair, run, users  # noqa: F401
