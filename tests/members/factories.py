from __future__ import annotations

import factory

from clinic.models import Branch
from members import services
from members.idnumbers import check_char
from members.models import AcquisitionChannel, Member, Stage, Tag


def make_id_number(birth: str = "19900101", seq: int = 123, region: str = "310101") -> str:
    """A checksum-valid ID number; ``seq`` odd for men, even for women."""
    first17 = f"{region}{birth}{seq:03d}"
    return first17 + check_char(first17)


_phones = iter(range(10_000_000, 99_999_999))


def next_phone() -> str:
    return f"139{next(_phones):08d}"


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"标签{n}")


def channel(name: str = "大众点评") -> AcquisitionChannel:
    return AcquisitionChannel.objects.get(name=name)


def make_member(
    branch: Branch, *, name: str = "张三", phone: str | None = None, actor=None, **kwargs
) -> Member:
    """Register through the service, as the front desk would."""
    kwargs.setdefault("stage", Stage.PATIENT)
    return services.member_register(
        actor=actor,
        branch=branch,
        name=name,
        phone=next_phone() if phone is None else phone,
        allow_duplicate=kwargs.pop("allow_duplicate", True),
        **kwargs,
    )
