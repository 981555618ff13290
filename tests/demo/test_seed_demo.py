import io
import math
from decimal import Decimal

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone
from PIL import Image

from demo.seed import PHOTO_STORES, merchant_plan, plan_merchants
from merchants.models import Category, City, Merchant, MerchantMember, Store, StoreHours, StorePhoto

pytestmark = pytest.mark.django_db
User = get_user_model()

CENTRES = {"shanghai": (31.2304, 121.4737), "hangzhou": (30.2741, 120.1551), "chengdu": (30.5728, 104.0668)}


def seed_demo(*args):
    out = io.StringIO()
    call_command("seed_demo", "--force", *args, stdout=out)
    return out.getvalue()


def row_counts():
    return {model._meta.label: model._base_manager.count() for model in apps.get_models()}


def km(lat1, lng1, lat2, lng2):
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lng2 - lng1) / 2) ** 2
    return 2 * 6371 * math.asin(math.sqrt(a))


def first_merchant():
    return MerchantMember.objects.get(user__username="owner", role=MerchantMember.Role.OWNER).merchant


def test_seed_demo_refuses_when_debug_is_off():
    with pytest.raises(CommandError, match="--force"):
        call_command("seed_demo")
    assert not User.objects.exists()


def test_seed_demo_makes_the_promised_accounts_and_is_idempotent(capsys):
    call_command("seed_demo", "--force")
    out = capsys.readouterr().out
    for username in ("admin", "alice", "owner", "clerk"):
        assert username in out
        assert User.objects.get(username=username).check_password("demo12345")
    assert User.objects.get(username="admin").is_superuser
    assert "stores 60" in out
    counts = row_counts()
    assert counts["merchants.Store"] == 60
    assert counts["merchants.StorePhoto"] == 2 * PHOTO_STORES

    call_command("seed_demo", "--force")

    assert row_counts() == counts
    assert "Added 0 merchants, 0 stores and 0 photos" in capsys.readouterr().out


def test_owner_owns_the_first_merchant_and_clerk_works_there():
    seed_demo("--stores", "12")

    merchant = first_merchant()
    assert merchant.status == Merchant.Status.APPROVED
    assert merchant.stores.count() == 3
    roles = dict(merchant.members.values_list("user__username", "role"))
    assert roles == {"owner": MerchantMember.Role.OWNER, "clerk": MerchantMember.Role.CLERK}
    # Every other merchant has a generated owner of its own, who can sign in.
    for other in Merchant.objects.exclude(pk=merchant.pk):
        owner = other.members.get(role=MerchantMember.Role.OWNER).user
        assert owner.username.startswith("owner") and owner.username != "owner"
    assert User.objects.get(username="owner2").check_password("demo12345")


def test_three_cities_and_two_level_categories():
    seed_demo("--stores", "12")

    assert set(City.objects.values_list("slug", flat=True)) == {"shanghai", "hangzhou", "chengdu"}
    assert City.objects.get(slug="chengdu").name == "成都"
    tops = Category.objects.filter(parent=None)
    assert tops.count() == 7
    for top in tops:
        assert top.name and top.name_en and top.icon and top.review_aspects
        assert top.children.count() >= 2
    assert not Category.objects.filter(parent__parent__isnull=False).exists()  # two levels, no more
    hotpot = Category.objects.get(slug="hotpot")
    assert (hotpot.name, hotpot.parent.slug) == ("火锅", "food")
    assert hotpot.aspects == ["taste", "environment", "service"]
    assert Category.objects.get(slug="food").commission_rate == Decimal("0.0600")
    assert Category.objects.get(slug="beauty").commission_rate == Decimal("0.0800")
    # Every city has stores, each in a sub-category.
    for city in City.objects.all():
        assert city.stores.exists()
    assert not Store.objects.filter(category__parent=None).exists()


