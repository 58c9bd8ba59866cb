"""Reads of the person record, already scoped to what the user may see.

Scope: a member belongs to their home branch and to every branch that has served them
(``served_branches``). Lists and exports show only the user's branches (unless they hold
``clinic.view_all_branches``); the instant search is chain-wide, so a person who walks into
another branch is found there, and shown masked until that branch receives them.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.contrib.postgres.expressions import ArraySubquery
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.functions import JSONObject
from django.http import Http404
from django.utils import timezone

from clinic.phones import PhoneError, national_digits, normalize_phone
from clinic.selectors import user_branch_ids

from . import crypto
from .idnumbers import IdNumberError, normalize_id_number
from .models import Consent, ConsentKind, Member, MemberStatus, Stage, Tag

SEARCH_LIMIT = 20
VISIBLE_STATUSES = (MemberStatus.ACTIVE, MemberStatus.RESTRICTED)

_DIGITS = re.compile(r"^\d{3,11}$")
_LATIN = re.compile(r"^[a-z]+$")
_CARD = re.compile(r"^[A-Za-z]{0,4}\d{3,}$")


def scope_members(qs: QuerySet[Member], user) -> QuerySet[Member]:
    """Members of the user's branches: home branch or a branch that served them."""
    ids = user_branch_ids(user)
    if ids is None:
        return qs
    served = Member.served_branches.through.objects.filter(member_id=OuterRef("pk"), branch_id__in=ids)
    return qs.filter(Q(branch_id__in=ids) | Exists(served))


def member_in_scope(member: Member, user) -> bool:
    ids = user_branch_ids(user)
    if ids is None or member.branch_id in ids:
        return True
    return member.served_branches.filter(id__in=ids).exists()


def get_member_for_user(
    user, pk: int, *, write: bool = False, perm: str | None = None, with_tags: bool = False
) -> Member:
    """404 outside the user's branches (or for a merged-away / erased record), 403 when
    visible but not allowed (``write`` needs ``members.change_member``; ``perm`` any other).
    ``with_tags`` brings the tags in the same query (``member.tag_rows``: name and colour)."""
    if not user.has_perm("members.view_member"):
        raise PermissionDenied
    qs = scope_members(Member.objects.filter(status__in=VISIBLE_STATUSES), user).select_related(
        "branch", "channel", "consultant__staff"
    )
    if with_tags:
        qs = qs.annotate(
            tag_rows=ArraySubquery(
                Tag.objects.filter(members=OuterRef("pk"))
                .order_by("name")
                .values(json=JSONObject(name="name", color="color"))
            )
        )
    member = qs.filter(pk=pk).first()
    if member is None:
        raise Http404
    if write and (not user.has_perm("members.change_member") or member.status != MemberStatus.ACTIVE):
        raise PermissionDenied
    if perm and not user.has_perm(perm):
        raise PermissionDenied
    return member


def get_member_chainwide(user, pk: int) -> Member:
    """Any live member, whatever the branch: for receiving a person found by the chain-wide
    search at another branch. Callers check their own permission."""
    member = Member.objects.select_related("branch").filter(pk=pk, status=MemberStatus.ACTIVE).first()
    if member is None:
        raise Http404
    return member


RECEIVE_KINDS = ("phone_full", "card", "id_number")


def receive_found_by(member: Member, raw: str) -> str:
    """How a person of another branch was found, if the search may lead to receiving them:
    the kind of an exact match on their full phone number, card number or ID number, else
    ``""``. A name, pinyin, last-four or prefix search is a browse, not a finding."""
    kind, q = classify_query(raw)
    if kind == "phone_full" and member.phone_digits == q:
        return kind
    if kind == "card" and member.card_no and member.card_no.upper() == q:
        return kind
    if (
        kind == "id_number"
        and member.id_number_hash
        and member.id_number_hash in set(crypto.lookup_hashes(q))
    ):
        return kind
    return ""


def member_list(
    user, *, stage: str = "", channel: int | None = None, tag: int | None = None, branch: int | None = None
) -> QuerySet[Member]:
    qs = scope_members(Member.objects.filter(status__in=VISIBLE_STATUSES), user)
    if stage:
        qs = qs.filter(stage=stage)
    if channel:
        qs = qs.filter(channel_id=channel)
    if tag:
        qs = qs.filter(tags__id=tag)
    if branch:
        qs = qs.filter(branch_id=branch)
    return qs.select_related("branch", "channel").prefetch_related("tags").order_by("-created_at", "-id")


