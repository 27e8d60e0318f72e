"""Staff roles, lowest first (information sharing agreement §6.5, Figure 2).

Door staff may only receive, process and create alerts; the super
administrator alone may delete alerts, amend an alert's distribution and
manage users.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    DOOR_STAFF = "door_staff"
    SUPERVISOR = "supervisor"
    ADMINISTRATOR = "administrator"
    SUPER_ADMINISTRATOR = "super_administrator"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


_RANKS = {role: i for i, role in enumerate(Role)}
