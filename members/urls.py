from django.urls import path

from . import privacy_views, tag_views, views, views_import

app_name = "members"

urlpatterns = [
    path("", views.member_list, name="list"),
    path("search/", views.member_search, name="search"),
    path("tags/", tag_views.tag_list, name="tags"),
    path("tags/<int:tag_id>/", tag_views.tag_edit, name="tag_edit"),
    path("new/", views.member_create, name="create"),
    path("export/", views.member_list_export, name="export"),
    path("import/", views_import.import_upload, name="import"),
    path("import/<int:pk>/", views_import.import_detail, name="import_detail"),
    path("import/<int:pk>/confirm/", views_import.import_confirm, name="import_confirm"),
    path("import/<int:pk>/mapping/", views_import.import_mapping, name="import_mapping"),
    path("privacy-requests/", privacy_views.privacy_queue, name="privacy_queue"),
    path("privacy-requests/<int:pk>/handle/", privacy_views.privacy_handle, name="privacy_handle"),
    path("<int:pk>/", views.member_detail, name="detail"),
    path("<int:pk>/edit/", views.member_edit, name="edit"),
    path("<int:pk>/duplicates/", views.member_duplicates, name="duplicates"),
    path("<int:pk>/reveal/<str:field>/", views.member_reveal, name="reveal"),
    path("<int:pk>/medical/", views.member_medical, name="medical"),
    path("<int:pk>/consents/", views.consent_add, name="consent_add"),
    path("<int:pk>/consents/<int:consent_id>/withdraw/", views.consent_withdraw, name="consent_withdraw"),
    path("<int:pk>/opt-out/", views.member_opt_out, name="opt_out"),
    path("<int:pk>/communications/", views.communication_add, name="communication_add"),
    path("<int:pk>/family/", views.family_add, name="family_add"),
    path("<int:pk>/family/<int:link_id>/remove/", views.family_remove, name="family_remove"),
    path("<int:pk>/receive/", views.member_receive, name="receive"),
    path("<int:pk>/merge/<int:other>/", views.member_merge, name="merge"),
    path("<int:pk>/erase/", views.member_erase, name="erase"),
    path("<int:pk>/data.<str:fmt>", views.member_data_export, name="data_export"),
]
