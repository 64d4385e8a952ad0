"""Camera/sharing effects and encoding: perspective, crop, scale, light, blur, noise, codecs."""

from __future__ import annotations

import io
import math
import random

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter

from corpus.image_style import Canvas, mix

Box = tuple[int, int, int, int]
# Compact pictures above this many bytes are re-encoded smaller (the sample's budget).
COMPACT_MAX_BYTES = 26_000
# Larger pictures are kept under this (noisy photos at high JPEG quality can exceed it).
FULL_MAX_BYTES = 180_000
SURFACES = [
    (150, 110, 72),
    (46, 46, 52),
    (222, 222, 216),
    (196, 198, 204),
    (62, 80, 118),
    (120, 92, 70),
]


def _solve(src: list[tuple[float, float]], dst: list[tuple[float, float]]) -> list[float]:
    """Coefficients of the perspective map taking ``dst`` points to ``src`` points (PIL order)."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(dst, src, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs += [u, v]
    return np.linalg.solve(np.array(rows, float), np.array(rhs, float)).tolist()


def _apply(c: list[float], x: float, y: float) -> tuple[float, float]:
    w = c[6] * x + c[7] * y + 1
    return (c[0] * x + c[1] * y + c[2]) / w, (c[3] * x + c[4] * y + c[5]) / w


def warp(canvas: Canvas, dst: list[tuple[float, float]], size: tuple[int, int], fill) -> Canvas:
    """Maps the picture's corners onto the quad ``dst`` of a ``size`` output; the box follows.

    One projective transform covers rotation, tilt and keystone at once: transforms are
    the most expensive step of the pipeline, so each photo gets exactly one.
    """
    w, h = canvas.image.size
    src = [(0, 0), (w, 0), (w, h), (0, h)]
    image = canvas.image.transform(
        size,
        Image.Transform.PERSPECTIVE,
        _solve(src, dst),
        Image.Resampling.BILINEAR,
        fillcolor=fill,
    )
    forward = _solve(dst, src)
    x0, y0, x1, y1 = canvas.box
    pts = [_apply(forward, x, y) for x, y in [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]]
    box = (
        max(0, min(p[0] for p in pts)),
        max(0, min(p[1] for p in pts)),
        min(size[0], max(p[0] for p in pts)),
        min(size[1], max(p[1] for p in pts)),
    )
    return Canvas(image, tuple(round(b) for b in box), canvas.photo)  # type: ignore[arg-type]


def perspective(canvas: Canvas, rng: random.Random, strength: float) -> Canvas:
    """Tilts the picture as if photographed at an angle (corners pulled inwards)."""
    w, h = canvas.image.size
    corners = [(0, 0), (w, 0), (w, h), (0, h)]
    inward = [(1, 1), (-1, 1), (-1, -1), (1, -1)]
    dst = [
        (x + sx * rng.uniform(0, strength) * w, y + sy * rng.uniform(0, strength) * h)
        for (x, y), (sx, sy) in zip(corners, inward, strict=True)
    ]
    return warp(canvas, dst, (w, h), canvas.image.getpixel((0, 0)))


def surface(size: tuple[int, int], rng: random.Random, base) -> Image.Image:
    """A table/desk surface of colour ``base`` with low-frequency blotches (upscaled tiny image)."""
    small = Image.new("RGB", (12, 12))
    small.putdata(
        [mix(base, (rng.randint(0, 255),) * 3, rng.uniform(0.0, 0.12)) for _ in range(144)]
    )
    return small.resize(size, Image.Resampling.BILINEAR)


def place_on_surface(item: Image.Image, rng: random.Random, angle: float, margin: float) -> Canvas:
    """Photographs ``item`` (RGBA) lying on a surface: drop shadow, rotation, camera tilt.

    Args:
        item: The object with transparent surroundings.
        rng: Source of randomness.
        angle: Rotation in degrees.
        margin: Margin around the object as a fraction of its larger side.

    Returns:
        A photo canvas whose box is the object's bounding box.
    """
    pad = round(max(item.size) * margin)
    w, h = item.width + 2 * pad, item.height + 2 * pad
    base = rng.choice(SURFACES)
    scene = surface((w, h), rng, base)
    alpha = item.getchannel("A")
    # Blur a small copy of the alpha for the shadow: much cheaper than blurring full size.
    small = alpha.resize((max(1, alpha.width // 8), max(1, alpha.height // 8)))
    shadow = small.filter(ImageFilter.GaussianBlur(2)).resize(alpha.size, Image.Resampling.BILINEAR)
    shift = round(max(item.size) * 0.012)
    x, y = pad + rng.randint(-pad // 2, pad // 2), pad + rng.randint(-pad // 2, pad // 2)
    scene.paste(
        (0, 0, 0),
        (x + shift, y + shift, x + shift + item.width, y + shift + item.height),
        shadow.point(lambda v: v * 0.45),
    )
    scene.paste(item, (x, y), alpha)
    # Rotate the scene corners about its centre, add keystone jitter, and frame the result.
    cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    jitter = max(w, h) * rng.uniform(0.0, 0.05)
    quad = [
        (
            (px - w / 2) * cos - (py - h / 2) * sin + rng.uniform(-jitter, jitter),
            (px - w / 2) * sin + (py - h / 2) * cos + rng.uniform(-jitter, jitter),
        )
        for px, py in [(0, 0), (w, 0), (w, h), (0, h)]
    ]
    left, top = min(q[0] for q in quad), min(q[1] for q in quad)
    dst = [(qx - left, qy - top) for qx, qy in quad]
    size = (math.ceil(max(q[0] for q in dst)), math.ceil(max(q[1] for q in dst)))
    return warp(Canvas(scene, (x, y, x + item.width, y + item.height), photo=True), dst, size, base)


def photograph_screen(canvas: Canvas, rng: random.Random, whole_device: bool) -> Canvas:
    """Turns a screenshot into a camera photo of the screen showing it.

    Args:
        canvas: The screenshot.
        rng: Source of randomness.
        whole_device: Show the device bezel lying on a table; otherwise a close-up of the
            (already cropped) screen area.

    Returns:
        The photo canvas.
    """
    if not whole_device:
        canvas = Canvas(glare(canvas.image, rng), canvas.box, photo=True)
        return perspective(canvas, rng, rng.uniform(0.0, 0.06))
    img = canvas.image
    bezel = round(min(img.size) * rng.uniform(0.03, 0.06))
    device = Image.new("RGBA", (img.width + 2 * bezel, img.height + 2 * bezel), (0, 0, 0, 0))
    ImageDraw.Draw(device).rounded_rectangle(
        (0, 0, device.width - 1, device.height - 1), radius=bezel * 3, fill=(12, 12, 14, 255)
    )
    device.paste(img, (bezel, bezel))
    photo = place_on_surface(device, rng, rng.uniform(-6, 6), rng.uniform(0.02, 0.1))
    photo.image = glare(photo.image, rng)
    return photo


def crop_around(canvas: Canvas, rng: random.Random, frame: float | None) -> Canvas:
    """Random crop that always keeps the evidence box.

    Args:
        canvas: The picture and its evidence box.
        rng: Source of randomness.
        frame: Wanted longest side of the crop in pixels: the margins around the box only grow
            it up to about this size. None keeps most of the picture (a random share of every
            margin), like an uncropped screenshot.

    Returns:
        The cropped canvas (box moved accordingly).
    """
    w, h = canvas.image.size
    x0, y0, x1, y1 = canvas.box

    def margins(before: int, after: int, span: int) -> tuple[int, int]:
        if frame is None:
            return round(before * rng.uniform(0.7, 1.0)), round(after * rng.uniform(0.7, 1.0))
        room = max(frame - span, 0.04 * frame)
        share = rng.random()
        return round(min(before, room * share)), round(min(after, room * (1 - share)))

    left, right = margins(x0, w - x1, x1 - x0)
    top, bottom = margins(y0, h - y1, y1 - y0)
    image = canvas.image.crop((x0 - left, y0 - top, x1 + right, y1 + bottom))
    return Canvas(image, (left, top, left + x1 - x0, top + y1 - y0), canvas.photo)


def fit_canvas(canvas: Canvas, max_side: int, rng: random.Random) -> Canvas:
    """:func:`fit` for a canvas, scaling its evidence box too."""
    image = fit(canvas.image, max_side, rng)
    sx, sy = image.width / canvas.image.width, image.height / canvas.image.height
    x0, y0, x1, y1 = canvas.box
    return Canvas(
        image, (round(x0 * sx), round(y0 * sy), round(x1 * sx), round(y1 * sy)), canvas.photo
    )


def fit(image: Image.Image, max_side: int, rng: random.Random) -> Image.Image:
    """Downscales so that the longest side is at most ``max_side`` (never upscales)."""
    scale = max_side / max(image.size)
    if scale >= 1:
        return image
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    method = rng.choice(
        [Image.Resampling.BILINEAR, Image.Resampling.BICUBIC, Image.Resampling.LANCZOS]
    )
    return image.resize(size, method, reducing_gap=2.0)


def lighting(image: Image.Image, rng: random.Random) -> Image.Image:
    """Uneven room light: multiplies by a smooth random brightness field."""
    small = Image.new("L", (3, 3))
    small.putdata([rng.randint(165, 255) for _ in range(9)])
    field = small.resize(image.size, Image.Resampling.BILINEAR).convert("RGB")
    return ImageChops.multiply(image, field)


def glare(image: Image.Image, rng: random.Random) -> Image.Image:
    """A soft reflection spot, as on glossy screens."""
    small = Image.new("L", (16, 16), 0)
    cx, cy, r = rng.uniform(2, 14), rng.uniform(2, 14), rng.uniform(2, 6)
    ImageDraw.Draw(small).ellipse((cx - r, cy - r, cx + r, cy + r * 0.6), fill=rng.randint(40, 110))
    spot = small.filter(ImageFilter.GaussianBlur(1.5)).resize(image.size, Image.Resampling.BILINEAR)
    return ImageChops.screen(image, spot.convert("RGB"))


def noise(image: Image.Image, rng: random.Random, sigma: float) -> Image.Image:
    """Adds sensor-like luminance grain (numpy, seeded from ``rng``).

    The grain is drawn at half resolution and upscaled: cheaper, and closer to real
    demosaiced camera noise than per-pixel white noise.
    """
    gen = np.random.default_rng(rng.getrandbits(64))
    shape = ((image.height + 1) // 2, (image.width + 1) // 2)
    grain = np.clip(gen.normal(128.0, sigma, shape), 0, 255).astype(np.uint8)
    layer = Image.fromarray(grain, "L").resize(image.size, Image.Resampling.BILINEAR).convert("RGB")
    return ImageChops.add(image, layer, offset=-128)


def degrade(image: Image.Image, rng: random.Random, photo: bool) -> Image.Image:
    """Applies the camera effects to a photo; screenshots only get rare resampling blur."""
    if photo:
        if rng.random() < 0.7:
            image = lighting(image, rng)
        if rng.random() < 0.5:
            # A single box-blur pass: looks the same as Gaussian at these radii, 3x cheaper.
            image = image.filter(ImageFilter.BoxBlur(rng.uniform(0.3, 1.0)))
        if rng.random() < 0.6:
            image = noise(image, rng, rng.uniform(2.0, 7.0))
    elif rng.random() < 0.08:
        image = image.filter(ImageFilter.BoxBlur(rng.uniform(0.3, 0.6)))
    return image


def encode(image: Image.Image, fmt: str, quality: int, colours: int = 0) -> bytes:
    """Encodes ``image`` as "png" (palette of ``colours`` when > 0), "jpg" or "webp"."""
    buf = io.BytesIO()
    if fmt == "png":
        if colours:
            image = image.quantize(
                colours, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE
            )
        image.save(buf, "PNG", compress_level=6)
    elif fmt == "jpg":
        image.save(buf, "JPEG", quality=quality, subsampling=0 if quality >= 90 else 2)
    else:
        # Low WebP methods: the default (4) costs ~50 ms per megapixel on this kind of CPU.
        image.save(
            buf, "WEBP", quality=quality, method=2 if image.width * image.height > 250_000 else 4
        )
    return buf.getvalue()


def encode_within(
    image: Image.Image, fmt: str, quality: int, colours: int, limit: int
) -> tuple[bytes, str]:
    """Encodes, then steps quality and size down until the bytes fit ``limit``.

    Returns:
        The encoded bytes and the format actually used (PNG falls back to JPEG).
    """
    data = encode(image, fmt, quality, colours)
    while len(data) > limit:
        if fmt == "png":
            fmt = "jpg"
        elif quality > 45:
            quality -= 10
        else:
            image = image.resize(
                (round(image.width * 0.85), round(image.height * 0.85)), Image.Resampling.BILINEAR
            )
        data = encode(image, fmt, quality, colours)
    return data, fmt


def choose_format(
    rng: random.Random, photo: bool, compact: bool, pixels: int
) -> tuple[str, int, int]:
    """Picks (format, quality, palette colours) the way such pictures get shared."""
    roll = rng.random()
    if photo:
        fmt = "jpg" if roll < 0.8 else "webp"
    elif compact:
        # Palette PNG only pays off for small flat screenshots.
        fmt = "png" if roll < 0.25 and pixels <= 200_000 else ("jpg" if roll < 0.75 else "webp")
    else:
        fmt = "png" if roll < 0.3 else ("jpg" if roll < 0.85 else "webp")
    quality = rng.randint(60, 80) if compact else rng.randint(60, 90)
    colours = rng.choice([32, 48, 64]) if compact else rng.choice([0, 128, 256])
    return fmt, quality, colours


def finish(canvas: Canvas, rng: random.Random, target: int, compact: bool) -> tuple[bytes, str]:
    """Runs the sharing pipeline on a rendered canvas and returns (bytes, extension).

    Args:
        canvas: The rendered picture and its evidence box.
        rng: Source of randomness.
        target: Longest side of the result in pixels (at most).
        compact: Small-sample picture: framed close to the evidence and kept under
            :data:`COMPACT_MAX_BYTES`.
    """
    # Compact pictures are framed closely around the evidence so that text stays legible;
    # larger ones are sometimes whole uncropped screenshots.
    loose = not compact and rng.random() < 0.4
    canvas = crop_around(canvas, rng, None if loose else target * rng.uniform(1.0, 1.3))
    # Work near the final size from here on: every effect below costs per pixel.
    canvas = fit_canvas(canvas, target, rng)
    if not canvas.photo and rng.random() < 0.15:
        # Whole-device photos only for phone screens: a photographed desktop page is unreadable.
        portrait = canvas.image.height > canvas.image.width
        canvas = photograph_screen(
            canvas, rng, whole_device=portrait and not compact and rng.random() < 0.6
        )
    image = degrade(fit(canvas.image, target, rng), rng, canvas.photo)
    fmt, quality, colours = choose_format(rng, canvas.photo, compact, image.width * image.height)
    return encode_within(
        image, fmt, quality, colours, COMPACT_MAX_BYTES if compact else FULL_MAX_BYTES
    )
