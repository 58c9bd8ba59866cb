"""Every write to the person record, one module per concern. Callers import from here:
``from members import services`` / ``from members.services import member_register``."""

from __future__ import annotations

from .merge import (
    _register_own_merge_fields,  # noqa: F401  (members.apps registers the merge fields)
    member_merge,
)
from .privacy import (
    member_data_export_record,
    member_erase,
    retention_reason,
)
from .records import (
    EDITABLE_FIELDS,
    REVEALABLE,
    clean_birth_date,
    clean_id_number,
    clean_phone,
    fill_derived,
    medical_view_record,
    member_medical_update,
    member_receive_at_branch,
    member_register,
    member_reveal,
    member_stage_advance,
    member_update,
    member_visit_record,
)
from .relations import (
    communication_log_add,
    consent_grant,
    consent_withdraw,
    family_link_add,
    family_link_remove,
    member_opt_out_set,
)
from .tags import tag_create, tag_update

__all__ = [
    "EDITABLE_FIELDS",
    "REVEALABLE",
    "clean_birth_date",
    "clean_id_number",
    "clean_phone",
    "communication_log_add",
    "consent_grant",
    "consent_withdraw",
    "family_link_add",
    "family_link_remove",
    "fill_derived",
    "medical_view_record",
    "member_data_export_record",
    "member_erase",
    "member_medical_update",
    "member_merge",
    "member_opt_out_set",
    "member_receive_at_branch",
    "member_register",
    "member_reveal",
    "member_stage_advance",
    "member_update",
    "member_visit_record",
    "retention_reason",
    "tag_create",
    "tag_update",
]
