"""The upload pipeline: what is accepted, what is refused, and what comes out."""

import io
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageCms

from o2o.errors import Invalid
from o2o.images import ImageRejected, make_placeholder_photo, process_upload

RED, BLUE, WHITE = (255, 0, 0), (0, 0, 255), (255, 255, 255)


def encode(img, fmt, **params):
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


def upload(data, name="photo.jpg", content_type="image/jpeg"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def two_halves(size, left=RED, right=BLUE):
    """An image whose left half is red and right half blue, to see where it ends up."""
    img = Image.new("RGB", size, right)
    img.paste(left, (0, 0, size[0] // 2, size[1]))
    return img


def opened(content_file):
    content_file.seek(0)
    img = Image.open(io.BytesIO(content_file.read()))
    img.load()
    return img


def near(pixel, color, tolerance=30):
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, color, strict=True))


def rejection(data, **limits):
    with pytest.raises(ImageRejected) as caught:
        process_upload(upload(data), **limits)
    return caught.value


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_accepted_formats_are_reencoded_as_jpeg(fmt):
    data = encode(two_halves((320, 240)), fmt)

    result = process_upload(upload(data, name=f"photo.{fmt.lower()}"))

    assert (result.width, result.height, result.format) == (320, 240, "JPEG")
    main, thumb = opened(result.main), opened(result.thumb)
    assert (main.format, main.mode, main.size) == ("JPEG", "RGB", (320, 240))
    assert thumb.format == "JPEG"
    assert near(main.getpixel((10, 120)), RED)
    assert near(main.getpixel((310, 120)), BLUE)


def test_files_get_random_names_with_a_jpg_extension():
    data = encode(two_halves((40, 30)), "PNG")

    first = process_upload(upload(data, name="../../etc/passwd.png"))
    second = process_upload(upload(data))

    assert first.name.endswith(".jpg") and len(first.name) == 32 + len(".jpg")
    assert first.thumb_name == first.name.replace(".jpg", "_thumb.jpg")
    assert (first.main.name, first.thumb.name) == (first.name, first.thumb_name)
    assert first.name != second.name


def test_phone_jpeg_with_preview_frames_is_accepted():
    # Many phones write JPEGs with an extra frame; Pillow calls them MPO.
    data = encode(Image.new("RGB", (60, 40), RED), "MPO", save_all=True, append_images=[Image.new("RGB", (60, 40))])

    result = process_upload(upload(data))

    assert near(opened(result.main).getpixel((30, 20)), RED)


@pytest.mark.parametrize("mode", ["L", "1", "P", "CMYK", "I;16"])
def test_other_colour_modes_come_out_rgb(mode):
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    data = encode(Image.new("RGB", (50, 50), WHITE).convert(mode), fmt)

    result = process_upload(upload(data))

    assert opened(result.main).mode == "RGB"


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_transparency_is_flattened_onto_white(fmt):
    img = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    img.paste((*RED, 255), (0, 0, 50, 100))
    data = encode(img, fmt, **({"lossless": True} if fmt == "WEBP" else {}))

    main = opened(process_upload(upload(data)).main)

    assert near(main.getpixel((20, 50)), RED)
    assert near(main.getpixel((80, 50)), WHITE)


def test_palette_transparency_is_flattened_onto_white():
    img = Image.new("P", (40, 40), 0)
    img.putpalette([0, 0, 0, *RED])
    img.paste(1, (0, 0, 20, 40))
    data = encode(img, "PNG", transparency=0)

    main = opened(process_upload(upload(data)).main)

    assert near(main.getpixel((5, 20)), RED)
    assert near(main.getpixel((35, 20)), WHITE)


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_animated_image_keeps_its_first_frame(fmt):
    frames = [Image.new("RGB", (64, 64), RED), Image.new("RGB", (64, 64), BLUE)]
    data = encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)

    main = opened(process_upload(upload(data)).main)

    assert near(main.getpixel((32, 32)), RED)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(encode(Image.new("RGB", (20, 20)), "GIF"), id="gif"),
        pytest.param(encode(Image.new("RGB", (20, 20)), "BMP"), id="bmp"),
        pytest.param(encode(Image.new("RGB", (20, 20)), "TIFF"), id="tiff"),
        pytest.param(b"just some text, not a picture\n" * 10, id="text"),
        pytest.param(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n", id="pdf"),
        pytest.param(b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", id="svg"),
    ],
)
def test_other_formats_are_refused_whatever_the_name_says(data):
    with pytest.raises(ImageRejected) as caught:
        process_upload(upload(data, name="photo.jpg", content_type="image/jpeg"))

    assert caught.value.code == "image_format"


def test_rejection_is_an_invalid_domain_error_with_a_message():
    error = rejection(encode(Image.new("RGB", (20, 20)), "GIF"))

    assert isinstance(error, Invalid)
    assert error.status_code == 400
    assert error.message


def test_file_over_the_byte_limit_is_refused():
    data = encode(Image.effect_noise((200, 200), 64).convert("RGB"), "PNG")
    assert len(data) > 10_000

    assert rejection(data, max_bytes=10_000).code == "image_too_large"


def test_byte_limit_holds_when_the_upload_does_not_declare_its_size():
    data = encode(Image.effect_noise((200, 200), 64).convert("RGB"), "PNG")

    with pytest.raises(ImageRejected) as caught:
        process_upload(io.BytesIO(data), max_bytes=10_000)

    assert caught.value.code == "image_too_large"


