"""Sub-commands of ``gongzhi``; each module registers its commands on the group."""

from gongzhi.commands import data, kpi, run, users  # noqa: F401