def test_stores_have_hours_and_coordinates_near_their_city():
    seed_demo("--stores", "12")

    stores = Store.objects.select_related("city", "merchant", "category__parent").prefetch_related("hours")
    assert len(stores) == 12
    for store in stores:
        lat, lng = CENTRES[store.city.slug]
        assert km(lat, lng, store.latitude, store.longitude) < 30
        assert len({h.weekday for h in store.hours.all()}) >= 5
        assert store.address and store.phone and store.avg_price > 0
        assert Decimal("3.50") <= store.rating <= Decimal("4.90")
        assert store.review_count > 0 and store.sales_count >= store.review_count
        assert store.search_text == store.build_search_text()
        assert store.merchant.name.lower() in store.search_text


def test_first_stores_have_a_jpeg_cover_without_exif():
    seed_demo("--stores", "12")

    for store in Store.objects.prefetch_related("photos"):
        photos = list(store.photos.all())
        assert len(photos) == 2
        assert [p.is_cover for p in photos] == [True, False]
        cover = store.cover
        with cover.image.open("rb") as f, Image.open(f) as img:
            assert img.format == "JPEG"
            assert (img.width, img.height) == (cover.width, cover.height)
            assert not img.getexif()
            assert "exif" not in img.info
        assert cover.thumbnail.storage.exists(cover.thumbnail.name)


def test_suspended_merchant_stores_are_not_discoverable():
    seed_demo("--stores", "12")

    suspended = Merchant.objects.get(status=Merchant.Status.SUSPENDED)
    assert suspended.status_reason
    assert suspended.stores.exists()
    discoverable = Store.objects.discoverable()
    assert not discoverable.filter(merchant=suspended).exists()
    assert discoverable.filter(merchant=first_merchant()).count() == 3


def test_more_stores_later_adds_only_the_missing_ones_deterministically():
    seed_demo("--stores", "5")
    before = list(Store.objects.order_by("pk").values_list("pk", "name", "latitude", "longitude"))
    counts = row_counts()

    out = seed_demo("--stores", "12")

    assert Store.objects.count() == 12
    assert list(Store.objects.order_by("pk").values_list("pk", "name", "latitude", "longitude"))[:5] == before
    assert "Added" in out and row_counts() != counts
    # Exactly the stores a single run would have made: the data depends on the seed only.
    today = timezone.localdate()
    expected = [spec.fields["name"] for shape in plan_merchants(1, 12) for spec in merchant_plan(1, shape, today)[1]]
    names = [
        name
        for shape in plan_merchants(1, 12)
        for name in Store.objects.filter(merchant__members__user__username=shape.owner_username)
        .order_by("pk")
        .values_list("name", flat=True)
    ]
    assert names == expected
    # A smaller number than what exists removes nothing and adds nothing.
    counts = row_counts()
    seed_demo("--stores", "3")
    assert row_counts() == counts


def test_another_seed_makes_other_stores():
    def plan(seed):
        today = timezone.localdate()
        return [merchant_plan(seed, shape, today) for shape in plan_merchants(seed, 20)]

    assert plan(1) == plan(1)
    assert plan(1) != plan(2)
    # A plan for more stores starts with the plan for fewer (whose last merchant may be cut short).
    small, big = plan_merchants(1, 10), plan_merchants(1, 200)
    assert small[:-1] == big[: len(small) - 1]
    assert small[-1].store_count <= big[len(small) - 1].store_count


def test_five_hundred_stores():
    out = seed_demo("--stores", "500")

    assert Store.objects.count() == 500
    assert "stores 500" in out
    assert not Store.objects.filter(hours__isnull=True).exists()
    assert StoreHours.objects.count() >= 500 * 5
    # Photos only for the first stores: generating them is what takes time.
    assert StorePhoto.objects.values("store").distinct().count() == PHOTO_STORES
    assert Merchant.objects.filter(status=Merchant.Status.SUSPENDED).count() == 1
    assert 0 < Store.objects.filter(is_published=False).count() < 50


def test_growing_with_another_seed_warns():
    seed_demo("--stores", "3")

    out = seed_demo("--stores", "6", "--seed", "2")

    assert "another --seed" in out
