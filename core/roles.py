"""The dashboard's roles and the level of division each one sees: a leader the whole
district, street staff one street, community staff one community."""

from __future__ import annotations

from typing import Literal

Role = Literal["leader", "street_staff", "community_staff"]
#: the role → level map, the one copy (accounts, the CLI, access checks and pages read it)
LEVEL_OF_ROLE: dict[str, str] = {"leader": "district", "street_staff": "street",
                                 "community_staff": "community"}
ROLES: tuple[str, ...] = tuple(LEVEL_OF_ROLE)
