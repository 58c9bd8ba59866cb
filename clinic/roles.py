"""The roles and what each may do: the single source that the data migration, the
post-migrate sync, the tests and ``docs/permissions.md`` all follow.

A role is a Django group named in Chinese (the clinic's own word for the job). Permissions
are ``app_label.codename``; a permission that does not exist yet (its app is not built) is
skipped, and picked up by the sync after the migration that creates it.
"""

from __future__ import annotations

from typing import Any

from .models import Role

GROUP_NAMES: dict[str, str] = {
    Role.FRONT_DESK: "前台",
    Role.CONSULTANT: "咨询师",
    Role.DOCTOR: "医生",
    Role.NURSE: "护士",
    Role.CUSTOMER_SERVICE: "客服",
    Role.MARKETING: "市场",
    Role.BRANCH_MANAGER: "店长",
    Role.HQ_ADMIN: "总部管理员",
}

# Roles whose members may open Django admin (they see only what their permissions allow).
ADMIN_SITE_ROLES = frozenset({Role.BRANCH_MANAGER, Role.HQ_ADMIN})

_CATALOG_READ = {"clinic.view_servicecategory", "clinic.view_serviceitem", "clinic.view_branch"}
_CATALOG_WRITE = {
    "clinic.add_servicecategory",
    "clinic.change_servicecategory",
    "clinic.add_serviceitem",
    "clinic.change_serviceitem",
}

ROLE_PERMISSIONS: dict[str, set[str]] = {
    Role.FRONT_DESK: _CATALOG_READ | {"clinic.reveal_contact"},
    Role.CONSULTANT: _CATALOG_READ | {"clinic.reveal_contact"},
    Role.DOCTOR: _CATALOG_READ | {"clinic.view_medical"},
    Role.NURSE: _CATALOG_READ | {"clinic.view_medical"},
    Role.CUSTOMER_SERVICE: _CATALOG_READ | {"clinic.reveal_contact"},
    Role.MARKETING: _CATALOG_READ | {"clinic.export_data"},
    Role.BRANCH_MANAGER: _CATALOG_READ
    | {
        "clinic.reveal_contact",
        "clinic.reveal_id_number",
        "clinic.export_data",
        "clinic.approve_discount",
        "clinic.adjust_points",
        "clinic.override_booking",
        "clinic.view_auditlog",
        "clinic.view_staffprofile",
        "clinic.view_jobheartbeat",
    },
    Role.HQ_ADMIN: _CATALOG_READ
    | _CATALOG_WRITE
    | {
        "clinic.view_all_branches",
        "clinic.reveal_contact",
        "clinic.reveal_id_number",
        "clinic.export_data",
        "clinic.approve_discount",
        "clinic.adjust_points",
        "clinic.override_booking",
        "clinic.view_auditlog",
        "clinic.add_branch",
        "clinic.change_branch",
        "clinic.add_openinghours",
        "clinic.change_openinghours",
        "clinic.delete_openinghours",
        "clinic.view_openinghours",
        "clinic.add_staffprofile",
        "clinic.change_staffprofile",
        "clinic.view_staffprofile",
        "clinic.view_jobheartbeat",
        "auth.add_user",
        "auth.change_user",
        "auth.view_user",
        "auth.view_group",
    },
}


# notifications: the outbox and message templates (issue 3).
_NOTIFICATIONS_GRANTS: dict[str, set[str]] = {
    Role.CUSTOMER_SERVICE: {"notifications.view_outbox", "notifications.resend_outbox"},
    Role.MARKETING: {"notifications.view_outbox"},
    Role.BRANCH_MANAGER: {
        "notifications.view_outbox",
        "notifications.resend_outbox",
        "notifications.view_messagetemplate",
    },
    Role.HQ_ADMIN: {
        "notifications.view_outbox",
        "notifications.resend_outbox",
        "notifications.view_messagetemplate",
        "notifications.add_messagetemplate",
        "notifications.change_messagetemplate",
        "notifications.view_optout",
        "notifications.add_optout",
        "notifications.change_optout",
        "notifications.delete_optout",
    },
}
for _role, _perms in _NOTIFICATIONS_GRANTS.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | _perms


# members: the person record (issue 4). Kept in one block so each app's grants read together.
_MEMBERS_GRANTS: dict[str, set[str]] = {
    Role.FRONT_DESK: {"members.add_member", "members.change_member", "members.view_member"},
    Role.CONSULTANT: {"members.add_member", "members.change_member", "members.view_member"},
    Role.DOCTOR: {"members.change_member", "members.view_member"},
    Role.NURSE: {"members.change_member", "members.view_member"},
    Role.CUSTOMER_SERVICE: {"members.change_member", "members.view_member"},
    Role.MARKETING: {
        "members.add_tag",
        "members.change_tag",
        "members.view_acquisitionchannel",
        "members.view_member",
        "members.view_tag",
    },
    Role.BRANCH_MANAGER: {
        "members.add_member",
        "members.change_member",
        "members.erase_member",
        "members.import_members",
        "members.merge_member",
        "members.view_member",
    },
    Role.HQ_ADMIN: {
        "members.add_acquisitionchannel",
        "members.add_member",
        "members.add_tag",
        "members.change_acquisitionchannel",
        "members.change_member",
        "members.change_tag",
        "members.erase_member",
        "members.import_members",
        "members.merge_member",
        "members.view_acquisitionchannel",
        "members.view_member",
        "members.view_tag",
    },
}
for _role, _perms in _MEMBERS_GRANTS.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | _perms


