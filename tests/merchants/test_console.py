"""The merchant console pages for the merchant and its stores: who may open them, what they save."""

import datetime as dt
import io
import threading
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone, translation
from PIL import Image

from merchants import services
from merchants.forms import StoreHoursForm, parse_day_hours
from merchants.models import MerchantMember, Store, StoreClosedDate, StoreHours, StorePhoto
from o2o.errors import Invalid
from o2o.models import AuditEvent
from tests.factories.merchants import CityFactory, MemberFactory, MerchantFactory, StoreFactory

pytestmark = pytest.mark.django_db

OWNER, MANAGER, CLERK = MerchantMember.Role.OWNER, MerchantMember.Role.MANAGER, MerchantMember.Role.CLERK
T = dt.time


def photo_upload(name="photo.jpg", fmt="JPEG", size=(640, 480), color=(200, 40, 40), **save_params):
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, fmt, **save_params)
    return SimpleUploadedFile(name, buf.getvalue(), content_type=f"image/{fmt.lower()}")


@pytest.fixture
def merchant():
    return MerchantFactory(name="Noodle House")


@pytest.fixture
def member_of(merchant):
    def make(role, **kwargs):
        return MemberFactory(merchant=merchant, role=role, **kwargs)

    return make


@pytest.fixture
def owner_client(client, member_of):
    client.force_login(member_of(OWNER).user)
    return client


@pytest.fixture
def store(merchant):
    return StoreFactory(merchant=merchant, name="Noodle House Jing'an")


def store_form(store_or_city, category, **overrides):
    data = {
        "name": "Noodle House Xuhui",
        "city": store_or_city.pk,
        "category": category.pk,
        "address": "88 Hengshan Road",
        "latitude": "31.2050",
        "longitude": "121.4460",
        "phone": "021-6234 5678",
        "description": "Hand-pulled noodles.",
        "tags": "noodles，late night, noodles",
        "avg_price": "45.50",
        "is_published": "on",
    }
    data.update(overrides)
    return data


# --- who may open what -------------------------------------------------------------------------

CONSOLE_PAGES = ["/merchant/", "/merchant/profile/", "/merchant/stores/", "/merchant/stores/new/"]


