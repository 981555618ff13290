"""Platform operations in Django admin: decisions and suspensions go through the services and are logged."""

import io
from decimal import Decimal

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from merchants import services
from merchants.models import Category, Merchant, MerchantApplication, MerchantMember, Store, StorePhoto
from o2o.models import AuditEvent
from tests.factories.merchants import CategoryFactory, MemberFactory, MerchantFactory, StoreFactory

pytestmark = pytest.mark.django_db

APPLICATIONS = "/admin/merchants/merchantapplication/"
MERCHANTS = "/admin/merchants/merchant/"
STORES = "/admin/merchants/store/"


def png(color=(230, 230, 220)):
    buf = io.BytesIO()
    Image.new("RGB", (80, 60), color).save(buf, "PNG")
    return SimpleUploadedFile("l.png", buf.getvalue(), content_type="image/png")


@pytest.fixture
def category():
    return CategoryFactory(slug="food", name="美食", name_en="Food")


@pytest.fixture
def application_of(user_factory, category):
    def make(name="Ada's Noodles", username=None):
        user = user_factory(**({"username": username} if username else {}))
        return services.merchant_apply(
            user=user,
            business_name=name,
            category=category,
            contact_name="Ada",
            contact_phone="13800001111",
            licence_image=png(),
        )

    return make


def run_action(client, url, action, objects, **extra):
    data = {"action": action, "_selected_action": [obj.pk for obj in objects], **extra}
    return client.post(url, data, HTTP_ACCEPT_LANGUAGE="en")


def logged(obj, text):
    return LogEntry.objects.filter(object_id=str(obj.pk), action_flag=CHANGE, change_message__contains=text).exists()


# --- applications ----------------------------------------------------------------------------


def test_application_list_has_thumbnails_filters_search_and_dates(admin_client, application_of):
    application_of("Ada's Noodles")
    application_of("Bo's Barbershop")

    response = admin_client.get(APPLICATIONS, {"q": "barber", "status__exact": "pending"})

    assert response.status_code == 200
    page = response.content.decode()
    assert "Bo&#x27;s Barbershop" in page and "Ada&#x27;s Noodles" not in page
    assert '<img src="/media/licences/' in page
    assert admin_client.get(APPLICATIONS, {"created_at__year": "2000"}).status_code == 200


