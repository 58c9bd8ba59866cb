"""Forms check the shape of input only; the services enforce the rules."""

from __future__ import annotations

from collections.abc import Iterable

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from clinic.errors import DomainError
from clinic.fields import BirthDateField, LongTextField, ShortTextField

from .models import (
    MEDICAL_CONDITIONS,
    AcquisitionChannel,
    CommChannel,
    ConsentChannel,
    ConsentKind,
    Direction,
    Gender,
    ImportJob,
    ImportProfile,
    Member,
    Relation,
    Stage,
    Tag,
)


class BootstrapMixin:
    def _style(self):
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput | forms.CheckboxSelectMultiple):
                widget.attrs.setdefault("class", "form-check-input")
            elif isinstance(widget, forms.Select | forms.SelectMultiple):
                widget.attrs.setdefault("class", "form-select")
            else:
                widget.attrs.setdefault("class", "form-control")


class SearchForm(forms.Form):
    q = ShortTextField(label=_("Search"), required=False, max_length=50)


class MemberFilterForm(BootstrapMixin, forms.Form):
    stage = forms.ChoiceField(
        label=_("Stage"), required=False, choices=[("", _("All stages")), *Stage.choices]
    )
    channel = forms.ModelChoiceField(
        label=_("Acquisition channel"),
        queryset=AcquisitionChannel.objects.none(),
        required=False,
        empty_label=_("All channels"),
    )
    tag = forms.ModelChoiceField(
        label=_("Tag"), queryset=Tag.objects.none(), required=False, empty_label=_("All tags")
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].queryset = AcquisitionChannel.objects.all()
        self.fields["tag"].queryset = Tag.objects.all()
        self._style()


def _consultants():
    return get_user_model().objects.filter(staff__role__in=["consultant", "branch_manager"], is_active=True)