@pytest.mark.parametrize("url", CONSOLE_PAGES)
def test_anonymous_visitors_are_sent_to_sign_in(client, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response.url.startswith("/accounts/sign-in/?next=")


@pytest.mark.parametrize("url", CONSOLE_PAGES)
def test_consumer_without_membership_gets_a_refusal_page(client, user_factory, url):
    client.force_login(user_factory())

    response = client.get(url, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 403
    assert "This page is for merchant staff." in response.content.decode()


def test_clerk_opens_home_but_not_profile_or_stores(client, member_of, store):
    client.force_login(member_of(CLERK).user)

    assert client.get("/merchant/").status_code == 200
    for url in ["/merchant/profile/", "/merchant/stores/", "/merchant/stores/new/", f"/merchant/stores/{store.pk}/"]:
        assert client.get(url).status_code == 403, url
    response = client.post(f"/merchant/stores/{store.pk}/", store_form(store.city, store.category, name="Clerk's"))
    assert response.status_code == 403
    store.refresh_from_db()
    assert store.name == "Noodle House Jing'an"


def test_clerk_nav_shows_only_what_a_clerk_may_open(client, member_of):
    client.force_login(member_of(CLERK).user)

    page = client.get("/merchant/").content.decode()

    assert "/merchant/profile/" not in page and "/merchant/stores/" not in page


@pytest.mark.parametrize("role", [OWNER, MANAGER])
def test_owner_and_manager_open_profile_and_stores(client, member_of, store, role):
    client.force_login(member_of(role).user)

    for url in ["/merchant/", "/merchant/profile/", "/merchant/stores/", f"/merchant/stores/{store.pk}/"]:
        assert client.get(url).status_code == 200, url


def test_suspended_merchant_console_still_opens_and_says_why(client, member_of, merchant):
    client.force_login(member_of(OWNER).user)
    services.merchant_suspend(merchant=merchant, reason="Licence expired", acting_user=None)

    response = client.get("/merchant/", HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    assert "Licence expired" in response.content.decode()


# --- home and the merchant switcher -----------------------------------------------------------------


def test_home_without_stores_invites_to_add_one(owner_client):
    page = owner_client.get("/merchant/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "No stores yet." in page
    assert "/merchant/stores/new/" in page


def test_home_lists_stores_with_a_summary(owner_client, store, merchant):
    StoreFactory(merchant=merchant, name="Hidden branch", is_published=False)

    response = owner_client.get("/merchant/", HTTP_ACCEPT_LANGUAGE="en")

    page = response.content.decode()
    assert "Noodle House Jing&#x27;an" in page and "Hidden branch" in page
    assert "1 of 2 stores published." in page


def test_member_of_two_merchants_switches_between_them(client, user_factory, merchant):
    user = user_factory()
    MemberFactory(user=user, merchant=merchant, role=OWNER)
    other = MemberFactory(user=user, merchant=MerchantFactory(name="Tea Corner"), role=CLERK).merchant
    client.force_login(user)
    assert "Tea Corner" in client.get("/merchant/").content.decode()  # the switcher lists both

    response = client.post("/merchant/switch/", {"merchant": other.pk}, follow=True)

    assert response.context["request"].merchant == other
    assert client.get("/merchant/profile/").status_code == 403  # a clerk at Tea Corner


@pytest.mark.parametrize("value", ["", "abc", "999999"])
def test_switching_to_a_merchant_one_does_not_work_for_is_a_404(client, member_of, value):
    client.force_login(member_of(OWNER).user)

    assert client.post("/merchant/switch/", {"merchant": value}).status_code == 404


def test_switching_to_someone_elses_merchant_is_a_404(client, member_of):
    client.force_login(member_of(OWNER).user)
    stranger = MerchantFactory()

    assert client.post("/merchant/switch/", {"merchant": stranger.pk}).status_code == 404
    assert client.get("/merchant/").context["request"].merchant != stranger


# --- merchant profile --------------------------------------------------------------------------------


def test_owner_edits_profile_and_settlement_account(owner_client, merchant):
    data = {
        "name": "Noodle House Group",
        "description": "Since 1998.",
        "contact_name": "Wang",
        "contact_phone": "13900002222",
        "settlement_account_name": "Noodle House Ltd",
        "settlement_account_number": "6222 0200 1234 5678",
    }

    response = owner_client.post("/merchant/profile/", data, follow=True, HTTP_ACCEPT_LANGUAGE="en")

    merchant.refresh_from_db()
    assert merchant.name == "Noodle House Group"
    assert merchant.settlement_account_number == "6222020012345678"
    assert "Your merchant profile has been saved." in response.content.decode()
    assert AuditEvent.objects.filter(action="merchant.profile_updated", object_id=str(merchant.pk)).exists()


def test_manager_neither_sees_nor_changes_the_settlement_account(client, member_of, merchant):
    client.force_login(member_of(MANAGER).user)
    merchant.settlement_account_number = "1111"
    merchant.save()

    page = client.get("/merchant/profile/")
    assert "settlement_account_number" not in page.context["form"].fields
    assert "1111" not in page.content.decode()

    data = {
        "name": "Renamed",
        "contact_name": "Li",
        "contact_phone": "13900003333",
        "settlement_account_number": "9999",
    }
    client.post("/merchant/profile/", data)
    merchant.refresh_from_db()
    assert (merchant.name, merchant.settlement_account_number) == ("Renamed", "1111")


def test_profile_with_bad_input_is_refused_with_messages(owner_client, merchant):
    response = owner_client.post("/merchant/profile/", {"name": "", "contact_name": "Li", "contact_phone": "x"})

    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"name", "contact_phone"}
    merchant.refresh_from_db()
    assert merchant.name == "Noodle House"


# --- stores ----------------------------------------------------------------------------------------------


def test_stores_page_empty_state(owner_client):
    page = owner_client.get("/merchant/stores/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "No stores yet." in page


def test_create_store_then_set_hours(owner_client, merchant):
    city = CityFactory()

    response = owner_client.post("/merchant/stores/new/", store_form(city, merchant.category))

    store = Store.objects.get(merchant=merchant)
    assert response.status_code == 302 and response.url == f"/merchant/stores/{store.pk}/hours/"
    assert (store.name, store.tags, store.avg_price) == ("Noodle House Xuhui", "noodles, late night", Decimal("45.50"))
    assert store.is_published
    assert "noodle house xuhui" in store.search_text
    assert AuditEvent.objects.filter(action="store.saved", object_id=str(store.pk)).exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [("latitude", "abc"), ("latitude", "95"), ("longitude", "nan"), ("avg_price", "-1"), ("phone", "call me")],
)
def test_store_with_bad_input_shows_errors_and_saves_nothing(owner_client, merchant, field, value):
    city = CityFactory()

    response = owner_client.post("/merchant/stores/new/", store_form(city, merchant.category, **{field: value}))

    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert not Store.objects.exists()


def test_edit_store_saves_and_unpublishes(owner_client, store):
    data = store_form(store.city, store.category, name="Noodle House Jing'an 2F")
    del data["is_published"]

    response = owner_client.post(f"/merchant/stores/{store.pk}/", data, follow=True, HTTP_ACCEPT_LANGUAGE="en")

    store.refresh_from_db()
    assert (store.name, store.is_published) == ("Noodle House Jing'an 2F", False)
    assert "saved" in response.content.decode()
    assert store not in Store.objects.discoverable()


def test_invalid_edit_keeps_the_saved_name_in_the_header(owner_client, store):
    response = owner_client.post(f"/merchant/stores/{store.pk}/", store_form(store.city, store.category, name=""))

    assert response.status_code == 400
    assert response.context["store"].name == "Noodle House Jing'an"


# --- hours -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "spans"),
    [
        ("", []),
        ("10:00-22:00", [(T(10), T(22))]),
        ("17:00-02:00, 10:00-14:00", [(T(10), T(14)), (T(17), T(2))]),  # a break, and past midnight
        ("9:30–14:00；17:00~21:30", [(T(9, 30), T(14)), (T(17), T(21, 30))]),  # other dashes and separators
        ("00:00-24:00", [(T(0), T(0))]),  # all day
        ("10:00-14:00, 14:00-18:00", [(T(10), T(14)), (T(14), T(18))]),  # touching is not overlapping
    ],
)
def test_hours_parse(text, spans):
    assert parse_day_hours(text) == spans


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("10:00-14:00, 13:00-18:00", "10:00-14:00 and 13:00-18:00 overlap."),
        ("22:00-02:00, 23:00-23:30", "22:00-02:00 runs past midnight, so it overlaps 23:00-23:30"),
        ("25:00-26:00", "“25:00” is not a time of day"),
        ("10-14", "“10” is not a time"),
        ("morning", "“morning” is not an opening span"),
        ("10:00-10:00", "opens and closes at the same time"),
        ("10:00-22:00-23:00", "is not an opening span"),
    ],
)
def test_hours_parse_refuses_with_a_clear_message(text, message):
    with pytest.raises(ValidationError) as refused:
        parse_day_hours(text)

    with translation.override("en"):
        assert message in refused.value.messages[0]


