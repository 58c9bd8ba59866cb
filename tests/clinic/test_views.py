from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from clinic.middleware import ActiveBranchMiddleware
from tests.clinic.factories import ServiceCategoryFactory, ServiceItemFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog():
    basic = ServiceCategoryFactory(code="PREV", name="预防保健", is_basic_care=True)
    ServiceItemFactory(
        code="PV01", name="超声洁牙", name_en="Ultrasonic cleaning", category=basic, price="280.00"
    )
    ServiceItemFactory(code="PV03", name="涂氟", category=basic, price="120.00")
    ServiceItemFactory(code="OLD1", name="停用项目", category=basic, is_active=False)
    return basic


def test_catalog_lists_and_searches(front_desk, client_for, catalog):
    client = client_for(front_desk)
    page = client.get(reverse("clinic:catalog")).content.decode()
    assert "超声洁牙" in page and "¥280.00" in page and "停用项目" not in page
    found = client.get(reverse("clinic:catalog"), {"q": "洁牙"}).content.decode()
    assert "超声洁牙" in found and "涂氟" not in found


def test_catalog_htmx_returns_the_results_partial_only(front_desk, client_for, catalog):
    response = client_for(front_desk).get(reverse("clinic:catalog"), {"q": "PV"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert "<html" not in body and "catalog-table" in body and "涂氟" in body


def test_catalog_bad_input_is_a_friendly_page_not_a_500(front_desk, client_for, catalog):
    response = client_for(front_desk).get(
        reverse("clinic:catalog"), {"category": "not-a-number", "q": "x" * 500}
    )
    assert response.status_code == 200


def test_catalog_shows_english_names_in_english(front_desk, client_for, catalog):
    client = client_for(front_desk)
    client.cookies["clinic_language"] = "en"
    assert "Ultrasonic cleaning" in client.get(reverse("clinic:catalog")).content.decode()


def test_a_request_in_english_leaves_the_thread_language_as_it_was(front_desk, client_for, catalog):
    from django.utils import translation

    before = translation.get_language()
    client = client_for(front_desk)
    client.cookies["clinic_language"] = "en"
    response = client.get(reverse("clinic:catalog"))
    assert response["Content-Language"] == "en"
    assert translation.get_language() == before


def test_catalog_query_count_is_capped(front_desk, client_for, catalog, django_assert_max_num_queries):
    for n in range(30):
        ServiceItemFactory(code=f"X{n:03d}", category=catalog)
    client = client_for(front_desk)
    with django_assert_max_num_queries(12):
        assert client.get(reverse("clinic:catalog")).status_code == 200


def test_catalog_refused_without_permission(db, branch, client_for):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("nobody", password="x-Pass-12345")
    assert client_for(user).get(reverse("clinic:catalog")).status_code == 403


def test_catalog_refuses_post(front_desk, client_for):
    assert client_for(front_desk).post(reverse("clinic:catalog")).status_code == 405


def test_branch_switch_within_own_branches(doctor, client_for, branch, other_branch):
    doctor.staff.branches.add(other_branch)
    client = client_for(doctor)
    response = client.post(
        reverse("clinic:branch_switch"), {"branch": other_branch.pk, "next": "/clinic/catalog/"}
    )
    assert response.status_code == 302 and response["Location"] == "/clinic/catalog/"
    assert client.session[ActiveBranchMiddleware.SESSION_KEY] == other_branch.pk
    assert str(other_branch.name) in client.get(reverse("home")).content.decode()


def test_branch_switch_outside_own_branches_is_404(front_desk, client_for, other_branch):
    response = client_for(front_desk).post(reverse("clinic:branch_switch"), {"branch": other_branch.pk})
    assert response.status_code == 404


def test_branch_switch_bad_input_and_open_redirect(front_desk, client_for, branch):
    client = client_for(front_desk)
    assert client.post(reverse("clinic:branch_switch"), {"branch": "abc"}).status_code == 302
    response = client.post(
        reverse("clinic:branch_switch"), {"branch": branch.pk, "next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("home")


def test_branch_switch_requires_post(front_desk, client_for):
    assert client_for(front_desk).get(reverse("clinic:branch_switch")).status_code == 405


def test_home_shows_job_status_to_managers_only(manager, front_desk, client_for):
    assert "后台任务" in client_for(manager).get(reverse("home")).content.decode()
    assert "后台任务" not in client_for(front_desk).get(reverse("home")).content.decode()


def test_navigation_follows_the_role(front_desk, hq_admin, client_for):
    assert "/admin/" not in client_for(front_desk).get(reverse("home")).content.decode()
    assert "/admin/" in client_for(hq_admin).get(reverse("home")).content.decode()


def test_navbar_groups_become_dropdowns_only_with_two_or_more_entries(front_desk, manager):
    from clinic.navigation import menu_for

    def shape(user):
        return {
            (e.group.key if e.is_dropdown else e.item.url_name): [i.url_name for i in e.items]
            for e in menu_for(user)
        }

    desk = shape(front_desk)
    assert "clinic:catalog" in desk and "more" not in desk  # one entry of "more": a plain link
    boss = shape(manager)
    assert boss["benefits"] == [
        "loyalty:rewards_desk",
        "loyalty:coupon_batches",
        "loyalty:referral_leaderboard",
        "loyalty:stored_value_liability",
    ]
    assert "loyalty:coupon_batches" not in boss and "home" in boss


def test_404_page_is_chinese(front_desk, client_for):
    response = client_for(front_desk).get("/no-such-page/")
    assert response.status_code == 404
    assert "页面不存在" in response.content.decode()


def test_unknown_url_for_anonymous_is_a_plain_404():
    response = Client().get("/no-such-page/")
    assert response.status_code == 404 and "页面不存在" in response.content.decode()


def test_hq_admin_cannot_grant_superuser_status(hq_admin, front_desk, client_for):
    client = client_for(hq_admin)
    page = client.get(f"/admin/auth/user/{front_desk.pk}/change/").content.decode()
    assert 'name="is_superuser"' not in page and 'name="groups"' not in page
    assert 'name="is_active"' in page


def test_branch_manager_admin_is_read_only_for_catalog(manager, client_for):
    from tests.clinic.factories import ServiceItemFactory

    item = ServiceItemFactory()
    client = client_for(manager)
    assert client.get("/admin/clinic/serviceitem/").status_code == 200
    response = client.post(f"/admin/clinic/serviceitem/{item.pk}/change/", {"price": "1.00"})
    assert response.status_code == 403
