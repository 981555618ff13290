"""The consumer-side merchant application (/merchants/apply/): one page that follows the state."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from o2o.errors import Conflict, Invalid
from o2o.images import ImageRejected

from . import services
from .forms import MerchantApplyForm
from .models import MerchantApplication, MerchantMember


@login_required
def apply(request):
    """Owner: a link to the console. Pending: "under review". Otherwise (new or rejected): the form."""
    owned = (
        MerchantMember.objects.filter(user=request.user, role=MerchantMember.Role.OWNER)
        .select_related("merchant")
        .order_by("pk")
        .first()
    )
    if owned is not None:
        return render(request, "merchants/apply_owner.html", {"membership": owned})

    latest = MerchantApplication.objects.filter(applicant=request.user).select_related("category").first()
    if latest is not None and latest.status == MerchantApplication.Status.PENDING:
        return render(request, "merchants/apply_pending.html", {"application": latest})

    rejected = latest if latest is not None and latest.status == MerchantApplication.Status.REJECTED else None
    initial = {}
    if rejected is not None:
        # Applying again usually means fixing one thing; keep what was typed last time.
        initial = {
            "business_name": rejected.business_name,
            "category": rejected.category_id,
            "contact_name": rejected.contact_name,
            "contact_phone": rejected.contact_phone,
        }
    form = MerchantApplyForm(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.merchant_apply(user=request.user, **form.cleaned_data)
        except ImageRejected as exc:
            form.add_service_error(exc, field="licence_image")
        except Invalid as exc:
            form.add_service_error(exc)
        except Conflict as exc:
            # Another tab already applied, or the user became an owner meanwhile: show that state.
            messages.error(request, exc.message)
            return redirect("merchants:apply")
        else:
            messages.success(request, _("Thank you! Your application has been sent for review."))
            return redirect("merchants:apply")

    staff_of = MerchantMember.objects.filter(user=request.user).select_related("merchant").order_by("pk").first()
    context = {"form": form, "rejected": rejected, "staff_of": staff_of}
    return render(request, "merchants/apply.html", context, status=400 if request.method == "POST" else 200)
