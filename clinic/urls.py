from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog, set_language

from . import views

clinic_patterns = [
    path("catalog/", views.catalog, name="catalog"),
    path("branch/", views.branch_switch, name="branch_switch"),
    path("two-factor/", views.two_factor, name="two_factor"),
    path("two-factor/setup/", views.two_factor_setup, name="two_factor_setup"),
    path("two-factor/verify/", views.two_factor_verify, name="two_factor_verify"),
    path("two-factor/backup-codes/", views.two_factor_backup_codes, name="two_factor_backup_codes"),
    path("two-factor/disable/", views.two_factor_disable, name="two_factor_disable"),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
    path("jsi18n/", login_not_required(JavaScriptCatalog.as_view()), name="javascript-catalog"),
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("clinic/", include((clinic_patterns, "clinic"))),
    path("notifications/", include("clinic.notifications.urls")),
    path("members/", include("members.urls")),
    path("loyalty/", include("loyalty.urls")),
    path("appointments/", include("appointments.urls")),
    path("inventory/", include("inventory.urls")),
    path("marketing/", include("marketing.urls")),
    path("followups/", include("followups.urls")),
    path("complaints/", include("complaints.urls")),
    path("clinical/", include("clinical.urls")),
    path("reports/", include("reports.urls")),
    path("portal/", include("portal.urls")),
    path("admin/", admin.site.urls),
]

# A database outage answers 503 with Retry-After, other errors the 500 page (clinic.views).
handler500 = "clinic.views.server_error"

if settings.DEBUG:
    from django.contrib.staticfiles.urls import staticfiles_urlpatterns

    urlpatterns += staticfiles_urlpatterns()
