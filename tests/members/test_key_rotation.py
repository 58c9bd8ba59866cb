"""Rotating the secret key the documented way (new key, old one as a fallback) keeps ID
numbers and medical notes readable and findable; ``members_rekey`` moves the rows to the new
key, after which the fallback can go."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection

from members import crypto, services
from members.errors import MemberError
from members.models import Member
from members.selectors import search_queryset

from .factories import make_id_number, make_member

OLD = "old-secret-key-0123456789abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJ"
NEW = "new-secret-key-0123456789abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJ"


@pytest.fixture
def keys(settings):
    def use(secret: str, *fallbacks: str) -> None:
        settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = secret, list(fallbacks)
        settings.MEMBERS_ENCRYPTION_KEYS, settings.MEMBERS_HASH_KEY = [], ""
        crypto.reset_caches()

    yield use
    crypto.reset_caches()


def stored(member: Member) -> tuple[str, str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id_number, allergies, id_number_hash FROM members_member WHERE id = %s", [member.pk]
        )
        return cursor.fetchone()


def rekey() -> str:
    out = io.StringIO()
    call_command("members_rekey", batch=2, stdout=out)
    return out.getvalue()


def test_a_rotated_secret_key_keeps_people_readable_findable_and_unique(keys, branch, front_desk):
    keys(OLD)
    id_number = make_id_number(seq=321)
    person = make_member(branch, name="韩梅梅", id_number=id_number)
    services.member_medical_update(
        actor=None, member=person, allergies="青霉素过敏", conditions=[], dental_history=""
    )
    make_member(branch, name="李雷")  # no ID number: nothing to move but the check
    before = stored(person)

    keys(NEW, OLD)
    again = Member.objects.get(pk=person.pk)
    assert (again.id_number, again.allergies) == (id_number, "青霉素过敏")
    assert list(search_queryset(id_number).values_list("pk", flat=True)) == [person.pk]
    with pytest.raises(MemberError) as refused:
        services.member_register(actor=front_desk, branch=branch, name="韩梅", id_number=id_number)
    assert refused.value.code == "duplicate"

    assert "2 people checked, 1 moved" in rekey()
    after = stored(person)
    assert all(a != b for a, b in zip(after, before, strict=True))  # new tokens, new hash
    assert "2 people checked, 0 moved" in rekey()  # idempotent

    keys(NEW)  # the fallback is gone
    again = Member.objects.get(pk=person.pk)
    assert (again.id_number, again.allergies) == (id_number, "青霉素过敏")
    assert list(search_queryset(id_number).values_list("pk", flat=True)) == [person.pk]


def test_without_the_fallback_the_old_rows_cannot_be_read(keys, branch):
    keys(OLD)
    person = make_member(branch, name="韩梅梅", id_number=make_id_number(seq=322))
    keys(NEW)
    with pytest.raises(ValueError):
        Member.objects.get(pk=person.pk)
