"""Check, clean and resize uploaded photos: store photos, licence scans, review photos.

Every upload is decoded by Pillow and re-encoded from its pixels, so what is stored is never the
bytes the user sent: no EXIF (GPS position, camera serial), no ICC profile, no comments, no
trailing payloads. Output is always JPEG, because these are photos and scans with no need for
transparency, and JPEG opens everywhere the files travel (browsers, e-mail, the admin, a
merchant's download folder); transparent areas are flattened onto white.

The limits are checked from the cheapest to the most expensive: byte size before reading the
image, pixel count from the header before decoding it, then the decode itself.
"""

import functools
import io
import random
import struct
import uuid
import warnings
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.utils.translation import gettext
from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

from o2o.errors import Invalid

# What Pillow detects, not what the name or content type claims. Phones write JPEGs with
# extra preview frames that Pillow reports as MPO; they are JPEGs to users.
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")
_DETECTED_AS_ACCEPTED = {"JPEG", "MPO", "PNG", "WEBP"}

# Errors Pillow raises on truncated or malformed data, depending on the format and the stage.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error)


class ImageRejected(Invalid):
    """The upload is not an image this platform stores; `code` says why."""


@dataclass(frozen=True)
class ProcessedImage:
    main: ContentFile
    thumb: ContentFile
    width: int
    height: int
    format: str
    name: str
    thumb_name: str


def process_upload(
    uploaded_file,
    *,
    max_bytes=8 * 1024 * 1024,
    max_pixels=40_000_000,
    max_side=2048,
    thumb_side=480,
    quality=85,
) -> ProcessedImage:
    """Return a clean JPEG (longest side <= max_side) and its thumbnail, or raise ImageRejected."""
    data = _read_at_most(uploaded_file, max_bytes)

    # Image.open warns, then fails, past its own global pixel limit; turn the warning into an
    # error so a bomb is refused instead of being decoded. catch_warnings is process-wide state,
    # but the header check below refuses lower counts first, so this is only a backstop.
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            # verify() checks the structure (PNG chunk CRCs, for instance) without decoding, and
            # leaves the image unusable: open once to verify, once more to decode.
            with _open(data, max_pixels) as source:
                source.verify()
            with _open(data, max_pixels) as source:
                img = _decode(source, max_side)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise _too_many_pixels(max_pixels) from None
        except _DECODE_ERRORS:
            raise ImageRejected(gettext("The image file is damaged or incomplete."), code="image_corrupt") from None

    img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)  # never upscales
    thumb = img.copy()
    thumb.thumbnail((thumb_side, thumb_side), Image.Resampling.LANCZOS)

    stem = uuid.uuid4().hex
    name, thumb_name = f"{stem}.jpg", f"{stem}_thumb.jpg"
    return ProcessedImage(
        main=ContentFile(_encode_jpeg(img, quality), name=name),
        thumb=ContentFile(_encode_jpeg(thumb, quality), name=thumb_name),
        width=img.width,
        height=img.height,
        format="JPEG",
        name=name,
        thumb_name=thumb_name,
    )


def _read_at_most(uploaded_file, max_bytes):
    """Read the whole upload, refusing it as soon as it is known to be over max_bytes."""
    too_large = ImageRejected(
        gettext("The image is larger than %(limit)s MB.") % {"limit": f"{max_bytes / (1024 * 1024):g}"},
        code="image_too_large",
    )
    size = getattr(uploaded_file, "size", None)
    if size is not None and size > max_bytes:
        raise too_large
    if hasattr(uploaded_file, "seek"):
        uploaded_file.seek(0)
    # Read one byte past the limit: the declared size may be missing or wrong.
    data = uploaded_file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise too_large
    if not data:
        raise ImageRejected(gettext("The file is empty."), code="image_corrupt")
    return data


def _open(data, max_pixels):
    """Open lazily (header only) and check the format and pixel count before any decoding."""
    try:
        # Restricting the parsers tried also keeps exotic-format parsers away from user bytes.
        img = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except UnidentifiedImageError:
        raise _bad_format() from None
    if img.format not in _DETECTED_AS_ACCEPTED:
        img.close()
        raise _bad_format()
    if img.width * img.height > max_pixels:
        img.close()
        raise _too_many_pixels(max_pixels)
    return img


