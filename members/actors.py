"""The member as the actor of a service (the H5 portal).

Services take ``actor`` and audit it. A member is not a staff login: ``MemberActor`` holds
no permission, belongs to no branch, and audits as "member:<id> <name>" with no user row
(``AuditLog.actor`` stays empty, ``actor_name`` says who). Services that a member may call
check ``is_member_actor(actor)`` and then scope to the member (and the people they manage)
instead of to a staff branch.
"""

from __future__ import annotations

from dataclasses import dataclass

from .models import Member


@dataclass(frozen=True, eq=False)
class MemberActor:
    """The person logged in to the portal, acting for ``member`` (themself or a family
    member they are the contact of)."""

    member: Member
    # The person who logged in, when acting for a family member (a parent for a child).
    login_member: Member | None = None

    pk = None
    is_staff = False
    is_superuser = False
    is_active = True
    is_authenticated = True
    is_anonymous = False
    is_member = True

    def get_username(self) -> str:
        who = self.login_member or self.member
        label = f"会员 {who.name} #{who.pk}"
        if self.login_member is not None and self.login_member.pk != self.member.pk:
            label += f" (for {self.member.pk})"
        return label[:150]

    def has_perm(self, perm: str, obj=None) -> bool:
        return False

    def has_perms(self, perms, obj=None) -> bool:
        return False

    def get_all_permissions(self, obj=None) -> set[str]:
        return set()

    def __str__(self) -> str:
        return self.get_username()


def is_member_actor(actor) -> bool:
    """A member acting (this class, or the portal's own session actor): no staff account
    (``pk`` None) and the ``member`` acted for."""
    if getattr(actor, "is_member", False):
        return True
    return (
        actor is not None and getattr(actor, "pk", 0) is None and getattr(actor, "member", None) is not None
    )


def member_actor(member: Member, login_member: Member | None = None) -> MemberActor:
    return MemberActor(member=member, login_member=login_member)