@translation.override("en")
def test_overnight_hours_running_into_the_next_morning_are_refused(store):
    data = {f"day_{day}": "" for day in range(7)}
    data.update({"day_4": "18:00-03:00", "day_5": "02:00-05:00", "day_6": "10:00-22:00"})

    form = StoreHoursForm(data, store=store)

    assert not form.is_valid()
    assert list(form.errors) == ["day_5"]
    assert "Friday" in form.errors["day_5"][0]


def test_hours_page_shows_current_hours_and_saves_new_ones(owner_client, store):
    page = owner_client.get(f"/merchant/stores/{store.pk}/hours/")
    assert page.context["form"]["day_0"].value() == "10:00-22:00"

    data = {f"day_{day}": "11:00-14:00, 17:00-02:00" for day in range(4)}
    data.update({"day_4": "11:00-14:00", "day_5": "00:00-24:00", "day_6": ""})
    response = owner_client.post(f"/merchant/stores/{store.pk}/hours/", data)

    assert response.status_code == 302
    hours = [(h.weekday, h.opens, h.closes) for h in store.hours.all()]
    assert hours[:2] == [(0, T(11), T(14)), (0, T(17), T(2))]
    assert (5, T(0), T(0)) in hours
    assert not [h for h in hours if h[0] == 6]  # closed on Sunday
    # Sunday is closed, so Monday 01:00 is closed; Monday's late span covers Tuesday 01:00.
    monday_1am = dt.datetime(2025, 3, 3, 1, 0, tzinfo=store.tzinfo)
    tuesday_1am = dt.datetime(2025, 3, 4, 1, 0, tzinfo=store.tzinfo)
    store = Store.objects.get(pk=store.pk)
    assert not store.is_open_at(monday_1am)
    assert store.is_open_at(tuesday_1am)


