"""The domain errors every service raises; the API and pages map them to 4xx answers.

Each error carries a plain message for people and a stable `code` for programs
(`sold_out`, `min_spend_not_reached`, ...). `field` names the input at fault, if any.
"""


class DomainError(Exception):
    status_code = 400
    default_code = "invalid"

    def __init__(self, message, *, code=None, field=None, extra=None):
        super().__init__(message)
        self.message = str(message)
        self.code = code or self.default_code
        self.field = field
        self.extra = extra or {}


class Invalid(DomainError):
    """The request is malformed or breaks a rule of the thing asked for."""


class NotAllowed(DomainError):
    status_code = 403
    default_code = "not_allowed"


class NotFound(DomainError):
    status_code = 404
    default_code = "not_found"


class Conflict(DomainError):
    """The thing is in a state that forbids the change (already used, sold out...)."""

    status_code = 409
    default_code = "conflict"


class Gone(DomainError):
    """The thing existed but can no longer be used (expired, refunded)."""

    status_code = 410
    default_code = "gone"


class Busy(DomainError):
    """Too many attempts: try again after `retry_after` seconds."""

    status_code = 429
    default_code = "too_many_attempts"

    def __init__(self, message, *, retry_after=60, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after
