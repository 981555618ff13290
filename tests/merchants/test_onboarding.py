"""Applying to sell on the platform, the platform's decision, suspension and reinstatement."""

import io
import struct
import threading
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from PIL import Image

from merchants import services
from merchants.models import Merchant, MerchantApplication, MerchantMember, Store
from o2o.errors import Conflict, Invalid
from o2o.models import AuditEvent
from tests.factories.merchants import CategoryFactory, StoreFactory

pytestmark = pytest.mark.django_db

APPLY_URL = "/merchants/apply/"


def licence_png(name="licence.png", size=(120, 80)):
    buf = io.BytesIO()
    Image.new("RGB", size, (240, 240, 230)).save(buf, "PNG")
    return SimpleUploadedFile(name, buf.getvalue(), content_type="image/png")


def huge_png_header(width=40_000, height=40_000):
    """A PNG that claims 1.6 gigapixels in a few bytes: decoding it would exhaust memory."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    body = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    return SimpleUploadedFile("bomb.png", b"\x89PNG\r\n\x1a\n" + body, content_type="image/png")


@pytest.fixture
def category():
    return CategoryFactory(slug="food", name="美食", name_en="Food")


@pytest.fixture
def applicant(user_factory):
    return user_factory(username="ada")


def apply_form(category, **overrides):
    data = {
        "business_name": "Ada's Noodles",
        "category": category.pk,
        "contact_name": "Ada",
        "contact_phone": "13800001111",
        "licence_image": licence_png(),
    }
    data.update(overrides)
    return data


def apply_via_service(user, category, name="Ada's Noodles"):
    return services.merchant_apply(
        user=user,
        business_name=name,
        category=category,
        contact_name="Ada",
        contact_phone="13800001111",
        licence_image=licence_png(),
    )


# --- applying ----------------------------------------------------------------------------------


def test_apply_page_sends_anonymous_visitors_to_sign_in(client):
    response = client.get(APPLY_URL)

    assert response.status_code == 302
    assert response.url.startswith("/accounts/sign-in/") and "next=/merchants/apply/" in response.url


def test_apply_creates_a_pending_application_and_shows_under_review(client, applicant, category):
    client.force_login(applicant)

    response = client.post(APPLY_URL, apply_form(category), HTTP_ACCEPT_LANGUAGE="en", follow=True)

    application = MerchantApplication.objects.get(applicant=applicant)
    assert application.status == MerchantApplication.Status.PENDING
    assert application.merchant.status == Merchant.Status.APPLIED
    assert application.licence_image.name.endswith(".jpg")  # re-encoded by the pipeline
    page = response.content.decode()
    assert "Your application is under review" in page
    assert "Ada&#x27;s Noodles" in page
    assert AuditEvent.objects.filter(action="merchant.applied", object_id=str(application.merchant_id)).exists()


def test_pending_application_page_shows_the_submitted_date(client, applicant, category):
    application = apply_via_service(applicant, category)
    client.force_login(applicant)

    response = client.get(APPLY_URL, HTTP_ACCEPT_LANGUAGE="en")

    assert response.templates[0].name == "merchants/apply_pending.html"
    assert str(application.created_at.astimezone().year) in response.content.decode()


def test_second_application_while_pending_is_refused(client, applicant, category):
    apply_via_service(applicant, category)

    with pytest.raises(Conflict) as refused:
        apply_via_service(applicant, category, name="Second try")
    assert refused.value.code == "application_pending"

    client.force_login(applicant)
    client.post(APPLY_URL, apply_form(category, business_name="Third try"))
    assert MerchantApplication.objects.filter(applicant=applicant).count() == 1
    assert Merchant.objects.count() == 1


@pytest.mark.parametrize(
    ("make_upload", "message"),
    [
        (
            lambda: SimpleUploadedFile("licence.gif", b"GIF89a" + b"\0" * 40, content_type="image/gif"),
            "Upload a JPEG, PNG or WebP image.",
        ),
        (
            lambda: SimpleUploadedFile("licence.pdf", b"%PDF-1.4 not an image", content_type="application/pdf"),
            "Upload a JPEG, PNG or WebP image.",
        ),
        (
            lambda: SimpleUploadedFile("big.jpg", b"\xff\xd8" + b"\0" * (8 * 1024 * 1024), content_type="image/jpeg"),
            "larger than 8 MB",
        ),
        (huge_png_header, "megapixels"),
    ],
    ids=["gif", "pdf", "too-big", "pixel-bomb"],
)
def test_refused_licence_image_shows_the_pipeline_message_and_creates_nothing(
    client, applicant, category, make_upload, message
):
    client.force_login(applicant)

    response = client.post(APPLY_URL, apply_form(category, licence_image=make_upload()), HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 400
    assert message in response.context["form"].errors["licence_image"][0]
    assert not MerchantApplication.objects.exists()
    assert not Merchant.objects.exists()


def test_missing_fields_are_reported_without_creating_anything(client, applicant, category):
    client.force_login(applicant)

    response = client.post(APPLY_URL, {"business_name": " ", "category": "999", "contact_phone": "call me"})

    assert response.status_code == 400
    assert set(response.context["form"].errors) == {
        "business_name",
        "category",
        "contact_name",
        "contact_phone",
        "licence_image",
    }
    assert not Merchant.objects.exists()


def test_category_choice_lists_sub_categories_under_their_parent(client, applicant, category):
    CategoryFactory(slug="hotpot", name="火锅", name_en="Hotpot", parent=category)
    CategoryFactory(slug="beauty", name="丽人", name_en="Beauty", position=2)
    client.force_login(applicant)

    response = client.get(APPLY_URL, HTTP_ACCEPT_LANGUAGE="en")

    labels = [label for value, label in response.context["form"].fields["category"].choices if value]
    assert labels == ["Food", "Food › Hotpot", "Beauty"]


# --- the platform's decision -------------------------------------------------------------------


def test_approve_makes_the_applicant_owner_of_an_approved_merchant(admin_user, applicant, category):
    application = apply_via_service(applicant, category)

    services.merchant_application_approve(application=application, acting_user=admin_user)

    application.refresh_from_db()
    merchant = application.merchant
    merchant.refresh_from_db()
    assert application.status == MerchantApplication.Status.APPROVED
    assert (application.reviewed_by, merchant.status) == (admin_user, Merchant.Status.APPROVED)
    assert merchant.approved_at is not None
    assert MerchantMember.objects.get(user=applicant).role == MerchantMember.Role.OWNER


def test_approve_twice_is_harmless(admin_user, applicant, category):
    application = apply_via_service(applicant, category)

    services.merchant_application_approve(application=application, acting_user=admin_user)
    services.merchant_application_approve(application=application, acting_user=admin_user)

    assert MerchantMember.objects.filter(user=applicant).count() == 1
    assert AuditEvent.objects.filter(action="merchant.approved").count() == 1


def test_approved_applicant_gets_a_link_to_the_console(client, admin_user, applicant, category):
    application = apply_via_service(applicant, category)
    services.merchant_application_approve(application=application, acting_user=admin_user)
    client.force_login(applicant)

    response = client.get(APPLY_URL, HTTP_ACCEPT_LANGUAGE="en")

    assert "/merchant/" in response.content.decode()
    assert client.get("/merchant/").status_code == 200
    with pytest.raises(Conflict):
        apply_via_service(applicant, category, name="A second business")


@pytest.mark.parametrize("reason", ["", "   "])
def test_reject_requires_a_reason(admin_user, applicant, category, reason):
    application = apply_via_service(applicant, category)

    with pytest.raises(Invalid) as refused:
        services.merchant_application_reject(application=application, reason=reason, acting_user=admin_user)

    assert refused.value.code == "reason_required"
    application.refresh_from_db()
    assert application.status == MerchantApplication.Status.PENDING


def test_rejected_applicant_sees_the_reason_and_may_apply_again(client, admin_user, applicant, category):
    application = apply_via_service(applicant, category)
    services.merchant_application_reject(
        application=application, reason="The licence photo is blurred.", acting_user=admin_user
    )
    client.force_login(applicant)

    page = client.get(APPLY_URL, HTTP_ACCEPT_LANGUAGE="en")

    assert "The licence photo is blurred." in page.content.decode()
    assert page.context["form"].initial["business_name"] == "Ada's Noodles"
    client.post(APPLY_URL, apply_form(category))
    assert MerchantApplication.objects.filter(applicant=applicant, status="pending").count() == 1


def test_a_decided_application_cannot_be_decided_the_other_way(admin_user, applicant, category):
    application = apply_via_service(applicant, category)
    services.merchant_application_reject(application=application, reason="Not a real shop", acting_user=admin_user)

    with pytest.raises(Conflict):
        services.merchant_application_approve(application=application, acting_user=admin_user)

    assert not MerchantMember.objects.filter(user=applicant).exists()


def test_pending_applicant_cannot_open_the_console(client, applicant, category):
    apply_via_service(applicant, category)
    client.force_login(applicant)

    assert client.get("/merchant/").status_code == 403


# --- suspension -----------------------------------------------------------------------------------


def test_suspend_hides_the_merchants_stores_and_reinstate_restores_them(admin_user):
    store = StoreFactory()
    other = StoreFactory()
    merchant = store.merchant

    services.merchant_suspend(merchant=merchant, reason="Complaints under review", acting_user=admin_user)

    assert list(Store.objects.discoverable()) == [other]
    merchant.refresh_from_db()
    assert (merchant.status, merchant.status_reason) == (Merchant.Status.SUSPENDED, "Complaints under review")

    services.merchant_reinstate(merchant=merchant, acting_user=admin_user)

    assert set(Store.objects.discoverable()) == {store, other}
    merchant.refresh_from_db()
    assert (merchant.status, merchant.status_reason) == (Merchant.Status.APPROVED, "")


def test_suspend_requires_a_reason(admin_user):
    store = StoreFactory()

    with pytest.raises(Invalid):
        services.merchant_suspend(merchant=store.merchant, reason=" ", acting_user=admin_user)

    assert Store.objects.discoverable().count() == 1


def test_reinstating_an_applicant_does_not_approve_it(admin_user, applicant, category):
    application = apply_via_service(applicant, category)

    with pytest.raises(Conflict):
        services.merchant_reinstate(merchant=application.merchant, acting_user=admin_user)

    application.merchant.refresh_from_db()
    assert application.merchant.status == Merchant.Status.APPLIED
    assert not MerchantMember.objects.exists()


# --- races (PostgreSQL: real row locks) -------------------------------------------------------------


def run_at_once(*calls):
    """Run each call in its own thread and database connection, released together; return outcomes."""
    barrier = threading.Barrier(len(calls))
    outcomes = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            outcomes[index] = call()
        except Exception as exc:  # the outcome, whatever it is, is what the test inspects
            outcomes[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_applications_make_one_and_refuse_the_other(user_factory):
    user = user_factory(username="twin")
    category = CategoryFactory(slug="food")

    outcomes = run_at_once(*(lambda: apply_via_service(user, category) for _ in range(2)))

    assert sorted(type(o).__name__ for o in outcomes) == ["Conflict", "MerchantApplication"]
    assert MerchantApplication.objects.filter(applicant=user).count() == 1
    assert Merchant.objects.count() == 1
