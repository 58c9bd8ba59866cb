"""The shared form fields and request guards (clinic.fields, clinic.params, the NUL middleware,
the ISO date formats): each fails the way the stranger of issue 11 found."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse
from django.utils import translation

from clinic.admin import ClinicAdmin
from clinic.fields import ShortTextField, hidden_characters
from clinic.params import parse_int, query_datetime
from members.forms import MemberForm
from members.models import Member
from tests.members.factories import make_member

RLO = "\u202e"


@pytest.mark.parametrize("text", [f"{RLO}王芳", "王\u200b芳", "王\x1b芳", "王\u2028芳"])
def test_names_refuse_invisible_and_control_characters(db, text):
    form = MemberForm(data={"name": text, "stage": "lead"})
    assert not form.is_valid()
    assert "U+" in form.errors["name"][0]


def test_plain_names_and_multiline_notes_pass(db):
    form = MemberForm(data={"name": "欧阳 Anna-Lee", "stage": "lead", "notes": "第一行\r\n第二行\t备注"})
    assert form.is_valid(), form.errors
    assert hidden_characters("a\nb") == ["U+000A"]


def test_every_registered_admin_uses_the_clinic_base():
    """The class of the fix: admin text fields refuse hidden characters and store a textarea's
    "\r\n" as "\n" through ClinicAdmin, and through ClinicFormfieldsMixin in every inline."""
    from clinic.admin import ClinicFormfieldsMixin

    ours = {"clinic", "notifications", "members", "loyalty", "appointments", "marketing", "followups"}
    registry = [(model, a) for model, a in admin.site._registry.items() if model._meta.app_label in ours]
    loose = [type(a).__name__ for model, a in registry if not isinstance(a, ClinicAdmin)]
    loose += [
        inline.__name__
        for _model, a in registry
        for inline in a.inlines
        if not issubclass(inline, ClinicFormfieldsMixin)
    ]
    assert not loose, loose


def test_admin_text_fields_refuse_hidden_characters(client_for, hq_admin, branch):
    r = client_for(hq_admin).post(reverse("admin:members_tag_add"), {"name": f"{RLO}VIP", "color": "primary"})
    assert r.status_code == 200 and "U+202E" in r.content.decode()


def test_every_form_char_field_is_a_clinic_text_field():
    from django import forms

    import appointments.forms
    import clinic.forms
    import clinic.notifications.forms
    import loyalty.forms
    import members.forms

    loose = []
    for module in (
        clinic.forms,
        clinic.notifications.forms,
        members.forms,
        loyalty.forms,
        appointments.forms,
    ):
        for name, cls in vars(module).items():
            if isinstance(cls, type) and issubclass(cls, forms.Form):
                for fname, field in cls.base_fields.items():
                    if type(field) is forms.CharField:
                        loose.append(f"{module.__name__}.{name}.{fname}")
    assert not loose, loose


@pytest.mark.parametrize("url", ["/members/search/?q=%00", "/loyalty/rewards/?q=%00", "/members/?stage=%00"])
def test_nul_in_a_query_is_a_400_not_a_500(client_for, hq_admin, url):
    r = client_for(hq_admin).get(url)
    assert r.status_code == 400
    assert "NUL" in r.content.decode()


def test_nul_in_a_post_is_a_400_and_saves_nothing(client_for, hq_admin, branch):
    r = client_for(hq_admin).post(reverse("members:create"), {"name": "王\x00芳", "stage": "lead"})
    assert r.status_code == 400 and not Member.objects.exists()


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_date_inputs_render_iso_in_every_language(db, language):
    with translation.override(language):
        html = str(MemberForm(initial={"birth_date": dt.date(1995, 11, 20)})["birth_date"])
    assert 'value="1995-11-20"' in html and 'type="date"' in html


def test_editing_a_person_keeps_the_birth_date(client_for, front_desk, branch):
    member = make_member(branch, name="李四", birth_date=dt.date(1995, 11, 20))
    html = client_for(front_desk).get(reverse("members:edit", args=[member.pk])).content.decode()
    assert 'value="1995-11-20"' in html


def test_birth_dates_in_the_future_or_before_1900_are_refused(db):
    for day in ("9999-12-31", "0001-01-01", "1899-12-31"):
        form = MemberForm(data={"name": "王芳", "stage": "lead", "birth_date": day})
        assert not form.is_valid() and "birth_date" in form.errors, day


@pytest.mark.parametrize("raw", ["²", "abc", "", "-", str(10**30), "0", "١٢"])
def test_parse_int_refuses_what_int_or_the_database_cannot_take(raw):
    assert parse_int(raw) is None


def test_parse_int_and_query_datetime_read_good_values():
    assert parse_int("42") == 42
    request = RequestFactory().get("/", {"start": "2026-12-07T10:00"})
    assert query_datetime(request, "start").hour == 10
    far = RequestFactory().get("/", {"start": "9999-12-31T23:59:00+00:00"})
    assert query_datetime(far, "start") is None


def test_short_text_field_strips_like_char_field():
    assert ShortTextField().clean("  王芳 ") == "王芳"


def test_the_member_importer_refuses_hidden_characters_in_names(branch):
    from members.importer import RowValidator

    member, errors = RowValidator(branch).check(2, {"name": f"{RLO}王芳", "gender": "女", "stage": "潜客"})
    assert member is None and any("U+202E" in e["message"] for e in errors)


def test_long_text_stores_line_breaks_as_newlines():
    from clinic.fields import LongTextField

    assert LongTextField().clean("怕疼\r\n周末来\r") == "怕疼\n周末来"
