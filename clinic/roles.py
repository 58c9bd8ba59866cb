"""The roles and what each may do *by default*: the single source that the data migration,
the post-migrate sync, the tests and ``docs/permissions.md`` all follow. HQ may change a role
and add roles in Django admin; ``sync_roles`` never undoes that (see its docstring), and admin
shows each built-in role's difference to this default.

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
    Role.SENIOR_DOCTOR: "上级医生",
    Role.STOCK_KEEPER: "库管",
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
    # Everything a doctor may, plus what the clinical grants add (treatment-plan review):
    # completed at the end of this module, after every app's doctor grants.
    Role.SENIOR_DOCTOR: set(),
    Role.STOCK_KEEPER: _CATALOG_READ,
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
        "clinic.view_calendarday",
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
        "clinic.add_calendarday",
        "clinic.change_calendarday",
        "clinic.delete_calendarday",
        "clinic.view_calendarday",
        "clinic.add_staffprofile",
        "clinic.change_staffprofile",
        "clinic.view_staffprofile",
        "clinic.view_jobheartbeat",
        "auth.add_user",
        "auth.change_user",
        "auth.view_user",
        "auth.view_group",
        "auth.add_group",
        "auth.change_group",
        "auth.delete_group",
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
        "notifications.view_inboundmessage",
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
        "members.handle_privacyrequest",
        "members.import_members",
        "members.merge_member",
        "members.view_member",
        "members.view_privacyrequest",
    },
    Role.HQ_ADMIN: {
        "members.add_acquisitionchannel",
        "members.add_member",
        "members.add_tag",
        "members.change_acquisitionchannel",
        "members.change_member",
        "members.change_tag",
        "members.erase_member",
        "members.handle_privacyrequest",
        "members.import_members",
        "members.merge_member",
        "members.view_acquisitionchannel",
        "members.view_member",
        "members.view_privacyrequest",
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

# --- follow-ups: recall, care, satisfaction (docs/recall.md) -------------------------------
# Recalls due: customer service calls them, the front desk books them, managers oversee;
# customer service and managers may set a due date by hand (audited). Satisfaction by
# doctor and branch: managers and HQ. HQ configures recall types, holidays and the settings.
_RECALL_GRANTS: dict[str, set[str]] = {role: set() for role in ROLE_PERMISSIONS}
for _role in (Role.FRONT_DESK, Role.CUSTOMER_SERVICE, Role.BRANCH_MANAGER, Role.HQ_ADMIN):
    _RECALL_GRANTS[_role] |= {"followups.view_recall"}
for _role in (Role.CUSTOMER_SERVICE, Role.BRANCH_MANAGER, Role.HQ_ADMIN):
    _RECALL_GRANTS[_role] |= {"followups.set_recall_due"}
for _role in (Role.BRANCH_MANAGER, Role.HQ_ADMIN):
    _RECALL_GRANTS[_role] |= {
        "followups.view_satisfaction",
        "followups.view_surveyresponse",
        "followups.view_eventsurveyresponse",
        "followups.view_recalltype",
        "followups.view_careholiday",
        "followups.view_carepolicy",
    }
_RECALL_GRANTS[Role.HQ_ADMIN] |= {
    "followups.add_recalltype",
    "followups.change_recalltype",
    "followups.add_careholiday",
    "followups.change_careholiday",
    "followups.change_carepolicy",
}
for _role, _perms in _RECALL_GRANTS.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | _perms


# marketing: consultations (咨询), attribution and the funnel (issue 13). Consultants log and
# edit their own consultations; whoever receives or treats the person reads the thread;
# managers see and edit the branch's and its funnel; HQ configures the channels.
_CONSULT_OWN = {"marketing.view_consultation", "marketing.add_consultation", "marketing.change_consultation"}
_CONSULT_MANAGE = _CONSULT_OWN | {
    "marketing.manage_consultations",
    "marketing.view_funnel",
    "marketing.view_attribution",
    "marketing.change_attribution",
    "marketing.view_visittouch",
    "marketing.view_consultationchannel",
}
_CONSULTATION_GRANTS: dict[str, set[str]] = {
    Role.FRONT_DESK: _CONSULT_OWN,
    Role.CONSULTANT: _CONSULT_OWN | {"marketing.view_attribution"},
    Role.DOCTOR: {"marketing.view_consultation"},
    Role.NURSE: {"marketing.view_consultation"},
    Role.CUSTOMER_SERVICE: {"marketing.view_consultation"},
    Role.MARKETING: {
        "marketing.view_consultation",
        "marketing.view_funnel",
        "marketing.view_attribution",
        "marketing.change_attribution",
    },
    Role.BRANCH_MANAGER: _CONSULT_MANAGE,
    Role.HQ_ADMIN: _CONSULT_MANAGE
    | {"marketing.add_consultationchannel", "marketing.change_consultationchannel"},
}
for _role, _perms in _CONSULTATION_GRANTS.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | _perms


# marketing: referral partners (转诊单位), their terms, rebates and statements (issue 13).
# Marketing looks after partners; settling a statement (paying the partner) is the manager's
# and HQ's own permission, marketing.settle_rebate.
_PARTNER_READ = {
    "marketing.view_partner",
    "marketing.view_rebateterm",
    "marketing.view_statement",
    "marketing.view_rebate",
}
_PARTNER_WRITE = {
    "marketing.add_partner",
    "marketing.change_partner",
    "marketing.add_rebateterm",
    "marketing.change_rebateterm",
}
_PARTNER_GRANTS: dict[str, set[str]] = {
    Role.MARKETING: _PARTNER_READ | _PARTNER_WRITE,
    Role.BRANCH_MANAGER: _PARTNER_READ | {"marketing.settle_rebate"},
    Role.HQ_ADMIN: _PARTNER_READ | _PARTNER_WRITE | {"marketing.settle_rebate"},
}
for _role, _perms in _PARTNER_GRANTS.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | _perms

# marketing: campaigns and events (活动, issue 16). Marketing creates campaigns and signs
# people up; the front desk signs people up and checks them in at the door; managers see
# the campaigns and their results.
_CAMPAIGN_READ = {"marketing.view_campaign", "marketing.view_campaignsignup", "marketing.view_campaigndraw"}
_CAMPAIGN_WRITE = {
    "marketing.add_campaign",
    "marketing.change_campaign",
    "marketing.add_campaignsignup",
    "marketing.change_campaignsignup",
}
_CAMPAIGN_GRANTS: dict[str, set[str]] = {
    Role.MARKETING: _CAMPAIGN_READ | _CAMPAIGN_WRITE,
    Role.FRONT_DESK: _CAMPAIGN_READ | {"marketing.add_campaignsignup", "marketing.checkin_campaign"},
    Role.BRANCH_MANAGER: _CAMPAIGN_READ,
    Role.HQ_ADMIN: _CAMPAIGN_READ | _CAMPAIGN_WRITE | {"marketing.checkin_campaign"},
}
for _role, _perms in _CAMPAIGN_GRANTS.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | _perms


# marketing: segments and broadcasts (客户分群、群发, issue 16). Marketing builds segments and
# broadcasts; a broadcast over the approval threshold waits for a branch manager (or HQ), who
# also sees every broadcast's results. HQ sets the quadrant thresholds and the contact cap.
_SEGMENT_READ = {"marketing.view_segment", "marketing.view_broadcast"}
_SEGMENT_WRITE = {
    "marketing.add_segment",
    "marketing.change_segment",
    "marketing.delete_segment",
    "marketing.export_segment",
    "marketing.add_broadcast",
    "marketing.change_broadcast",
}
_SEGMENT_GRANTS: dict[str, set[str]] = {
    Role.MARKETING: _SEGMENT_READ | _SEGMENT_WRITE,
    Role.BRANCH_MANAGER: _SEGMENT_READ | {"marketing.approve_broadcast", "marketing.export_segment"},
    Role.HQ_ADMIN: _SEGMENT_READ
    | _SEGMENT_WRITE
    | {
        "marketing.approve_broadcast",
        "marketing.view_quadrantthreshold",
        "marketing.add_quadrantthreshold",
        "marketing.change_quadrantthreshold",
        "marketing.delete_quadrantthreshold",
        "marketing.view_broadcastsettings",
        "marketing.change_broadcastsettings",
        "notifications.view_contactcap",
        "notifications.change_contactcap",
    },
}
for _role, _perms in _SEGMENT_GRANTS.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | _perms

# followups: plans, tasks and the work list (issue 14). Customer service works tasks (and
# books the person from a task); doctors see their own patients' tasks read-only; managers
# see the branch and reassign; HQ configures the plans in admin.
_FOLLOWUP_WORK = {"followups.view_task", "followups.work_task"}
_FOLLOWUPS_GRANTS: dict[str, set[str]] = {
    Role.CUSTOMER_SERVICE: _FOLLOWUP_WORK | {"appointments.add_appointment"},
    Role.DOCTOR: {"followups.view_task"},
    Role.BRANCH_MANAGER: _FOLLOWUP_WORK
    | {
        "followups.reassign_task",
        "followups.view_followupplan",
        "followups.view_followupstep",
        "followups.view_servicerep",
        "followups.add_servicerep",
        "followups.change_servicerep",
        "followups.delete_servicerep",
    },
    Role.HQ_ADMIN: _FOLLOWUP_WORK
    | {
        "followups.reassign_task",
        "followups.view_followupplan",
        "followups.add_followupplan",
        "followups.change_followupplan",
        "followups.delete_followupplan",
        "followups.view_followupstep",
        "followups.add_followupstep",
        "followups.change_followupstep",
        "followups.delete_followupstep",
        "followups.view_servicerep",
        "followups.add_servicerep",
        "followups.change_servicerep",
        "followups.delete_servicerep",
    },
}
for _role, _perms in _FOLLOWUPS_GRANTS.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | _perms


# reports: the branch dashboard (issue 17). Managers see their branch, HQ any branch (through
# the branch switcher); the lists behind a tile mask phones without clinic.reveal_contact.
_REPORTS_GRANTS: dict[str, set[str]] = {
    Role.BRANCH_MANAGER: {"reports.view_branch_dashboard"},
    Role.HQ_ADMIN: {"reports.view_branch_dashboard"},
}
# Month close: managers close their branch's months (the job closes them on the 1st anyway)
# and read a closed month against today; exports of report lists need reports.export_reports.
for _role in (Role.BRANCH_MANAGER, Role.HQ_ADMIN):
    _REPORTS_GRANTS[_role] |= {
        "reports.view_monthclose",
        "reports.close_month",
        "reports.export_reports",
        "reports.view_staff_performance",
        "reports.view_exportjob",  # the branch's export jobs in admin (the record, not the file)
    }
# reports: the end-of-day cash-up (front desk count their own cash, the manager signs the day
# off), the front desk's start page, and HQ's every-branch view.
_REPORTS_GRANTS[Role.FRONT_DESK] = {
    "reports.view_cashup",
    "reports.count_cash",
    "reports.view_front_desk_board",
}
_REPORTS_GRANTS[Role.BRANCH_MANAGER] |= {
    "reports.view_cashup",
    "reports.count_cash",
    "reports.sign_off_day",
    "reports.view_front_desk_board",
}
_REPORTS_GRANTS[Role.HQ_ADMIN] |= {
    "reports.view_cashup",
    "reports.count_cash",
    "reports.view_hq_dashboard",
    "reports.view_front_desk_board",
}
for _role, _perms in _REPORTS_GRANTS.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | _perms


# complaints (issue 15): customer service takes and works complaints; managers see their
# branch and approve make-goods above the limit; HQ sees all and sets the clocks; a doctor
# reviews the medical disputes they are asked to (and sees only those).
_COMPLAINT_WORK = {"complaints.view_complaint", "complaints.add_complaint", "complaints.work_complaint"}
_COMPLAINTS_GRANTS: dict[str, set[str]] = {
    Role.CUSTOMER_SERVICE: _COMPLAINT_WORK,
    Role.DOCTOR: {"complaints.review_complaint"},
    Role.BRANCH_MANAGER: _COMPLAINT_WORK
    | {
        "complaints.approve_makegood",
        "complaints.view_complaint_analysis",
        "complaints.view_slapolicy",
    },
    Role.HQ_ADMIN: _COMPLAINT_WORK
    | {
        "complaints.approve_makegood",
        "complaints.view_complaint_analysis",
        "complaints.review_complaint",
        "complaints.view_slapolicy",
        "complaints.change_slapolicy",
    },
}
for _role, _perms in _COMPLAINTS_GRANTS.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | _perms

# Trust (issue 19): HQ resets a staff member's lost two-factor device.
_TRUST_GRANTS: dict[str, set[str]] = {Role.HQ_ADMIN: {"clinic.reset_two_factor"}}
for _role, _perms in _TRUST_GRANTS.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | _perms

# inventory (issue 20): the stock keeper runs the stock of their branch; managers see the
# stock and its reports; doctors and nurses record the materials a visit used; HQ all.
_STOCK_READ = {
    "inventory.view_item",
    "inventory.view_batch",
    "inventory.view_stockbalance",
    "inventory.view_movement",
}
_INVENTORY_GRANTS: dict[str, set[str]] = {
    Role.STOCK_KEEPER: _STOCK_READ
    | {"inventory.manage_stock", "inventory.use_stock", "inventory.view_stock_reports"},
    Role.DOCTOR: {"inventory.view_item", "inventory.use_stock"},
    Role.NURSE: {"inventory.view_item", "inventory.use_stock"},
    Role.BRANCH_MANAGER: _STOCK_READ
    | {
        "inventory.view_stock_reports",
        "inventory.view_reorderlevel",
        "inventory.view_servicematerialdefault",
    },
    Role.HQ_ADMIN: _STOCK_READ
    | {
        "inventory.manage_stock",
        "inventory.use_stock",
        "inventory.view_stock_reports",
        "inventory.add_item",
        "inventory.change_item",
        "inventory.change_batch",
        "inventory.view_reorderlevel",
        "inventory.add_reorderlevel",
        "inventory.change_reorderlevel",
        "inventory.delete_reorderlevel",
        "inventory.view_servicematerialdefault",
        "inventory.add_servicematerialdefault",
        "inventory.change_servicematerialdefault",
        "inventory.delete_servicematerialdefault",
    },
}
for _role, _perms in _INVENTORY_GRANTS.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | _perms

# clinical: the dental chart, notes, attachments, treatment plans (issue 20). Doctors and
# nurses write the records (reading them needs clinic.view_medical too); doctors write plans;
# senior doctors review them (added below, after they get every doctor grant); managers and HQ
# see plans and trace patients (masked: no medical notes); HQ configures plan types and review.
_CLINICAL_RECORDS = {
    "clinical.add_toothfinding",
    "clinical.view_toothfinding",
    "clinical.add_clinicalnote",
    "clinical.view_clinicalnote",
    "clinical.add_clinicalattachment",
    "clinical.view_clinicalattachment",
}
_CLINICAL_GRANTS: dict[str, set[str]] = {
    Role.DOCTOR: _CLINICAL_RECORDS
    | {"clinical.add_treatmentplan", "clinical.change_treatmentplan", "clinical.view_treatmentplan"},
    Role.NURSE: _CLINICAL_RECORDS | {"clinical.view_treatmentplan"},
    Role.BRANCH_MANAGER: {"clinical.view_treatmentplan", "clinical.trace_patients"},
    Role.HQ_ADMIN: {
        "clinical.view_treatmentplan",
        "clinical.trace_patients",
        "clinical.view_plantype",
        "clinical.add_plantype",
        "clinical.change_plantype",
        "clinical.view_reviewsettings",
        "clinical.change_reviewsettings",
    },
}
for _role, _perms in _CLINICAL_GRANTS.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | _perms

# A senior doctor may do everything a doctor may (their own grants were added above).
ROLE_PERMISSIONS[Role.SENIOR_DOCTOR] = ROLE_PERMISSIONS[Role.SENIOR_DOCTOR] | ROLE_PERMISSIONS[Role.DOCTOR]
# The review of treatment plans is the senior doctor's own; so is tracing the patients a plan
# type or a doctor affected (with managers and HQ).
ROLE_PERMISSIONS[Role.SENIOR_DOCTOR] |= {"clinical.review_treatmentplan", "clinical.trace_patients"}


def sync_roles(apps: Any = None) -> dict[str, int]:
    """Create the built-in groups and apply the defaults of ROLE_PERMISSIONS that were never
    applied; runs after every ``migrate`` and is idempotent.

    ROLE_PERMISSIONS is the *default*: HQ may change a role in admin, and this never undoes
    that. Each default applied to a group is recorded (``RoleDefaultGrant``); only defaults
    without a record are applied (a new role, a permission a release adds, a permission whose
    app was just migrated). A default that a release drops from ROLE_PERMISSIONS is taken
    back from the group, but only where it was applied as a default (recorded): the code
    revoked it. What HQ granted by hand stays. Admin shows each role's difference to the
    default (``role_difference``).

    ``apps`` is the migration state registry when called from a migration or after one.
    Where the record table is not in that state (the older migrations of a fresh database,
    a database migrated back), missing defaults are added and nothing is taken away.
    Returns each group's permission count.
    """
    if apps is None:
        from django.apps import apps as registry
    else:
        registry = apps
    Group = registry.get_model("auth", "Group")
    Permission = registry.get_model("auth", "Permission")
    try:
        Grant = registry.get_model("clinic", "RoleDefaultGrant")
    except LookupError:
        Grant = None

    wanted = {p for perms in ROLE_PERMISSIONS.values() for p in perms}
    if apps is None and Permission.objects.filter(content_type__app_label="clinic").count() == 0:
        # The permission table was emptied (a flushed test database, a botched restore):
        # rebuild it the way migrate's post_migrate step does, then apply the role table.
        from django.contrib.auth.management import create_permissions

        for app_config in registry.get_app_configs():
            create_permissions(app_config, verbosity=0)
    by_key = {}
    for perm in Permission.objects.select_related("content_type").filter(
        codename__in={p.split(".", 1)[1] for p in wanted}
    ):
        by_key[f"{perm.content_type.app_label}.{perm.codename}"] = perm

    counts = {}
    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=GROUP_NAMES[role])
        defaults = {by_key[p] for p in perms if p in by_key}
        if Grant is None:
            # No record table in this state (older migrations; a database migrated back):
            # add what is missing, never take anything away.
            group.permissions.add(*defaults)
        else:
            applied = {g.permission_id: g for g in Grant.objects.filter(group=group)}
            new = [p for p in defaults if p.pk not in applied]
            group.permissions.add(*new)
            Grant.objects.bulk_create([Grant(group=group, permission=p) for p in new])
            default_ids = {p.pk for p in defaults}
            revoked = [pk for pk in applied if pk not in default_ids]
            if revoked:
                group.permissions.remove(*revoked)
                Grant.objects.filter(group=group, permission_id__in=revoked).delete()
        counts[GROUP_NAMES[role]] = group.permissions.count()
    return counts


def sync_roles_after_migrate(sender, **kwargs) -> None:
    # Run once per migrate, after the last app's permissions exist.
    # The state's registry: the record table may not exist (``migrate clinic 0004``).
    if sender.name == "clinic" and kwargs.get("plan") is not None:
        sync_roles(kwargs.get("apps"))


# --- roles as HQ sees them in admin ----------------------------------------------------------

ROLE_BY_GROUP_NAME: dict[str, str] = {name: role for role, name in GROUP_NAMES.items()}


def permission_key(perm) -> str:
    return f"{perm.content_type.app_label}.{perm.codename}"


def default_permissions(group) -> set[str] | None:
    """The permission keys the role table gives ``group``, or None for a role HQ added."""
    role = ROLE_BY_GROUP_NAME.get(group.name)
    return None if role is None else set(ROLE_PERMISSIONS[role])


def role_difference(group) -> tuple[list, list] | None:
    """``(added, removed)``: the permissions ``group`` has beyond its default, and the
    defaults it lacks (only those that exist: an app not migrated yet is no difference).
    None for a role without a default."""
    from django.contrib.auth.models import Permission

    defaults = default_permissions(group)
    if defaults is None:
        return None
    have = {permission_key(p): p for p in group.permissions.select_related("content_type")}
    added = [have[k] for k in sorted(set(have) - defaults)]
    missing = defaults - set(have)
    removed = [
        p
        for p in Permission.objects.select_related("content_type").filter(
            codename__in={k.split(".", 1)[1] for k in missing}
        )
        if permission_key(p) in missing
    ]
    return added, sorted(removed, key=permission_key)


def _model_name(model) -> str:
    """The model's translated name; a django-pghistory event model (``ShiftExceptionEvent``,
    whose name Django makes up in English) reads as the history of the model it tracks."""
    from django.utils.translation import gettext as _

    tracked = getattr(model, "pgh_tracked_model", None)
    if tracked is not None:
        return _("%(model)s history") % {"model": tracked._meta.verbose_name}
    # gettext again: a third-party name Django made up (pghistory's "context") is a plain
    # string, translated by our catalogue (clinic/third_party_labels.py).
    return _(str(model._meta.verbose_name))


def model_label(content_type) -> str:
    """A content type in the user's language: ``会员 · 积分流水`` (ContentType's own str
    leaves made-up English names, such as pghistory's event models, as they are)."""
    from django.apps import apps as registry
    from django.utils.translation import gettext as _

    model = content_type.model_class()
    if model is None:
        return content_type.model
    try:
        app_name = _(str(registry.get_app_config(content_type.app_label).verbose_name))
    except LookupError:
        app_name = content_type.app_label
    return _("%(app)s · %(permission)s") % {"app": app_name, "permission": _model_name(model)}


def permission_label(perm) -> str:
    """The permission in the user's language: ``预约 · 查看预约`` rather than Django's stored
    English ``appointments | appointment | Can view appointment``."""
    from django.apps import apps as registry
    from django.utils.translation import gettext as _

    ct = perm.content_type
    model = ct.model_class()
    try:
        app_name = _(str(registry.get_app_config(ct.app_label).verbose_name))
    except LookupError:
        app_name = ct.app_label
    label = None
    if model is not None:
        custom = dict(model._meta.permissions)
        if perm.codename in custom:
            label = str(custom[perm.codename])
        else:
            templates = {
                "add": _("Add %(model)s"),
                "change": _("Change %(model)s"),
                "delete": _("Delete %(model)s"),
                "view": _("View %(model)s"),
            }
            action, _sep, name = perm.codename.partition("_")
            if action in templates and name == model._meta.model_name:
                label = templates[action] % {"model": _model_name(model)}
    return _("%(app)s · %(permission)s") % {"app": app_name, "permission": label or perm.name}
