"""A merchant's people see and change only their own merchant's stores: anything else is a 404."""

import datetime as dt
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from merchants import services
from merchants.models import MerchantMember, Store, StoreClosedDate, StoreHours, StorePhoto
from o2o.errors import Invalid
from tests.factories.merchants import MemberFactory, StoreFactory

pytestmark = pytest.mark.django_db


def photo_upload():
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 120, 200)).save(buf, "PNG")
    return SimpleUploadedFile("p.png", buf.getvalue(), content_type="image/png")


@pytest.fixture
def theirs():
    """Merchant B's store, with hours, a closed date and two photos."""
    store = StoreFactory(name="B's store")
    services.store_closed_date_add(store=store, date=timezone.localdate() + dt.timedelta(days=3), note="B's holiday")
    services.store_photo_add(store=store, upload=photo_upload(), caption="B cover")
    services.store_photo_add(store=store, upload=photo_upload(), caption="B second")
    return store


def snapshot(store):
    """Everything a console page could change about a store."""
    store = Store.objects.get(pk=store.pk)
    return (
        (store.name, store.address, store.is_published, store.merchant_id),
        list(StoreHours.objects.filter(store=store).values_list("weekday", "opens", "closes")),
        list(StoreClosedDate.objects.filter(store=store).values_list("date", "note")),
        list(StorePhoto.objects.filter(store=store).values_list("pk", "caption", "is_cover")),
    )


def store_pages(store):
    photo = store.photos.order_by("pk").last()
    return {
        "edit": f"/merchant/stores/{store.pk}/",
        "hours": f"/merchant/stores/{store.pk}/hours/",
        "closed dates": f"/merchant/stores/{store.pk}/closed-dates/",
        "closed date remove": f"/merchant/stores/{store.pk}/closed-dates/remove/",
        "photos": f"/merchant/stores/{store.pk}/photos/",
        "photo cover": f"/merchant/stores/{store.pk}/photos/{photo.pk}/cover/",
        "photo delete": f"/merchant/stores/{store.pk}/photos/{photo.pk}/delete/",
    }


def hostile_post(store, page):
    """What a member of another merchant might send to each page."""
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    return {
        "edit": {
            "name": "Hijacked",
            "city": store.city_id,
            "category": store.category_id,
            "address": "Elsewhere",
            "latitude": "31",
            "longitude": "121",
            "avg_price": "1",
        },
        "hours": {f"day_{day}": "" for day in range(7)},
        "closed dates": {"date": tomorrow, "note": "Closed by a stranger"},
        "closed date remove": {"date": (timezone.localdate() + dt.timedelta(days=3)).isoformat()},
        "photos": {"image": photo_upload(), "caption": "Planted"},
    }.get(page, {})


@pytest.mark.parametrize("role", [MerchantMember.Role.OWNER, MerchantMember.Role.MANAGER])
@pytest.mark.parametrize("method", ["get", "post"])
def test_member_of_another_merchant_gets_404_and_changes_nothing(client, theirs, role, method):
    mine = StoreFactory(name="A's store")
    client.force_login(MemberFactory(merchant=mine.merchant, role=role).user)
    before = snapshot(theirs)

    for page, url in store_pages(theirs).items():
        data = hostile_post(theirs, page) if method == "post" else None
        response = getattr(client, method)(url, data) if data is not None else getattr(client, method)(url)
        assert response.status_code == 404, f"{method.upper()} {page}"

    assert snapshot(theirs) == before


def test_own_photo_under_another_merchants_store_id_is_a_404(client, theirs):
    """A photo id is only looked up inside the member's own store, whatever ids are combined."""
    mine = StoreFactory(name="A's store")
    client.force_login(MemberFactory(merchant=mine.merchant).user)
    their_photo = theirs.photos.first()

    response = client.post(f"/merchant/stores/{mine.pk}/photos/{their_photo.pk}/delete/")

    assert response.status_code == 404
    assert StorePhoto.objects.filter(pk=their_photo.pk).exists()


def test_other_merchants_stores_are_not_listed(client, theirs):
    mine = StoreFactory(name="A's store")
    client.force_login(MemberFactory(merchant=mine.merchant).user)

    for url in ["/merchant/", "/merchant/stores/"]:
        page = client.get(url).content.decode()
        assert "A&#x27;s store" in page and "B&#x27;s store" not in page, url


def test_manager_assigned_to_one_store_cannot_reach_the_others(client):
    assigned = StoreFactory(name="Branch 1")
    other = StoreFactory(merchant=assigned.merchant, name="Branch 2")
    manager = MemberFactory(merchant=assigned.merchant, role=MerchantMember.Role.MANAGER)
    manager.stores.add(assigned)
    client.force_login(manager.user)

    assert client.get(f"/merchant/stores/{assigned.pk}/").status_code == 200
    assert client.get(f"/merchant/stores/{other.pk}/hours/").status_code == 404
    assert client.get("/merchant/stores/new/").status_code == 403
    assert "Branch 2" not in client.get("/merchant/stores/").content.decode()


def test_service_refuses_to_save_another_merchants_store(theirs):
    mine = StoreFactory(name="A's store")

    with pytest.raises(Invalid):
        services.store_save(merchant=mine.merchant, store=theirs, acting_user=None, name="Hijacked")

    theirs.refresh_from_db()
    assert theirs.name == "B's store"