# appointments: bookings, schedules, visits and checkout (issue 7).
_APPT_BOOK = {
    "appointments.view_appointment",
    "appointments.add_appointment",
    "appointments.change_appointment",
}
_APPT_SCHEDULE_READ = {
    "appointments.view_shifttemplate",
    "appointments.view_shiftexception",
    "appointments.view_chair",
}
_APPT_SCHEDULE_WRITE = _APPT_SCHEDULE_READ | {
    "appointments.add_shifttemplate",
    "appointments.change_shifttemplate",
    "appointments.delete_shifttemplate",
    "appointments.add_shiftexception",
    "appointments.change_shiftexception",
    "appointments.delete_shiftexception",
    "appointments.add_chair",
    "appointments.change_chair",
}
_APPT_VISIT = {"appointments.view_visit", "appointments.change_visit"}
_APPOINTMENTS_GRANTS: dict[str, set[str]] = {
    Role.FRONT_DESK: _APPT_BOOK | _APPT_SCHEDULE_READ | _APPT_VISIT | {"appointments.checkout_visit"},
    Role.CONSULTANT: _APPT_BOOK | _APPT_SCHEDULE_READ,
    Role.DOCTOR: {"appointments.view_appointment", "appointments.change_appointment"}
    | _APPT_SCHEDULE_READ
    | _APPT_VISIT,
    Role.NURSE: {"appointments.view_appointment", "appointments.change_appointment"} | _APPT_VISIT,
    Role.CUSTOMER_SERVICE: {"appointments.view_appointment", "appointments.view_visit"},
    Role.BRANCH_MANAGER: _APPT_BOOK
    | _APPT_SCHEDULE_WRITE
    | _APPT_VISIT
    | {"appointments.checkout_visit", "appointments.void_visit"},
    Role.HQ_ADMIN: _APPT_BOOK
    | _APPT_SCHEDULE_WRITE
    | _APPT_VISIT
    | {"appointments.checkout_visit", "appointments.void_visit"},
}
for _role, _perms in _APPOINTMENTS_GRANTS.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | _perms


# loyalty: enrolment, tiers, the points ledger (issue 5).
_LOYALTY_LEDGER_READ = {
    "loyalty.view_membership",
    "loyalty.view_tierchange",
    "loyalty.view_pointsaccount",
    "loyalty.view_pointsentry",
    "loyalty.view_pointslot",
    "loyalty.view_lotconsumption",
    "loyalty.view_tier",
}
_LOYALTY_GRANTS: dict[str, set[str]] = {
    Role.FRONT_DESK: {"loyalty.enrol_member"},
    Role.CONSULTANT: {"loyalty.enrol_member"},
    Role.BRANCH_MANAGER: {"loyalty.enrol_member", "loyalty.override_tier"} | _LOYALTY_LEDGER_READ,
    Role.HQ_ADMIN: {
        "loyalty.enrol_member",
        "loyalty.override_tier",
        "loyalty.view_ledgerdrift",
        "loyalty.add_tier",
        "loyalty.change_tier",
        "loyalty.add_tiercategorydiscount",
        "loyalty.change_tiercategorydiscount",
        "loyalty.delete_tiercategorydiscount",
        "loyalty.view_tiercategorydiscount",
        "loyalty.add_tierallowance",
        "loyalty.change_tierallowance",
        "loyalty.delete_tierallowance",
        "loyalty.view_tierallowance",
        "loyalty.change_pointspolicy",
        "loyalty.view_pointspolicy",
        "loyalty.add_earncategoryrate",
        "loyalty.change_earncategoryrate",
        "loyalty.delete_earncategoryrate",
        "loyalty.view_earncategoryrate",
        "loyalty.add_bonusrule",
        "loyalty.change_bonusrule",
        "loyalty.view_bonusrule",
    }
    | _LOYALTY_LEDGER_READ,
}
for _role, _perms in _LOYALTY_GRANTS.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | _perms