def test_hours_page_with_bad_input_changes_nothing(owner_client, store):
    data = {f"day_{day}": "10:00-22:00" for day in range(7)}
    data["day_2"] = "10:00-14:00, 12:00-20:00"

    response = owner_client.post(f"/merchant/stores/{store.pk}/hours/", data, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 400
    assert "overlap" in response.context["form"].errors["day_2"][0]
    assert StoreHours.objects.filter(store=store).count() == 7


def test_hours_service_refuses_overlaps_across_midnight(store):
    with pytest.raises(Invalid):
        services.store_hours_set(store=store, hours={0: [(T(20), T(3))], 1: [(T(2), T(10))]})

    assert StoreHours.objects.filter(store=store).count() == 7


# --- closed dates -----------------------------------------------------------------------------------------


def test_closed_dates_add_and_remove(owner_client, store):
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    page = owner_client.get(f"/merchant/stores/{store.pk}/closed-dates/", HTTP_ACCEPT_LANGUAGE="en")
    assert "No closed dates coming up" in page.content.decode()

    owner_client.post(f"/merchant/stores/{store.pk}/closed-dates/", {"date": tomorrow.isoformat(), "note": "Holiday"})
    assert list(StoreClosedDate.objects.values_list("date", "note")) == [(tomorrow, "Holiday")]

    owner_client.post(f"/merchant/stores/{store.pk}/closed-dates/remove/", {"date": tomorrow.isoformat()})
    assert not StoreClosedDate.objects.exists()
    assert AuditEvent.objects.filter(action="store.closed_date_removed").count() == 1


def test_closed_date_in_the_past_is_refused(owner_client, store):
    response = owner_client.post(f"/merchant/stores/{store.pk}/closed-dates/", {"date": "2001-01-01"})

    assert response.status_code == 400
    assert "date" in response.context["form"].errors
    assert not StoreClosedDate.objects.exists()


@pytest.mark.parametrize("value", ["", "tomorrow", "2025-02-30"])
def test_removing_a_malformed_date_says_so(owner_client, store, value):
    response = owner_client.post(f"/merchant/stores/{store.pk}/closed-dates/remove/", {"date": value})

    assert response.status_code == 302


def test_closed_date_remove_needs_post(owner_client, store):
    assert owner_client.get(f"/merchant/stores/{store.pk}/closed-dates/remove/").status_code == 405


# --- photos ----------------------------------------------------------------------------------------------------


def photos_of(store):
    return list(StorePhoto.objects.filter(store=store).order_by("pk"))


def test_photo_upload_strips_exif_makes_a_thumbnail_and_becomes_the_cover(owner_client, store):
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x0131] = "PhotoSoftware 1.0"  # Software
    upload = photo_upload(size=(1600, 1200), exif=exif.tobytes())
    assert b"SecretCam" in upload.read()
    upload.seek(0)

    response = owner_client.post(
        f"/merchant/stores/{store.pk}/photos/", {"image": upload, "caption": " Storefront "}, follow=True
    )

    assert response.status_code == 200
    [photo] = photos_of(store)
    assert (photo.caption, photo.is_cover, photo.width, photo.height) == ("Storefront", True, 1600, 1200)
    saved_bytes = photo.image.read()
    assert b"SecretCam" not in saved_bytes and b"Exif" not in saved_bytes
    with Image.open(photo.image.path) as saved:
        assert not saved.getexif()
    with Image.open(photo.thumbnail.path) as thumb:
        assert max(thumb.size) <= 480
    assert photo.thumbnail.url in response.content.decode()


