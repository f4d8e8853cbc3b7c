"""Who sees what: a leader the whole district, street staff one street, community staff one
community. Enforced here, in the layer every page, export and CLI call goes through, and part
of every cache key — not only in the widgets.
"""

from __future__ import annotations

from dataclasses import dataclass

from core import divisions
from core.errors import GongzhiError
from core.roles import LEVEL_OF_ROLE, Role


class AccessDenied(GongzhiError):
    """The viewer asked for an area outside their own."""

    phase = "access"


@dataclass(frozen=True)
class Viewer:
    """A signed-in person: name, role and the division code of their area."""

    username: str
    role: Role
    area: str
    display_name: str = ""

    @property
    def level(self) -> str:
        return LEVEL_OF_ROLE[self.role]

    @property
    def prefix(self) -> str:
        """Every code inside the viewer's area starts with this."""
        return divisions.prefix(self.area, self.level)

    def key(self) -> str:
        """The part of cache keys that keeps one viewer's results from another's."""
        return f"{self.role}:{self.area}"

    def can_see(self, level: str, code: str) -> bool:
        """Whether an area (its level and code) lies inside the viewer's own."""
        if divisions.DEPTH.get(level, 0) < divisions.DEPTH[self.level]:
            return False
        return code.startswith(self.prefix)

    def check(self, level: str, code: str) -> None:
        if not self.can_see(level, code):
            raise AccessDenied(f"{self.username} ({self.role}) may not see {level} {code}")


def leader(area: str, username: str = "leader") -> Viewer:
    """The whole district (used where no sign-in is configured, e.g. the local demo)."""
    return Viewer(username, "leader", area)