def test_empty_file_is_refused():
    assert rejection(b"").code == "image_corrupt"


@pytest.fixture(scope="module")
def huge_png():
    """20000x20000 pixels in about 50 KB: decoded as RGB it would take 1.2 GB."""
    return encode(Image.new("1", (20_000, 20_000)), "PNG")


def test_pixel_bomb_is_refused_from_its_header(huge_png):
    assert len(huge_png) < 100_000

    started = time.perf_counter()
    error = rejection(huge_png)

    assert error.code == "image_too_many_pixels"
    assert time.perf_counter() - started < 2  # decoding it would take far longer


def test_pixel_limit_is_configurable():
    data = encode(Image.new("1", (7_000, 7_000)), "PNG")  # 49 megapixels, a few KB

    assert rejection(data).code == "image_too_many_pixels"
    assert rejection(encode(Image.new("RGB", (100, 100)), "PNG"), max_pixels=9_999).code == "image_too_many_pixels"


def test_pillow_bomb_warning_is_refused_even_with_a_lax_limit():
    # 100 megapixels is past Pillow's own warning threshold; a caller raising max_pixels must
    # not turn the warning into a decode.
    data = encode(Image.new("1", (10_000, 10_000)), "PNG")

    assert rejection(data, max_pixels=10**12).code == "image_too_many_pixels"


def test_pillow_bomb_error_is_refused_even_with_a_lax_limit(huge_png):
    assert rejection(huge_png, max_pixels=10**12).code == "image_too_many_pixels"


def test_truncated_jpeg_is_refused():
    data = encode(Image.effect_noise((400, 300), 64).convert("RGB"), "JPEG")

    assert rejection(data[: len(data) // 2]).code == "image_corrupt"


def test_truncated_png_is_refused():
    data = encode(Image.effect_noise((400, 300), 64).convert("RGB"), "PNG")

    assert rejection(data[: len(data) // 2]).code == "image_corrupt"


def test_png_with_a_damaged_chunk_is_refused():
    data = bytearray(encode(Image.effect_noise((100, 100), 64).convert("RGB"), "PNG"))
    idat = data.index(b"IDAT")
    data[idat + 50 : idat + 60] = b"\x00" * 10

    assert rejection(bytes(data)).code == "image_corrupt"


def test_metadata_is_removed_and_orientation_applied():
    # given a 200x100 phone photo, meant to be shown turned a quarter clockwise, with GPS data
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    exif[0x010F] = "PhoneMaker"
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (39.0, 54.0, 27.0), 3: "E", 4: (116.0, 23.0, 50.0)})
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encode(two_halves((200, 100)), "JPEG", exif=exif, icc_profile=icc, comment=b"shot at home")
    source = Image.open(io.BytesIO(data))
    assert source.getexif().get_ifd(0x8825)  # the test photo really carries all of it
    assert {"icc_profile", "comment"} <= set(source.info)

    # when
    result = process_upload(upload(data))

    # then no metadata is left, and the picture stands upright with its left side on top
    for content in (result.main, result.thumb):
        out = opened(content)
        assert not out.getexif()
        assert not {"exif", "comment", "icc_profile", "xmp"} & set(out.info)
    main = opened(result.main)
    assert main.size == (100, 200) == (result.width, result.height)
    assert near(main.getpixel((50, 20)), RED)
    assert near(main.getpixel((50, 180)), BLUE)
    assert b"PhoneMaker" not in result.main.read()


def test_large_image_is_scaled_down_keeping_its_shape():
    data = encode(two_halves((4000, 2000)), "JPEG")

    result = process_upload(upload(data), max_side=2048, thumb_side=480)

    assert (result.width, result.height) == (2048, 1024)
    assert opened(result.main).size == (2048, 1024)
    assert opened(result.thumb).size == (480, 240)


def test_tall_image_is_limited_by_its_height():
    data = encode(Image.new("RGB", (1000, 3000), RED), "PNG")

    result = process_upload(upload(data), max_side=1500, thumb_side=300)

    assert (result.width, result.height) == (500, 1500)
    assert opened(result.thumb).size == (100, 300)


def test_small_image_is_never_upscaled():
    data = encode(Image.new("RGB", (300, 200), RED), "PNG")

    result = process_upload(upload(data))

    assert (result.width, result.height) == (300, 200)
    assert opened(result.thumb).size == (300, 200)


def test_placeholder_is_a_jpeg_of_the_requested_size():
    content = make_placeholder_photo(7, "Sunny Noodle House", size=(640, 480))

    img = opened(content)
    assert (img.format, img.size) == ("JPEG", (640, 480))
    assert content.name.endswith(".jpg")
    assert len(img.resize((16, 12)).getcolors()) > 1  # not a flat colour


def test_placeholder_is_the_same_for_the_same_seed_and_differs_otherwise():
    first = make_placeholder_photo(1, "阳光面馆").read()

    assert make_placeholder_photo(1, "阳光面馆").read() == first
    assert make_placeholder_photo(2, "阳光面馆").read() != first


def test_placeholder_passes_the_upload_pipeline():
    result = process_upload(make_placeholder_photo(3, "A rather long shop name that must still fit", size=(800, 600)))

    assert (result.width, result.height) == (800, 600)
