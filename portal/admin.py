from __future__ import annotations

from django.contrib import admin

from clinic.admin import ReadOnlyAdmin

from .models import LoginCode, WeChatIdentity


@admin.register(LoginCode)
class LoginCodeAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "created_at", "expires_at", "attempts", "consumed_at", "sent", "ip_address")
    list_filter = ("sent",)
    exclude = ("code_hash",)


@admin.register(WeChatIdentity)
class WeChatIdentityAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "app_id", "created_at", "last_login_at")
