"""Tags (标签) outside Django admin: marketing names and colours them; staff attach them to
people on the person's page. Unique names (case aside), audited."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from clinic.services import audit_record

from ..errors import MemberError
from ..models import Tag

COLOURS = {value for value, _label in Tag._meta.get_field("color").choices}


def _clean(name: str, color: str, *, exclude: int | None = None) -> tuple[str, str]:
    name = " ".join((name or "").split())
    if not name:
        raise MemberError(_("A tag needs a name."), field="name")
    if len(name) > 30:
        raise MemberError(_("A tag's name has at most 30 characters."), field="name")
    if color not in COLOURS:
        raise MemberError(_("Choose one of the colours."), field="color")
    clash = Tag.objects.filter(name__iexact=name)
    if exclude:
        clash = clash.exclude(pk=exclude)
    if clash.exists():
        raise MemberError(_("There is already a tag named %(name)s.") % {"name": name}, field="name")
    return name, color


@transaction.atomic
def tag_create(*, actor, name: str, color: str = "secondary") -> Tag:
    name, color = _clean(name, color)
    try:
        with transaction.atomic():
            tag = Tag.objects.create(name=name, color=color)
    except IntegrityError as exc:  # two people naming the same tag at once
        raise MemberError(_("There is already a tag named %(name)s.") % {"name": name}, field="name") from exc
    audit_record(
        actor=actor, action="members.tag.created", target=tag, changes={"name": name, "color": color}
    )
    return tag


@transaction.atomic
def tag_update(*, actor, tag: Tag, name: str, color: str) -> Tag:
    tag = Tag.objects.select_for_update().get(pk=tag.pk)
    name, color = _clean(name, color, exclude=tag.pk)
    changes = {
        k: [old, new] for k, old, new in (("name", tag.name, name), ("color", tag.color, color)) if old != new
    }
    if not changes:
        return tag
    tag.name, tag.color = name, color
    try:
        with transaction.atomic():
            tag.save(update_fields=["name", "color"])
    except IntegrityError as exc:
        raise MemberError(_("There is already a tag named %(name)s.") % {"name": name}, field="name") from exc
    audit_record(actor=actor, action="members.tag.changed", target=tag, changes=changes)
    return tag
