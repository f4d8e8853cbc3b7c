"""Sub-commands of ``gongzhi``; each module registers its commands on the group."""

from gongzhi.commands import data, run  # noqa: F401