def classify_query(raw: str) -> tuple[str, str]:
    """What the front desk typed: ``(kind, normalised text)``.

    Kinds: ``phone_last4``, ``phone_full``, ``phone_prefix``, ``card``, ``id_number``,
    ``pinyin``, ``name``; ``""`` when there is nothing to search for.
    """
    text = "".join((raw or "").split())
    if not text:
        return "", ""
    if len(text) == 18 and text[:17].isdigit():
        return "id_number", text.upper()
    plain = text.lstrip("+")
    if plain.isdigit():
        if len(plain) == 4:
            return "phone_last4", plain
        if len(plain) >= 11:
            try:
                return "phone_full", national_digits(normalize_phone(text))
            except PhoneError:
                return "card", plain
        if len(plain) >= 3 and plain.startswith("1"):
            return "phone_prefix", plain
        return ("card", plain) if len(plain) >= 3 else ("", "")
    if _CARD.match(text) and any(c.isdigit() for c in text):
        return "card", text.upper()
    lowered = text.lower()
    if _LATIN.match(lowered):
        return "pinyin", lowered
    return "name", text


def _variant(kind: str, q: str):
    """What, besides the kind, shapes the predicate (so each shape compiles once)."""
    if kind == "phone_last4":
        return q.startswith("1")
    if kind == "pinyin":
        return len(q) <= 4
    if kind == "name":
        return len(q) <= 2
    return None


def _predicate(kind: str, q: str, variant) -> Q | None:
    """One indexed predicate per kind of input. Depends on ``q`` only as a value."""
    if kind == "phone_last4":
        # Four digits are usually the last four; "1381" may also be the start of a number.
        cond = Q(phone_last4=q) | Q(card_no=q)
        return cond | Q(phone_digits__startswith=q) if variant else cond
    if kind == "phone_full":
        return Q(phone_digits=q)
    if kind == "phone_prefix":
        return Q(phone_digits__startswith=q) | Q(card_no=q)
    if kind == "card":
        return Q(card_no__startswith=q)
    if kind == "pinyin":
        return (
            Q(pinyin_initials__startswith=q) | Q(pinyin_full__startswith=q)
            if variant
            else Q(pinyin_full__contains=q)
        )
    if kind == "name":
        return Q(name_grams__contains=[q]) if variant else Q(name__contains=q)
    return None


def _normalised(kind: str, q: str) -> str:
    return q.lower() if kind == "name" and len(q) <= 2 else q


def search_queryset(raw: str) -> QuerySet[Member]:
    """The chain-wide search, every branch: one indexed predicate per kind of input.

    No ORDER BY on purpose: with LIMIT the database stops at the first matches instead of
    sorting every ``张``; the caller orders the few rows it gets.
    """
    kind, q = classify_query(raw)
    base = Member.objects.filter(status__in=VISIBLE_STATUSES).order_by()
    if kind == "id_number":
        try:
            value = normalize_id_number(q)
        except IdNumberError:
            return base.none()
        return base.filter(id_number_hash__in=crypto.lookup_hashes(value))
    q = _normalised(kind, q)
    predicate = _predicate(kind, q, _variant(kind, q))
    return base.filter(predicate) if predicate is not None else base.none()


# The instant search runs on every keystroke: its SQL is compiled once per shape, with a
# sentinel where the typed text goes, and reused with the real value (LIKE-escaped where the
# sentinel sits inside a pattern, exactly as the ORM would have escaped it).
_SENTINEL = "QQSEARCHSENTINELQQ"
_COMPILED: dict[tuple, tuple[str, tuple]] = {}


def _compiled_search(kind: str, variant, limit: int) -> tuple[str, tuple]:
    key = (kind, variant, limit)
    if key not in _COMPILED:
        qs = Member.objects.filter(status__in=VISIBLE_STATUSES).order_by()
        qs = qs.filter(_predicate(kind, _SENTINEL, variant)).values_list(*SEARCH_FIELDS)[:limit]
        sql, params = qs.query.sql_with_params()
        _COMPILED[key] = (sql, tuple(params))
    return _COMPILED[key]


def _bind(params: tuple, q: str) -> list:
    escaped = None
    out = []
    for p in params:
        if p == _SENTINEL:
            out.append(q)
        elif isinstance(p, str) and _SENTINEL in p:
            escaped = escaped or connection.ops.prep_for_like_query(q)
            out.append(p.replace(_SENTINEL, escaped))
        elif isinstance(p, list | tuple):
            out.append([q if x == _SENTINEL else x for x in p])
        else:
            out.append(p)
    return out