def _decode(img, max_side):
    """Decode the first frame, upright, as plain RGB with no metadata attached."""
    if img.format in ("JPEG", "MPO"):
        # A JPEG can be decoded directly at 1/2, 1/4 or 1/8 scale: far less memory for a big
        # camera photo. draft() never goes below the size asked for, so quality is kept.
        scale = max_side / max(img.size)
        if scale < 1:
            img.draft(None, (max(1, int(img.width * scale)), max(1, int(img.height * scale))))
    img.load()  # the first frame of an animation; later frames are ignored
    img = ImageOps.exif_transpose(img)

    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        img = flat
    elif img.mode != "RGB":
        img = img.convert("RGB")
    # convert() and paste keep `info`; JPEG save would copy a comment from it. Keep nothing.
    img.info.clear()
    return img


def _encode_jpeg(img, quality):
    buf = io.BytesIO()
    # No exif=, icc_profile= or comment= argument: the output carries pixels only.
    img.save(buf, "JPEG", quality=quality, optimize=True, progressive=True)
    return buf.getvalue()


def _bad_format():
    return ImageRejected(gettext("Upload a JPEG, PNG or WebP image."), code="image_format")


def _too_many_pixels(max_pixels):
    return ImageRejected(
        gettext("The image is larger than %(limit)s megapixels.") % {"limit": f"{max_pixels / 1_000_000:g}"},
        code="image_too_many_pixels",
    )


# Demo data may carry Chinese names, which Pillow's bundled font cannot draw. Use a CJK font
# when the system has one (Pillow searches the system font folders for a bare file name).
_CJK_FONTS = ("NotoSansCJK-Regular.ttc", "NotoSansSC-Regular.otf", "wqy-microhei.ttc", "wqy-zenhei.ttc")


@functools.lru_cache(maxsize=32)
def _font(size):
    for name in _CJK_FONTS:
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    try:
        return ImageFont.load_default(size=size)
    except (ImportError, OSError):  # Pillow built without FreeType: fixed-size bitmap font
        return ImageFont.load_default()


def make_placeholder_photo(seed: int, text: str, size=(800, 600)) -> ContentFile:
    """Return a generated JPEG (gradient, soft circles, the text centred) for demo data."""
    rnd = random.Random(seed)
    width, height = size
    hue = rnd.random()
    top = _hsv_color(hue, 0.45, 0.95)
    bottom = _hsv_color((hue + rnd.uniform(0.08, 0.2)) % 1, 0.65, 0.7)

    mask = Image.linear_gradient("L").resize(size)
    img = Image.composite(Image.new("RGB", size, bottom), Image.new("RGB", size, top), mask).convert("RGBA")

    shapes = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(shapes)
    for _ in range(rnd.randint(4, 8)):
        r = rnd.randint(min(size) // 10, min(size) // 3)
        x, y = rnd.randint(0, width), rnd.randint(0, height)
        color = (*_hsv_color(rnd.random(), 0.3, 1.0), rnd.randint(40, 90))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=color)
    img = Image.alpha_composite(img, shapes).convert("RGB")

    draw = ImageDraw.Draw(img)
    font_size = max(12, height // 8)
    while True:  # shrink the text until it fits with a margin
        font = _font(font_size)
        left, upper, right, lower = draw.textbbox((0, 0), text, font=font)
        if right - left <= width * 0.9 or font_size <= 12:
            break
        font_size = int(font_size * 0.85)
    x = (width - (right - left)) / 2 - left
    y = (height - (lower - upper)) / 2 - upper
    draw.text((x + 2, y + 2), text, font=font, fill=(0, 0, 0))  # shadow, for contrast on light colours
    draw.text((x, y), text, font=font, fill=(255, 255, 255))

    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85, optimize=True)
    return ContentFile(buf.getvalue(), name=f"placeholder-{seed}.jpg")


def _hsv_color(h, s, v):
    pixel = Image.new("HSV", (1, 1), (int(h * 255), int(s * 255), int(v * 255))).convert("RGB")
    return pixel.getpixel((0, 0))