def test_set_cover_moves_it_and_deleting_the_cover_promotes_the_next(
    owner_client, store, django_capture_on_commit_callbacks
):
    for color in ((255, 0, 0), (0, 255, 0), (0, 0, 255)):
        owner_client.post(f"/merchant/stores/{store.pk}/photos/", {"image": photo_upload(color=color)})
    first, second, third = photos_of(store)
    assert [p.is_cover for p in (first, second, third)] == [True, False, False]

    owner_client.post(f"/merchant/stores/{store.pk}/photos/{third.pk}/cover/")
    assert [p.is_cover for p in photos_of(store)] == [False, False, True]

    files = [Path(third.image.path), Path(third.thumbnail.path)]
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(f"/merchant/stores/{store.pk}/photos/{third.pk}/delete/")
    assert [(p.pk, p.is_cover) for p in photos_of(store)] == [(first.pk, True), (second.pk, False)]
    assert store.cover == first
    assert not any(path.exists() for path in files)  # removed once the deletion committed


def test_upload_with_make_cover_takes_the_cover(owner_client, store):
    owner_client.post(f"/merchant/stores/{store.pk}/photos/", {"image": photo_upload()})
    owner_client.post(f"/merchant/stores/{store.pk}/photos/", {"image": photo_upload(), "make_cover": "on"})

    assert [p.is_cover for p in photos_of(store)] == [False, True]


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (SimpleUploadedFile("x.gif", b"GIF89a\0\0\0\0", content_type="image/gif"), "Upload a JPEG, PNG or WebP image."),
        (SimpleUploadedFile("x.jpg", b"\xff\xd8\xff\xe0 truncated", content_type="image/jpeg"), "damaged"),
    ],
    ids=["gif", "truncated"],
)
def test_refused_photo_shows_the_pipeline_message(owner_client, store, upload, message):
    response = owner_client.post(f"/merchant/stores/{store.pk}/photos/", {"image": upload}, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 400
    assert message in response.context["form"].errors["image"][0]
    assert not StorePhoto.objects.exists()


def test_photo_limit_is_explained(owner_client, store, monkeypatch):
    monkeypatch.setattr(services, "MAX_STORE_PHOTOS", 1)
    owner_client.post(f"/merchant/stores/{store.pk}/photos/", {"image": photo_upload()})

    response = owner_client.post(
        f"/merchant/stores/{store.pk}/photos/", {"image": photo_upload()}, HTTP_ACCEPT_LANGUAGE="en"
    )

    assert response.status_code == 400
    assert "at most 1 photos" in str(response.context["form"].non_field_errors())
    assert StorePhoto.objects.count() == 1


def test_photos_page_empty_state(owner_client, store):
    page = owner_client.get(f"/merchant/stores/{store.pk}/photos/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "No photos yet." in page


@pytest.mark.parametrize("action", ["cover", "delete"])
def test_photo_actions_need_post(owner_client, store, action):
    owner_client.post(f"/merchant/stores/{store.pk}/photos/", {"image": photo_upload()})
    [photo] = photos_of(store)

    assert owner_client.get(f"/merchant/stores/{store.pk}/photos/{photo.pk}/{action}/").status_code == 405
    assert StorePhoto.objects.filter(pk=photo.pk).exists()


def test_deleting_a_photo_twice_is_harmless(owner_client, store):
    owner_client.post(f"/merchant/stores/{store.pk}/photos/", {"image": photo_upload()})
    [photo] = photos_of(store)

    services.store_photo_delete(photo=photo)
    services.store_photo_delete(photo=photo)

    assert not StorePhoto.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_covers_chosen_at_once_leave_exactly_one_cover():
    store = StoreFactory()
    photos = [services.store_photo_add(store=store, upload=photo_upload(size=(40, 30))) for _ in range(3)]
    barrier, errors = threading.Barrier(2), []

    def choose(photo):
        try:
            barrier.wait()
            services.store_photo_set_cover(photo=photo)
        except Exception as exc:  # a unique-constraint violation would land here
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=choose, args=(photo,)) for photo in photos[1:]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert StorePhoto.objects.filter(store=store, is_cover=True).count() == 1
