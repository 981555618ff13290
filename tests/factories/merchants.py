import datetime as dt
from decimal import Decimal

import factory

from merchants.models import Category, City, Merchant, MerchantMember, Store, StoreHours


class CityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = City
        django_get_or_create = ("slug",)

    slug = "shanghai"
    name = "上海"
    name_en = "Shanghai"
    latitude = 31.2304
    longitude = 121.4737


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"category-{n}")
    name = factory.Sequence(lambda n: f"分类{n}")
    name_en = factory.Sequence(lambda n: f"Category {n}")


class MerchantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Merchant

    name = factory.Sequence(lambda n: f"Merchant {n}")
    category = factory.SubFactory(CategoryFactory)
    status = Merchant.Status.APPROVED
    contact_name = "Contact"
    contact_phone = "13800000000"
    commission_rate = Decimal("0.0600")


class MemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MerchantMember

    user = factory.SubFactory("tests.factories.accounts.UserFactory")
    merchant = factory.SubFactory(MerchantFactory)
    role = MerchantMember.Role.OWNER


class StoreFactory(factory.django.DjangoModelFactory):
    """A published store open 10:00-22:00 every day."""

    class Meta:
        model = Store
        skip_postgeneration_save = True

    merchant = factory.SubFactory(MerchantFactory)
    name = factory.Sequence(lambda n: f"Store {n}")
    city = factory.SubFactory(CityFactory)
    category = factory.LazyAttribute(lambda s: s.merchant.category)
    address = "1 Nanjing Road"
    latitude = 31.2304
    longitude = 121.4737
    avg_price = Decimal("80.00")
    is_published = True

    @factory.post_generation
    def open_hours(obj, create, extracted, **kwargs):
        if not create:
            return
        obj.search_text = obj.build_search_text()
        obj.save(update_fields=["search_text"])
        if extracted is False:
            return
        StoreHours.objects.bulk_create(
            StoreHours(store=obj, weekday=d, opens=dt.time(10), closes=dt.time(22)) for d in range(7)
        )