# loyalty: coupons, printed batches (issue 6).
_COUPON_CAMPAIGN = {
    "loyalty.view_coupon",
    "loyalty.issue_coupon",
    "loyalty.view_coupontemplate",
    "loyalty.view_couponbatch",
    "loyalty.add_couponbatch",
    "loyalty.export_couponbatch",
}
_REWARDS_ADMIN = {
    "loyalty.redeem_reward",
    "loyalty.cancel_reward",
    "loyalty.view_rewarditem",
    "loyalty.view_rewardredemption",
}
_COUPONS_GRANTS: dict[str, set[str]] = {
    Role.FRONT_DESK: {"loyalty.view_coupon", "loyalty.redeem_reward"},
    Role.CONSULTANT: {"loyalty.view_coupon"},
    Role.CUSTOMER_SERVICE: {"loyalty.view_coupon", "loyalty.issue_coupon", "loyalty.redeem_reward"},
    Role.MARKETING: _COUPON_CAMPAIGN | {"loyalty.view_rewarditem"},
    Role.BRANCH_MANAGER: _COUPON_CAMPAIGN | _REWARDS_ADMIN,
    Role.HQ_ADMIN: _COUPON_CAMPAIGN
    | _REWARDS_ADMIN
    | {
        "loyalty.add_coupontemplate",
        "loyalty.change_coupontemplate",
        "loyalty.add_rewarditem",
        "loyalty.change_rewarditem",
    },
}
# referrals (推荐有礼)
for _role in (Role.FRONT_DESK, Role.CONSULTANT, Role.CUSTOMER_SERVICE, Role.BRANCH_MANAGER, Role.HQ_ADMIN):
    _COUPONS_GRANTS[_role] = _COUPONS_GRANTS[_role] | {"loyalty.set_referrer"}
for _role in (Role.MARKETING, Role.BRANCH_MANAGER, Role.HQ_ADMIN):
    _COUPONS_GRANTS[_role] = _COUPONS_GRANTS[_role] | {"loyalty.view_referral"}
# review / survey rewards (好评、问卷奖励)
for _role in (Role.FRONT_DESK, Role.CUSTOMER_SERVICE, Role.BRANCH_MANAGER, Role.HQ_ADMIN):
    _COUPONS_GRANTS[_role] = _COUPONS_GRANTS[_role] | {"loyalty.record_review"}
# stored value (储值): top-ups at the front desk, refunds and the liability report by managers.
# view_storedvalueaccount: the member's 储值 tab (balance and entries), for the roles that
# take money or answer a member's questions about it.
for _role in (Role.FRONT_DESK, Role.CUSTOMER_SERVICE, Role.BRANCH_MANAGER, Role.HQ_ADMIN):
    _COUPONS_GRANTS[_role] = _COUPONS_GRANTS[_role] | {"loyalty.view_storedvalueaccount"}
for _role in (Role.FRONT_DESK, Role.BRANCH_MANAGER, Role.HQ_ADMIN):
    _COUPONS_GRANTS[_role] = _COUPONS_GRANTS[_role] | {"loyalty.top_up_stored_value"}
for _role in (Role.BRANCH_MANAGER, Role.HQ_ADMIN):
    _COUPONS_GRANTS[_role] = _COUPONS_GRANTS[_role] | {
        "loyalty.view_storedvalueentry",
        "loyalty.refund_stored_value",
        "loyalty.view_stored_value_report",
    }
_COUPONS_GRANTS[Role.HQ_ADMIN] = _COUPONS_GRANTS[Role.HQ_ADMIN] | {
    "loyalty.add_storedvaluebonusrule",
    "loyalty.change_storedvaluebonusrule",
    "loyalty.view_storedvaluebonusrule",
    "loyalty.view_storedvaluedrift",
}
for _role, _perms in _COUPONS_GRANTS.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | _perms


def sync_roles(apps: Any = None) -> dict[str, int]:
    """Create the eight groups and set each one's permissions to exactly ROLE_PERMISSIONS.

    Idempotent. ``apps`` is the migration state registry when called from a migration.
    Returns the number of permissions each group ended up with.
    """
    if apps is None:
        from django.contrib.auth.models import Group, Permission
    else:
        Group = apps.get_model("auth", "Group")
        Permission = apps.get_model("auth", "Permission")

    wanted = {p for perms in ROLE_PERMISSIONS.values() for p in perms}
    if apps is None and Permission.objects.filter(content_type__app_label="clinic").count() == 0:
        # The permission table was emptied (a flushed test database, a botched restore):
        # rebuild it the way migrate's post_migrate step does, then apply the role table.
        from django.apps import apps as global_apps
        from django.contrib.auth.management import create_permissions

        for app_config in global_apps.get_app_configs():
            create_permissions(app_config, verbosity=0)
    by_key = {}
    for perm in Permission.objects.select_related("content_type").filter(
        codename__in={p.split(".", 1)[1] for p in wanted}
    ):
        by_key[f"{perm.content_type.app_label}.{perm.codename}"] = perm

    counts = {}
    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=GROUP_NAMES[role])
        group.permissions.set([by_key[p] for p in perms if p in by_key])
        counts[GROUP_NAMES[role]] = group.permissions.count()
    return counts


def sync_roles_after_migrate(sender, **kwargs) -> None:
    # Run once per migrate, after the last app's permissions exist.
    if sender.name == "clinic" and kwargs.get("plan") is not None:
        sync_roles()
