"""Image attachments: check they decode, and hand the model PNG or JPEG bytes."""

import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

from components.log_example_gen import quarantine

# tf.io.decode_image (in the Transform and serving graphs) reads PNG and JPEG; everything
# else is transcoded here once rather than in every graph that touches the image.
_KEPT_FORMATS = {"PNG", "JPEG"}
_KEPT_MODES = {"RGB", "L"}
# Larger pictures are downscaled: the model sees 224x224, and this bounds example size.
MAX_IMAGE_SIDE = 2048
# Decompression-bomb guard (PIL's own default is 89 M pixels with only a warning).
MAX_IMAGE_PIXELS = 40_000_000
MIN_IMAGE_SIDE = 8
# The model fits the picture into 224x224 with its aspect ratio kept; past about 448:1 the
# short side rounds to 0 pixels and the graph fails (in Transform, for the whole batch).
# No screenshot or photo is that thin; 200:1 leaves room for the downscale's rounding.
MAX_ASPECT_RATIO = 200
_EXIF_ORIENTATION = 0x0112


def normalize_image(data: bytes, name: str) -> bytes:
    """Decodes an image attachment fully and returns PNG or JPEG bytes.

    PNG and JPEG in RGB or greyscale that need no rotation or resize are kept byte for
    byte; any other format (WebP, GIF, BMP, TIFF), mode, EXIF rotation or an oversized
    picture is re-encoded.

    Args:
      data: the attachment file's bytes.
      name: the attachment path, for error messages.

    Raises:
      quarantine.RecordRejected: UNDECODABLE_IMAGE or OVERSIZED_ATTACHMENT.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                raise quarantine.RecordRejected(
                    quarantine.OVERSIZED_ATTACHMENT,
                    f"image {name!r} is {width}x{height}, over {MAX_IMAGE_PIXELS} pixels",
                )
            source_format = image.format
            image.load()
    except quarantine.RecordRejected:
        raise
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as error:
        raise quarantine.RecordRejected(
            quarantine.UNDECODABLE_IMAGE,
            f"image {name!r} is not a readable PNG, JPEG, WebP, GIF, BMP or TIFF: {error}",
        ) from error
    if min(width, height) < MIN_IMAGE_SIDE:
        raise quarantine.RecordRejected(
            quarantine.UNDECODABLE_IMAGE,
            f"image {name!r} is {width}x{height}; expected at least {MIN_IMAGE_SIDE} px a side",
        )
    if max(width, height) > MAX_ASPECT_RATIO * min(width, height):
        raise quarantine.RecordRejected(
            quarantine.UNDECODABLE_IMAGE,
            f"image {name!r} is {width}x{height}; its sides may differ {MAX_ASPECT_RATIO}:1 "
            "at most",
        )

    # EXIF orientation 1 means "as stored"; anything else must be applied before the model.
    needs_rotation = image.getexif().get(_EXIF_ORIENTATION, 1) != 1
    too_large = max(width, height) > MAX_IMAGE_SIDE
    if (
        source_format in _KEPT_FORMATS
        and image.mode in _KEPT_MODES
        and not needs_rotation
        and not too_large
    ):
        return data

    if needs_rotation:
        image = ImageOps.exif_transpose(image)
    if image.mode != "RGB":
        # Composite transparency on white, as a chat client shows it.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba).convert("RGB")
    if too_large:
        image.thumbnail((MAX_IMAGE_SIDE, MAX_IMAGE_SIDE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    if source_format == "JPEG":
        image.save(out, format="JPEG", quality=92)
    else:
        image.save(out, format="PNG", optimize=False)
    return out.getvalue()