def search_rows(raw: str, limit: int = SEARCH_LIMIT) -> list[tuple]:
    """The search's rows (``SEARCH_FIELDS`` values), through the compiled-SQL cache."""
    kind, q = classify_query(raw)
    if not kind:
        return []
    if kind == "id_number":
        return list(search_queryset(raw).values_list(*SEARCH_FIELDS)[:limit])
    q = _normalised(kind, q)
    sql, params = _compiled_search(kind, _variant(kind, q), limit)
    with connection.cursor() as cursor:
        cursor.execute(sql, _bind(params, q))
        return cursor.fetchall()


SEARCH_FIELDS = (
    "id",
    "name",
    "gender",
    "birth_date",
    "phone",
    "stage",
    "card_no",
    "branch_id",
    "last_visit_at",
    "has_medical_alerts",
    "pinyin_initials",
)


@dataclass(slots=True)
class SearchHit:
    """One search result: just what the result list shows (no model instance, so the
    instant search costs little more than its SQL)."""

    pk: int
    name: str
    gender: str
    birth_date: dt.date | None
    phone: str
    stage: str
    card_no: str | None
    branch_id: int
    last_visit_at: dt.datetime | None
    has_medical_alerts: bool
    pinyin_initials: str
    in_scope: bool = True

    @property
    def age(self) -> int | None:
        if not self.birth_date:
            return None
        today = timezone.localdate()
        b = self.birth_date
        return today.year - b.year - ((today.month, today.day) < (b.month, b.day))

    def get_stage_display(self) -> str:
        return str(Stage(self.stage).label)


def member_search(user, raw: str, *, limit: int = SEARCH_LIMIT) -> list[SearchHit]:
    """Up to ``limit`` matches across the chain, exact matches first. Each carries
    ``in_scope``: whether the user's branches may open the profile."""
    kind, q = classify_query(raw)
    if not kind:
        return []
    rows = [SearchHit(*values) for values in search_rows(raw, limit)]
    ids = user_branch_ids(user)
    served: set[int] = set()
    if ids is not None and rows:
        outside = [m.pk for m in rows if m.branch_id not in ids]
        if outside:
            served = set(
                Member.served_branches.through.objects.filter(
                    member_id__in=outside, branch_id__in=ids
                ).values_list("member_id", flat=True)
            )
    for m in rows:
        m.in_scope = ids is None or m.branch_id in ids or m.pk in served

    def rank(m: SearchHit) -> tuple:
        exact = m.name == q or m.pinyin_initials == q or m.card_no == q or m.phone.endswith(q)
        return (not exact, not m.in_scope, m.name)

    rows.sort(key=rank)
    return rows


def likely_duplicates(
    *,
    phone: str = "",
    name: str = "",
    id_number_hash: str = "",
    id_number: str = "",
    exclude_pk: int | None = None,
) -> QuerySet[Member]:
    """Same ID number (by its stored hash, or by every hash the plain ``id_number`` may be
    stored under while a key rotation is under way), or same phone with a similar name (or
    the same name)."""
    cond = Q()
    hashes = set(crypto.lookup_hashes(id_number)) if id_number else set()
    if id_number_hash:
        hashes.add(id_number_hash)
    if hashes:
        cond |= Q(id_number_hash__in=sorted(hashes))
    if phone and name:
        cond |= Q(phone=phone, name__trigram_similar=name) | Q(phone=phone, name=name)
    if not cond:
        return Member.objects.none()
    qs = Member.objects.filter(cond, status__in=VISIBLE_STATUSES).select_related("branch")
    if exclude_pk:
        qs = qs.exclude(pk=exclude_pk)
    return qs.order_by("created_at")[:10]


def members_sharing_phone(phone: str, exclude_pk: int | None = None) -> QuerySet[Member]:
    qs = Member.objects.filter(phone=phone, status__in=VISIBLE_STATUSES)
    if exclude_pk:
        qs = qs.exclude(pk=exclude_pk)
    return qs


def active_consent(member: Member, kind: str) -> Consent | None:
    return Consent.objects.filter(member=member, kind=kind, withdrawn_at__isnull=True).first()


def marketing_consent_kind(channel: str) -> str | None:
    return {
        "sms": ConsentKind.MARKETING_SMS,
        "wechat": ConsentKind.MARKETING_WECHAT,
        "email": ConsentKind.MARKETING_EMAIL,
    }.get(channel)
