import segno
from django import template
from django.utils.safestring import mark_safe

from o2o.codes import grouped

register = template.Library()


@register.simple_tag
def qr_svg(data, scale=4):
    """An inline SVG QR code of `data`, drawn on the server (no script, no outside service)."""
    return mark_safe(segno.make(str(data), error="m", micro=False).svg_inline(scale=scale, border=2, omitsize=True))  # noqa: S308


@register.filter
def code_groups(code):
    return grouped(code)