def test_application_change_page_is_read_only_with_decision_buttons(admin_client, application_of):
    application = application_of()

    page = admin_client.get(f"{APPLICATIONS}{application.pk}/change/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert 'name="_save"' not in page
    assert 'value="approve_applications"' in page and 'value="reject_applications"' in page
    assert admin_client.get(f"{APPLICATIONS}add/").status_code == 403


def test_approve_action_makes_the_applicant_owner_and_logs_it(admin_client, admin_user, application_of):
    application = application_of()

    response = run_action(admin_client, APPLICATIONS, "approve_applications", [application])

    assert response.status_code == 302
    application.refresh_from_db()
    assert application.status == MerchantApplication.Status.APPROVED
    assert application.merchant.status == Merchant.Status.APPROVED
    assert MerchantMember.objects.get(merchant=application.merchant).user == application.applicant
    assert logged(application, "Approved")
    assert AuditEvent.objects.filter(action="merchant.approved", actor=admin_user).count() == 1


def test_approving_twice_through_admin_is_harmless(admin_client, application_of):
    application = application_of()

    run_action(admin_client, APPLICATIONS, "approve_applications", [application])
    response = run_action(admin_client, APPLICATIONS, "approve_applications", [application])

    assert response.status_code == 302
    assert MerchantMember.objects.count() == 1
    assert LogEntry.objects.filter(object_id=str(application.pk)).count() == 1


def test_reject_action_asks_for_a_reason_first(admin_client, application_of):
    application = application_of()

    response = run_action(admin_client, APPLICATIONS, "reject_applications", [application])

    assert response.status_code == 200
    assert "admin/merchants/action_reason.html" in [t.name for t in response.templates]
    application.refresh_from_db()
    assert application.status == MerchantApplication.Status.PENDING


def test_reject_without_a_reason_shows_the_page_again(admin_client, application_of):
    application = application_of()

    response = run_action(admin_client, APPLICATIONS, "reject_applications", [application], confirm="yes", reason=" ")

    assert response.status_code == 200
    assert response.context["form"].errors["reason"]
    application.refresh_from_db()
    assert application.status == MerchantApplication.Status.PENDING


def test_reject_with_a_reason_rejects_and_logs(admin_client, admin_user, application_of):
    first, second = application_of("One"), application_of("Two")

    response = run_action(
        admin_client, APPLICATIONS, "reject_applications", [first, second], confirm="yes", reason="Licence unreadable"
    )

    assert response.status_code == 302
    for application in (first, second):
        application.refresh_from_db()
        assert (application.status, application.decision_reason) == ("rejected", "Licence unreadable")
        assert application.reviewed_by == admin_user
        assert logged(application, "Licence unreadable")
    assert AuditEvent.objects.filter(action="merchant.rejected").count() == 2


def test_rejecting_an_approved_application_is_refused_with_a_message(admin_client, application_of):
    application = application_of()
    run_action(admin_client, APPLICATIONS, "approve_applications", [application])

    response = run_action(
        admin_client, APPLICATIONS, "reject_applications", [application], confirm="yes", reason="Changed my mind"
    )

    assert response.status_code == 302
    messages = [str(m) for m in response.wsgi_request._messages]
    assert any("already decided" in m for m in messages)
    application.refresh_from_db()
    assert application.status == MerchantApplication.Status.APPROVED


# --- merchants --------------------------------------------------------------------------------


def test_suspend_with_reason_and_reinstate(admin_client, admin_user):
    store = StoreFactory()
    merchant = store.merchant

    asked = run_action(admin_client, MERCHANTS, "suspend_merchants", [merchant])
    assert asked.status_code == 200 and "reason" in asked.context["form"].fields
    run_action(admin_client, MERCHANTS, "suspend_merchants", [merchant], confirm="yes", reason="Food safety check")

    merchant.refresh_from_db()
    assert (merchant.status, merchant.status_reason) == (Merchant.Status.SUSPENDED, "Food safety check")
    assert not Store.objects.discoverable().exists()
    assert logged(merchant, "Food safety check")
    assert AuditEvent.objects.filter(action="merchant.suspended", actor=admin_user).exists()

    run_action(admin_client, MERCHANTS, "reinstate_merchants", [merchant])

    merchant.refresh_from_db()
    assert merchant.status == Merchant.Status.APPROVED
    assert list(Store.objects.discoverable()) == [store]
    assert logged(merchant, "Reinstated")
    assert AuditEvent.objects.filter(action="merchant.reinstated", actor=admin_user).exists()


def test_reinstate_refuses_an_applicant(admin_client, application_of):
    application = application_of()

    run_action(admin_client, MERCHANTS, "reinstate_merchants", [application.merchant])

    application.merchant.refresh_from_db()
    assert application.merchant.status == Merchant.Status.APPLIED
    assert not LogEntry.objects.filter(object_id=str(application.merchant_id)).exists()


def test_merchant_change_form_edits_commission_but_not_status(admin_client, admin_user):
    merchant = MerchantFactory(name="Tea Corner", commission_rate=Decimal("0.0600"))
    MemberFactory(merchant=merchant)
    url = f"{MERCHANTS}{merchant.pk}/change/"
    page = admin_client.get(url)
    assert page.status_code == 200
    assert "status" not in page.context["adminform"].form.fields

    data = {
        "name": "Tea Corner",
        "description": "",
        "contact_name": "Contact",
        "contact_phone": "13800000000",
        "commission_rate": "0.0450",
        "settlement_account_name": "",
        "settlement_account_number": "",
        "status": "rejected",  # read-only: ignored
        "members-TOTAL_FORMS": "1",
        "members-INITIAL_FORMS": "1",
        "members-MIN_NUM_FORMS": "0",
        "members-MAX_NUM_FORMS": "1000",
        "members-0-id": str(merchant.members.get().pk),
        "members-0-merchant": str(merchant.pk),
    }
    response = admin_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    merchant.refresh_from_db()
    assert (merchant.commission_rate, merchant.status) == (Decimal("0.0450"), Merchant.Status.APPROVED)
    event = AuditEvent.objects.get(action="merchant.commission_rate_set")
    assert (event.actor, event.data["previous"], event.data["rate"]) == (admin_user, "0.0600", "0.0450")
    assert LogEntry.objects.filter(object_id=str(merchant.pk), action_flag=CHANGE).exists()


def test_merchant_list_filters_and_search(admin_client):
    MerchantFactory(name="Tea Corner")
    MerchantFactory(name="Noodle House", status=Merchant.Status.SUSPENDED)

    response = admin_client.get(MERCHANTS, {"status__exact": "suspended", "q": "noodle"})

    assert [m.name for m in response.context["cl"].result_list] == ["Noodle House"]


def test_merchants_cannot_be_added_or_deleted_in_admin(admin_client):
    merchant = MerchantFactory()

    assert admin_client.get(f"{MERCHANTS}add/").status_code == 403
    assert admin_client.post(f"{MERCHANTS}{merchant.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Merchant.objects.filter(pk=merchant.pk).exists()


# --- stores, categories, cities, audit -----------------------------------------------------------


def test_store_admin_lists_and_keeps_figures_read_only(admin_client):
    store = StoreFactory(name="Noodle House Jing'an")
    services.store_photo_add(store=store, upload=png())

    listing = admin_client.get(STORES, {"is_published__exact": "1", "q": "jing"})
    change = admin_client.get(f"{STORES}{store.pk}/change/")

    assert [s.pk for s in listing.context["cl"].result_list] == [store.pk]
    form_fields = change.context["adminform"].form.fields
    assert "rating" not in form_fields and "sales_count" not in form_fields and "merchant" not in form_fields
    assert store.photos.get().thumbnail.url in change.content.decode()


def test_unpublish_action_goes_through_the_store_service(admin_client, admin_user):
    store = StoreFactory()

    run_action(admin_client, STORES, "unpublish_stores", [store])

    store.refresh_from_db()
    assert not store.is_published
    assert AuditEvent.objects.filter(action="store.saved", actor=admin_user, object_id=str(store.pk)).exists()
    assert logged(store, "Unpublished")


def test_deleting_a_photo_in_the_store_admin_promotes_the_next_cover(admin_client):
    store = StoreFactory()
    cover = services.store_photo_add(store=store, upload=png())
    other = services.store_photo_add(store=store, upload=png((0, 0, 0)))
    change = admin_client.get(f"{STORES}{store.pk}/change/")
    data = _form_data(change)
    data["photos-0-DELETE"] = "on"

    response = admin_client.post(f"{STORES}{store.pk}/change/", data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert list(StorePhoto.objects.values_list("pk", "is_cover")) == [(other.pk, True)]
    assert not StorePhoto.objects.filter(pk=cover.pk).exists()


def _form_data(response):
    """The values a browser would submit from an admin change form (fields and inline management forms)."""
    form = response.context["adminform"].form
    data = {}
    for name in form.fields:
        value = form[name].value()
        if value is None or value is False:
            continue
        data[name] = "on" if value is True else str(value.pk if hasattr(value, "pk") else value)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for key, value in formset.management_form.initial.items():
            data[f"{formset.prefix}-{key}"] = str(value)
        for index, inline_form in enumerate(formset.forms):
            data[f"{formset.prefix}-{index}-id"] = str(inline_form.instance.pk)
            data[f"{formset.prefix}-{index}-store"] = str(inline_form.instance.store_id)
    return data


def test_category_admin_refuses_a_third_level(admin_client, category):
    child = CategoryFactory(slug="hotpot", parent=category)
    data = {
        "name": "重庆火锅",
        "name_en": "Chongqing hotpot",
        "slug": "chongqing-hotpot",
        "parent": child.pk,
        "position": "0",
        "review_aspects": '["taste"]',
    }

    response = admin_client.post("/admin/merchants/category/add/", data)

    assert response.status_code == 200
    assert "parent" in response.context["adminform"].form.errors
    assert not Category.objects.filter(slug="chongqing-hotpot").exists()


def test_category_admin_saves_aspects_and_commission(admin_client, category):
    data = {
        "name": "丽人",
        "name_en": "Beauty",
        "slug": "beauty",
        "position": "2",
        "icon": "💅",
        "review_aspects": '["skill", "environment"]',
        "commission_rate": "0.0800",
    }

    response = admin_client.post("/admin/merchants/category/add/", data)

    assert response.status_code == 302
    beauty = Category.objects.get(slug="beauty")
    assert (beauty.review_aspects, beauty.commission_rate) == (["skill", "environment"], Decimal("0.0800"))
    assert admin_client.get("/admin/merchants/category/", {"level": "top"}).status_code == 200
    assert admin_client.get("/admin/merchants/city/").status_code == 200


def test_audit_trail_is_listed_read_only(admin_client, admin_user):
    store = StoreFactory()
    services.merchant_suspend(merchant=store.merchant, reason="Check", acting_user=admin_user)
    event = AuditEvent.objects.get(action="merchant.suspended")

    listing = admin_client.get("/admin/o2o/auditevent/", {"q": "merchant.suspended"})
    detail = admin_client.get(f"/admin/o2o/auditevent/{event.pk}/change/")

    assert listing.status_code == 200 and f"/admin/merchants/merchant/{store.merchant_id}/change/" in (
        listing.content.decode()
    )
    assert detail.status_code == 200 and 'name="_save"' not in detail.content.decode()
    assert admin_client.post(f"/admin/o2o/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()
