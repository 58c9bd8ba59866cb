"""Registration fields higher apps add through ``members.registry`` (members never imports
them): shown to users with the field's permission, prefilled from the URL, resolved when
the form is checked, saved in ``member_register``'s transaction — a refusal registers
nobody and is shown on the field."""

from __future__ import annotations

import pytest
from django import forms
from django.urls import reverse

from clinic.errors import DomainError
from clinic.models import AuditLog
from members import services
from members.errors import MemberError
from members.models import Member
from members.registry import (
    REGISTRATION_FIELDS,
    RegistrationField,
    register_registration_field,
    registration_fields_for,
)

pytestmark = pytest.mark.django_db

saved_values: list[tuple] = []


def _resolve(value, user):
    if value == "nobody":
        raise DomainError("找不到这个人", field="sponsor")
    return value.upper()


def _save(*, actor, member, value):
    if value == "REFUSE":
        raise DomainError("不能登记", code="refused")
    saved_values.append((member.pk, value))


@pytest.fixture
def sponsor_field():
    """A made-up field, as a higher app would register it (permission: add_member)."""
    field = RegistrationField(
        name="sponsor",
        field=lambda: forms.CharField(label="担保人", required=False),
        resolve=_resolve,
        save=_save,
        permission="members.add_member",
        query_param="s",
        order=50,
    )
    before = dict(REGISTRATION_FIELDS)
    register_registration_field(field)
    saved_values.clear()
    yield field
    REGISTRATION_FIELDS.clear()
    REGISTRATION_FIELDS.update(before)


def test_fields_follow_permissions(sponsor_field, front_desk, doctor):
    assert sponsor_field in registration_fields_for(front_desk)
    assert sponsor_field not in registration_fields_for(doctor)


def test_the_value_is_saved_with_the_person(branch, front_desk, sponsor_field):
    member = services.member_register(actor=front_desk, branch=branch, name="王芳", extras={"sponsor": "ABC"})
    assert saved_values == [(member.pk, "ABC")]


def test_a_refusal_registers_nobody(branch, front_desk, sponsor_field):
    with pytest.raises(MemberError) as err:
        services.member_register(actor=front_desk, branch=branch, name="王芳", extras={"sponsor": "REFUSE"})
    assert (err.value.field, err.value.code) == ("sponsor", "refused")
    assert not Member.objects.filter(name="王芳").exists()
    assert not AuditLog.objects.filter(action="members.member.registered").exists()


def test_an_unknown_extra_is_a_programming_error(branch, front_desk):
    with pytest.raises(ValueError):
        services.member_register(actor=front_desk, branch=branch, name="王芳", extras={"nope": 1})


def test_the_form_shows_prefills_resolves_and_saves(client_for, front_desk, sponsor_field):
    client = client_for(front_desk)
    url = reverse("members:create")
    page = client.get(url, {"s": "abc"}).content.decode()
    assert "担保人" in page and 'value="abc"' in page
    bad = client.post(url, {"name": "王芳", "stage": "lead", "sponsor": "nobody"})
    assert bad.status_code == 200 and "找不到这个人" in bad.content.decode()
    refused = client.post(url, {"name": "王芳", "stage": "lead", "sponsor": "refuse"})
    assert refused.status_code == 200 and "不能登记" in refused.content.decode()
    assert not Member.objects.filter(name="王芳").exists()
    ok = client.post(url, {"name": "王芳", "stage": "lead", "sponsor": "abc"})
    assert ok.status_code == 302
    assert saved_values == [(Member.objects.get(name="王芳").pk, "ABC")]


def test_editing_has_no_registration_fields(client_for, front_desk, sponsor_field, branch):
    member = services.member_register(actor=front_desk, branch=branch, name="王芳")
    page = client_for(front_desk).get(reverse("members:edit", args=[member.pk])).content.decode()
    assert "担保人" not in page
