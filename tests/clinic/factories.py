from __future__ import annotations

from decimal import Decimal

import factory

from clinic.models import Branch, ServiceCategory, ServiceItem


class BranchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Branch
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"B{n:02d}")
    name = factory.Sequence(lambda n: f"测试门店{n}")
    address = "上海市静安区南京西路 1 号"
    phone = "+862162881234"


class ServiceCategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServiceCategory
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"CAT{n}")
    name = factory.Sequence(lambda n: f"类别{n}")
    is_basic_care = False


class ServiceItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServiceItem
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"IT{n:03d}")
    name = factory.Sequence(lambda n: f"项目{n}")
    category = factory.SubFactory(ServiceCategoryFactory)
    price = Decimal("280.00")
    duration_minutes = 30
