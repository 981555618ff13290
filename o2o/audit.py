from django.contrib.contenttypes.models import ContentType

from .models import AuditEvent


def audit(action, subject, *, actor=None, ip=None, **data):
    """Record `action` on `subject`; call inside the transaction that makes the change."""
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    return AuditEvent.objects.create(
        action=action,
        actor=actor,
        content_type=ContentType.objects.get_for_model(subject),
        object_id=str(subject.pk),
        data={
            k: str(v) if not isinstance(v, (int, float, bool, type(None), list, dict)) else v for k, v in data.items()
        },
        ip=ip,
    )
