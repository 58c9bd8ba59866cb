"""Portal fixtures others reuse (add, do not rename).

``portal_family``: a parent (card member, own phone, points), a spouse sharing the phone and a
child (no phone; the parent is the registered guardian); ``other_family``: another family with
its own phone. ``member_client``: a Django test client logged in to the portal as the parent's
phone (a real member session, the same cookie the SMS log-in sets). ``portal_client_for(phone)``
logs in any phone. ``portal_login(client, phone)`` does it to a client you already have.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib import import_module

import pytest
from django.apps import apps
from django.conf import settings
from django.test import Client

from members import services as member_services
from members.models import Member
from portal import session as portal_session
from tests.members.factories import make_member

_loyalty_seed = importlib.import_module("loyalty.migrations.0002_programme_and_roles")
_portal_templates = importlib.import_module("portal.migrations.0002_login_template")
_channels = importlib.import_module("members.migrations.0002_acquisition_channels")


@pytest.fixture(autouse=True)
def _portal_seed(request):
    """Tiers, acquisition channels and the log-in SMS template come from data migrations; a transactional test may
    have flushed them, so put them back (idempotent)."""
    if request.node.get_closest_marker("django_db") is None and "db" not in request.fixturenames:
        return
    request.getfixturevalue("db")
    _loyalty_seed.seed(apps, None)
    _portal_templates.add_templates(apps, None)
    _channels.add_channels(apps, None)  # 朋友介绍, the share page's channel


PARENT_PHONE = "+8613911110001"
OTHER_PHONE = "+8613922220002"


@dataclass
class Family:
    parent: Member
    spouse: Member
    child: Member
    phone: str

    @property
    def people(self) -> list[Member]:
        return [self.parent, self.spouse, self.child]


def make_family(branch, *, phone: str, surname: str = "陈", enrol: bool = True) -> Family:
    """A parent (enrolled, with a card), a spouse on the same phone, a child with no phone
    whose guardian is the parent."""
    import datetime as dt

    from django.utils import timezone

    from loyalty import services as loyalty_services

    parent = make_member(branch, name=f"{surname}家长", phone=phone, birth_date=dt.date(1985, 3, 1))
    spouse = make_member(branch, name=f"{surname}配偶", phone=phone, birth_date=dt.date(1986, 5, 2))
    child = make_member(
        branch, name=f"{surname}小朋友", phone="", birth_date=timezone.localdate().replace(year=2018)
    )
    member_services.family_link_add(
        actor=None, member=child, relative=parent, relation="parent", is_guardian=True
    )
    member_services.family_link_add(actor=None, member=spouse, relative=parent, relation="spouse")
    if enrol:
        loyalty_services.membership_enrol(actor=None, member=parent, branch=branch, welcome_points=0)
    return Family(parent=parent, spouse=spouse, child=child, phone=phone)


@pytest.fixture
def portal_family(branch) -> Family:
    return make_family(branch, phone=PARENT_PHONE, surname="陈")


@pytest.fixture
def other_family(branch) -> Family:
    return make_family(branch, phone=OTHER_PHONE, surname="林")


def portal_login(client: Client, phone: str, *, member: Member | None = None) -> Client:
    """Give ``client`` a member session for ``phone`` (optionally with ``member`` chosen in
    the switcher), exactly as a successful SMS log-in leaves it."""
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[portal_session.PHONE] = phone
    store[portal_session.VIA] = "sms"
    if member is not None:
        store[portal_session.ACTIVE] = member.pk
    store.set_expiry(portal_session.session_age())
    store.save()
    client.cookies[portal_session.cookie_name()] = store.session_key
    return client


@pytest.fixture
def portal_client_for(db):
    def make(phone: str, *, member: Member | None = None) -> Client:
        return portal_login(Client(), phone, member=member)

    return make


@pytest.fixture
def member_client(portal_family, portal_client_for) -> Client:
    """Logged in to the portal as the parent of ``portal_family``."""
    return portal_client_for(portal_family.phone, member=portal_family.parent)
