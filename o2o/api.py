"""API plumbing used by every app: pagination and the one JSON error format.

Errors are always `{"detail": message, "code": code, "errors": {field: [messages]}}`
with a 4xx status.
"""

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import Busy, DomainError


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 100


def _as_field_errors(detail):
    if isinstance(detail, dict):
        return {key: _as_list(value) for key, value in detail.items()}
    return {"non_field_errors": _as_list(detail)}


def _as_list(value):
    if isinstance(value, (list, tuple)):
        out = []
        for item in value:
            out.extend(_as_list(item) if isinstance(item, (list, tuple)) else [item])
        return [str(v) if not isinstance(v, dict) else v for v in out]
    if isinstance(value, dict):
        return [value]
    return [str(value)]


def _first_message(errors):
    for key, messages in errors.items():
        if messages:
            first = messages[0]
            text = first if isinstance(first, str) else str(first)
            return text if key == "non_field_errors" else f"{key}: {text}"
    return _("Invalid input.")


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        body = {"detail": exc.message, "code": exc.code, "errors": {}}
        if exc.field:
            body["errors"] = {exc.field: [exc.message]}
        body.update(exc.extra)
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, Busy) else None
        return Response(body, status=exc.status_code, headers=headers)
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = _as_field_errors(response.data)
        response.data = {"detail": _first_message(errors), "code": "invalid", "errors": errors}
        response.status_code = status.HTTP_400_BAD_REQUEST
    else:
        detail = response.data.get("detail", "") if isinstance(response.data, dict) else ""
        code = getattr(exc, "default_code", "error")
        if hasattr(exc, "get_codes"):
            codes = exc.get_codes()
            code = codes.get("detail", code) if isinstance(codes, dict) else codes
        response.data = {"detail": str(detail), "code": str(code), "errors": {}}
    return response
