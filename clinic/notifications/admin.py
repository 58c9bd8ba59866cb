"""Admin for message templates (with a render preview), the outbox (read-only, resend),
and opt-outs. Writes go through services so they are audited."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from clinic.admin import AuditedAdmin, BranchScopedMixin, ClinicAdmin

from . import services
from .errors import NotificationError, TemplateRenderError
from .models import ContactCap, InboundMessage, MessageTemplate, OptOut, Outbox, Status
from .rendering import render_template, variables
from .selectors import mask_recipient


class MessageTemplateForm(forms.ModelForm):
    sample_params = forms.JSONField(
        label=_("Preview with"),
        required=False,
        help_text=_('Sample values for a preview, e.g. {"name": "张三", "start": "5月6日 10:00"}.'),
    )

    class Meta:
        model = MessageTemplate
        fields = [
            "key",
            "channel",
            "language",
            "name",
            "is_active",
            "subject",
            "body",
            "aliyun_template_code",
            "aliyun_sign_name",
            "tencent_template_id",
            "tencent_sign_name",
            "tencent_param_order",
            "wechat_template_id",
            "wechat_fields",
            "wechat_page",
        ]

    def clean(self):
        data = super().clean()
        body, subject = data.get("body") or "", data.get("subject") or ""
        known = set(variables(body)) | set(variables(subject))
        wechat_fields = data.get("wechat_fields") or {}
        if not isinstance(wechat_fields, dict):
            self.add_error(
                "wechat_fields",
                _('Enter an object of WeChat field names and variables, e.g. {"thing1": "name"}.'),
            )
            wechat_fields = {}
        for var in wechat_fields.values():
            if var not in known:
                self.add_error("wechat_fields", _("%(name)s is not a variable of the body.") % {"name": var})
        for var in filter(None, (v.strip() for v in (data.get("tencent_param_order") or "").split(","))):
            if var not in known:
                self.add_error(
                    "tencent_param_order", _("%(name)s is not a variable of the body.") % {"name": var}
                )
        sample = data.get("sample_params")
        if sample is not None and body:
            if not isinstance(sample, dict):
                self.add_error("sample_params", _("Message parameters must map names to values."))
            else:
                probe = MessageTemplate(
                    body=body, subject=subject, language=data.get("language") or "zh-hans"
                )
                try:
                    self.preview = render_template(probe, sample)
                except TemplateRenderError as exc:
                    # A missing variable is an error here, never a message with a hole in it.
                    self.add_error("sample_params", exc.message)
        return data


@admin.register(MessageTemplate)
class MessageTemplateAdmin(AuditedAdmin):
    form = MessageTemplateForm
    # The key is what the code sends by; staff read the template's label (clinic.labels).
    list_display = ["template_name", "channel", "language", "name", "is_active", "updated_at"]
    list_filter = ["channel", "language", "is_active"]
    search_fields = ["key", "name", "body"]
    readonly_fields = ["variable_list"]
    fieldsets = [
        (None, {"fields": ["key", "channel", "language", "name", "is_active"]}),
        (_("Text"), {"fields": ["subject", "body", "variable_list", "sample_params"]}),
        (_("Aliyun SMS"), {"fields": ["aliyun_template_code", "aliyun_sign_name"]}),
        (
            _("Tencent Cloud SMS"),
            {"fields": ["tencent_template_id", "tencent_sign_name", "tencent_param_order"]},
        ),
        (_("WeChat"), {"fields": ["wechat_template_id", "wechat_fields", "wechat_page"]}),
    ]

    @admin.display(description=_("template"))
    def template_name(self, obj):
        return obj.template_label

    @admin.display(description=_("variables"))
    def variable_list(self, obj):
        return ", ".join(variables(f"{obj.subject} {obj.body}")) if obj and obj.pk else "—"

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        preview = getattr(form, "preview", None)
        if preview is not None:
            messages.info(request, _("Preview: %(text)s") % {"text": preview.body})


class ResendPermissionMixin:
    def has_resend_permission(self, request) -> bool:
        return request.user.has_perm("notifications.resend_outbox")


@admin.register(Outbox)
class OutboxAdmin(BranchScopedMixin, ResendPermissionMixin, ClinicAdmin):
    list_display = [
        "id",
        "created_at",
        "template_name",
        "channel",
        "masked_recipient",
        "purpose",
        "status",
        "attempts",
        "sent_at",
    ]
    list_filter = ["status", "channel", "purpose", ("created_at", admin.DateFieldListFilter), "branch"]
    search_fields = ["dedupe_key", "template_key", "provider_message_id"]
    date_hierarchy = "created_at"
    list_select_related = ["branch"]
    actions = ["resend_failed"]
    show_full_result_count = False
    exclude = ["recipient", "claim_token"]
    readonly_fields = [
        "dedupe_key",
        "channel",
        "masked_recipient",
        "template_name",
        "language",
        "params",
        "purpose",
        "consent_ref",
        "branch",
        "status",
        "attempts",
        "not_before",
        "next_attempt_at",
        "claimed_at",
        "last_error",
        "provider_message_id",
        "body",
        "created_by",
        "created_at",
        "sent_at",
    ]

    @admin.display(description=_("recipient"))
    def masked_recipient(self, obj):
        return mask_recipient(obj.channel, obj.recipient)

    @admin.display(description=_("template"), ordering="template_key")
    def template_name(self, obj):
        return obj.template_label

    @admin.action(description=_("Send the selected failed messages again"), permissions=["resend"])
    def resend_failed(self, request, queryset):
        done = 0
        for row in queryset.filter(status__in=[Status.FAILED, Status.SKIPPED]):
            try:
                services.outbox_resend(actor=request.user, message=row)
                done += 1
            except NotificationError as exc:
                messages.error(request, exc.message)
        messages.success(
            request,
            ngettext("%(count)d message queued again.", "%(count)d messages queued again.", done)
            % {"count": done},
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(OptOut)
class OptOutAdmin(ClinicAdmin):
    list_display = ["channel", "masked_recipient", "scope", "reason", "created_at"]
    list_filter = ["channel", "scope"]
    search_fields = ["recipient", "reason"]
    fields = ["channel", "recipient", "scope", "reason"]

    @admin.display(description=_("recipient"))
    def masked_recipient(self, obj):
        return mask_recipient(obj.channel, obj.recipient)

    def save_model(self, request, obj, form, change):
        try:
            saved = services.optout_set(
                actor=request.user,
                channel=obj.channel,
                recipient=obj.recipient,
                scope=obj.scope,
                reason=obj.reason,
            )
        except NotificationError as exc:
            messages.error(request, exc.message)
            raise
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        services.optout_remove(actor=request.user, channel=obj.channel, recipient=obj.recipient)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


@admin.register(InboundMessage)
class InboundMessageAdmin(ClinicAdmin):
    """Replies people sent to our SMS (opt-out keywords already acted on). Read-only."""

    list_display = ["received_at", "masked_sender", "text", "kind", "provider"]
    list_filter = ["kind", "provider"]
    search_fields = ["sender", "text"]
    fields = ["received_at", "channel", "provider", "sender", "text", "kind"]

    @admin.display(description=_("sender"))
    def masked_sender(self, obj):
        return mask_recipient(obj.channel, obj.sender)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ContactCap)
class ContactCapAdmin(AuditedAdmin):
    """HQ's contact cap (one row)."""

    list_display = ["__str__", "limit", "days", "is_active", "updated_at"]

    def has_add_permission(self, request):
        return super().has_add_permission(request) and not ContactCap.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False
