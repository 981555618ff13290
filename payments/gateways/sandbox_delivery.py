"""How the sandbox reaches the platform's notify endpoint: over HTTP, as an outside gateway
does (SANDBOX_DELIVERY=http), or through Django's request handling in-process when no web
address is reachable from the worker (the embedded default and tests). Both post the same
signed bytes to the same URL and view."""

import urllib.request
from urllib.parse import urlsplit

from django.conf import settings

from ..models import SandboxCharge
from .sandbox import build_notification


def deliver(*, charge_id, kind):
    charge = SandboxCharge.objects.get(pk=charge_id)
    body, headers = build_notification(charge, kind=kind)
    if settings.SANDBOX_DELIVERY == "http":
        request = urllib.request.Request(  # noqa: S310 - the platform's own notify URL
            charge.notify_url, data=body, headers={**headers, "Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            status = response.status
    else:
        from django.test import Client

        parts = urlsplit(charge.notify_url)
        client = Client(raise_request_exception=False, SERVER_NAME=parts.hostname or "localhost")
        response = client.post(
            parts.path,
            data=body,
            content_type="application/json",
            headers=headers,
            secure=parts.scheme == "https",
        )
        status = response.status_code
    if status >= 500:
        raise ConnectionError(f"notify endpoint answered {status}")
    return status
