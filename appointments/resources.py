"""django-import-export resource of the chairs (see clinic/resources.py)."""

from __future__ import annotations

from clinic.resources import audited_resource

from .models import Chair

ChairResource = audited_resource(
    Chair,
    ["branch", "code", "name", "sort_order", "is_active"],
    foreign={"branch": "code"},
    id_fields=("branch", "code"),
)