class MemberForm(BootstrapMixin, forms.Form):
    name = ShortTextField(label=_("Name"), max_length=50)
    phone = ShortTextField(label=_("Mobile phone"), max_length=30, required=False)
    gender = forms.ChoiceField(label=_("Gender"), choices=Gender.choices, required=False)
    birth_date = BirthDateField(label=_("Birth date"), required=False)
    id_number = ShortTextField(
        label=_("ID number"),
        max_length=18,
        required=False,
        help_text=_("Optional. Birth date and gender are taken from it."),
    )
    stage = forms.ChoiceField(label=_("Stage"), choices=Stage.choices, initial=Stage.LEAD)
    channel = forms.ModelChoiceField(
        label=_("Acquisition channel"), queryset=AcquisitionChannel.objects.none(), required=False
    )
    consultant = forms.ModelChoiceField(label=_("Consultant"), queryset=None, required=False)
    tags = forms.ModelMultipleChoiceField(
        label=_("Tags"), queryset=Tag.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )
    wechat_id = ShortTextField(label=_("WeChat ID"), max_length=50, required=False)
    email = ShortTextField(label=_("E-mail address"), max_length=254, required=False)
    other_contacts = ShortTextField(label=_("Other contacts"), max_length=200, required=False)
    address = ShortTextField(label=_("Address"), max_length=255, required=False)
    occupation = ShortTextField(label=_("Occupation"), max_length=50, required=False)
    notes = LongTextField(label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    allow_duplicate = forms.BooleanField(
        label=_("Register anyway: this is a different person (e.g. a family member sharing the phone)"),
        required=False,
    )

    def __init__(self, *args, editing: bool = False, extensions: Iterable = (), user=None, **kwargs):
        super().__init__(*args, **kwargs)
        # Fields higher apps add to registration (members.registry.RegistrationField).
        self.extensions = list(extensions)
        self.user = user
        self.extra_values: dict = {}
        for ext in self.extensions:
            self.fields[ext.name] = ext.field()
        self.fields["channel"].queryset = AcquisitionChannel.objects.filter(is_active=True)
        self.fields["consultant"].queryset = _consultants()
        self.fields["consultant"].label_from_instance = lambda u: getattr(
            getattr(u, "staff", None), "full_name", u.username
        )
        self.fields["tags"].queryset = Tag.objects.all()
        if editing:
            del self.fields["allow_duplicate"]
        self._style()
        self.fields["phone"].widget.attrs.update({"inputmode": "tel", "autocomplete": "off"})

    def clean(self):
        cleaned = super().clean()
        for ext in self.extensions:
            value = cleaned.get(ext.name)
            if value in (None, ""):
                continue
            try:
                self.extra_values[ext.name] = ext.resolve(value, self.user)
            except DomainError as exc:
                self.add_error(ext.name, exc.message)
        return cleaned

    @property
    def extension_fields(self) -> list:
        return [self[ext.name] for ext in self.extensions]

    def member_data(self) -> dict:
        """What ``member_register`` takes as keyword arguments (not the extensions)."""
        skip = {"tags", "allow_duplicate", *(ext.name for ext in self.extensions)}
        return {k: v for k, v in self.cleaned_data.items() if k not in skip}

    def show_masked(self, member: Member) -> None:
        """Editing: the phone, e-mail and ID number are never sent to the browser in full (that would be
        an unaudited reveal). Their masked forms are placeholders; left blank, they stay."""
        from clinic.phones import mask_email, mask_phone

        keep = _("leave blank to keep")
        if member.phone:
            self.fields["phone"].widget.attrs["placeholder"] = f"{mask_phone(member.phone)} ({keep})"
        if member.email:
            self.fields["email"].widget.attrs["placeholder"] = f"{mask_email(member.email)} ({keep})"
        if member.id_number_masked:
            self.fields["id_number"].widget.attrs["placeholder"] = f"{member.id_number_masked} ({keep})"
            self.fields["id_number"].help_text = ""

    @staticmethod
    def initial_from(member: Member) -> dict:
        return {
            "name": member.name,
            "gender": member.gender,
            "birth_date": member.birth_date,
            "stage": member.stage,
            "channel": member.channel_id,
            "consultant": member.consultant_id,
            "tags": list(member.tags.values_list("pk", flat=True)),
            "wechat_id": member.wechat_id,
            "other_contacts": member.other_contacts,
            "address": member.address,
            "occupation": member.occupation,
            "notes": member.notes,
        }


class MedicalForm(BootstrapMixin, forms.Form):
    allergies = LongTextField(
        label=_("Drug allergies"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    conditions = forms.MultipleChoiceField(
        label=_("Systemic conditions"),
        choices=MEDICAL_CONDITIONS,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    dental_history = LongTextField(
        label=_("Dental history"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._style()


class ConsentForm(BootstrapMixin, forms.Form):
    kind = forms.ChoiceField(label=_("Consent"), choices=ConsentKind.choices)
    channel = forms.ChoiceField(label=_("How it was given"), choices=ConsentChannel.choices)
    guardian = forms.ModelChoiceField(label=_("Guardian"), queryset=Member.objects.none(), required=False)
    note = ShortTextField(label=_("Note"), max_length=200, required=False)

    def __init__(self, *args, member: Member, **kwargs):
        super().__init__(*args, **kwargs)
        guardians = member.family_links.filter(is_guardian=True).values_list("relative_id", flat=True)
        self.fields["guardian"].queryset = Member.objects.filter(pk__in=list(guardians))
        self._style()


class CommunicationForm(BootstrapMixin, forms.Form):
    channel = forms.ChoiceField(label=_("Channel"), choices=CommChannel.choices)
    direction = forms.ChoiceField(label=_("Direction"), choices=Direction.choices)
    summary = LongTextField(label=_("Summary"), widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._style()


class FamilyLinkForm(BootstrapMixin, forms.Form):
    relative = forms.IntegerField(label=_("Relative (record number)"), min_value=1)
    relation = forms.ChoiceField(label=_("The relative is this person's"), choices=Relation.choices)
    is_guardian = forms.BooleanField(label=_("Guardian"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._style()


class EraseForm(BootstrapMixin, forms.Form):
    reason = ShortTextField(
        label=_("The request"),
        help_text=_("Who asked, when and how (e.g. 本人到店书面申请 2026-05-01)."),
        max_length=300,
    )
    confirm = forms.BooleanField(label=_("I have checked the person's identity"), required=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._style()


class ImportUploadForm(BootstrapMixin, forms.Form):
    file = forms.FileField(label=_("Spreadsheet (.xlsx, .xls or .csv)"))
    source = forms.ModelChoiceField(
        label=_("Source system"),
        queryset=ImportProfile.objects.all(),
        required=False,
        empty_label=_("Recognise from the file's columns"),
        help_text=_("The old system the file comes from, if its column mapping was saved before."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._style()

    def clean_file(self):
        f = self.cleaned_data["file"]
        if not f.name.lower().endswith((".xlsx", ".xls", ".csv")):
            raise forms.ValidationError(_("Upload an .xlsx, .xls or .csv file."))
        if f.size > 50 * 1024 * 1024:
            raise forms.ValidationError(_("The file is larger than 50 MB."))
        return f


class ImportMappingForm(BootstrapMixin, forms.Form):
    """The mapping step: a select of our fields (or "ignore") for every header the importer
    does not know, and a select of our values for every value it does not read (old tier
    names), offered pre-filled from the job's mapping or a saved source system."""

    source = ShortTextField(
        label=_("Source system"),
        max_length=60,
        help_text=_(
            "The old system this file comes from, e.g. 旧系统A: the mapping is saved under this name and offered next time."
        ),
    )

    def __init__(self, *args, job: ImportJob, **kwargs):
        super().__init__(*args, **kwargs)
        from . import importer

        self.info = importer.unmapped(job)
        profiles = sorted(ImportProfile.objects.all(), key=lambda p: p.pk != job.profile_id)
        if job.profile_id:
            self.fields["source"].initial = job.profile.name
        choices = importer.field_choices()
        self.labels = dict(choices)
        saved_headers = job.mapping.get("headers", {})
        saved_values = job.mapping.get("values", {})
        self.header_names: list[tuple[str, str]] = []
        for i, header in enumerate(self.info.get("headers", [])):
            name = f"h{i}"
            initial = saved_headers.get(header["key"]) or next(
                (p.headers[header["key"]] for p in profiles if p.headers.get(header["key"])), ""
            )
            samples = "、".join(header.get("samples", []))
            self.fields[name] = forms.ChoiceField(
                label=header["label"],
                choices=[("", _("— Ignore this column —")), *choices],
                required=False,
                initial=initial,
                help_text=(_("For example: %(values)s") % {"values": samples}) if samples else "",
            )
            self.header_names.append((name, header["key"]))
        maps = importer.value_maps()
        self.value_names: list[tuple[str, str, str]] = []
        self.value_groups: list[tuple[str, list[str]]] = []
        for target, values in self.info.get("values", {}).items():
            vmap = maps.get(target)
            if vmap is None:
                continue
            group = []
            for value in values:
                name = f"v{len(self.value_names)}"
                initial = saved_values.get(target, {}).get(value) or next(
                    (p.values[target][value] for p in profiles if p.values.get(target, {}).get(value)), ""
                )
                self.fields[name] = forms.ChoiceField(
                    label=value, choices=[("", _("— Choose —")), *vmap.choices], initial=initial
                )
                self.value_names.append((name, target, value))
                group.append(name)
            self.value_groups.append((self.labels.get(target, target), group))
        self._style()

    def header_rows(self):
        return [self[name] for name, _key in self.header_names]

    def value_rows(self):
        return [(label, [self[name] for name in names]) for label, names in self.value_groups]

    def clean(self):
        data = super().clean()
        taken = dict.fromkeys(self.info.get("known", []))
        headers = {}
        for name, key in self.header_names:
            target = data.get(name) or ""
            if target and target in taken:
                self.add_error(
                    name,
                    _(
                        "%(field)s is already taken by another column; map this one to another field or ignore it."
                    )
                    % {"field": self.labels.get(target, target)},
                )
            taken[target or f"ignore:{key}"] = name
            headers[key] = target
        if not self.info.get("key_column") and not {"name", "phone"} & set(headers.values()):
            raise forms.ValidationError(
                _(
                    "Map one column to 姓名 (name) or 手机号 (phone): the importer needs one of them to know who a row is."
                )
            )
        values: dict[str, dict[str, str]] = {}
        for name, target, value in self.value_names:
            if data.get(name):
                values.setdefault(target, {})[value] = data[name]
        self.mapping = {"headers": headers, "values": values}
        return data


class PrivacyHandleForm(BootstrapMixin, forms.Form):
    note = LongTextField(
        label=_("What was done"),
        help_text=_("e.g. erased on 2026-05-03; or restricted: medical records kept until 2040-01-10."),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
