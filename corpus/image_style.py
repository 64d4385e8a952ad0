"""Visual style (theme, fonts, scale) and text-drawing helpers shared by the image kinds."""

from __future__ import annotations

import dataclasses
import functools
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

RGB = tuple[int, int, int]

_FONT_DIRS = [
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/share/fonts/TTF"),
    Path("/usr/local/share/fonts"),
]
# Regular and bold file of each family; "light" is only used for lock-screen clocks.
_FAMILIES = {
    "sans": ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"),
    "condensed": ("DejaVuSansCondensed.ttf", "DejaVuSansCondensed-Bold.ttf"),
    "serif": ("DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf"),
    "mono": ("DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf"),
    "light": ("DejaVuSans-ExtraLight.ttf", "DejaVuSans.ttf"),
}
ACCENTS: list[RGB] = [
    (0, 112, 243),
    (111, 66, 193),
    (0, 150, 136),
    (232, 62, 140),
    (253, 126, 20),
    (25, 135, 84),
    (33, 37, 41),
    (0, 87, 184),
    (92, 45, 145),
    (2, 136, 209),
]
_TONES: dict[str, RGB] = {
    "error": (214, 48, 49),
    "warning": (222, 139, 0),
    "success": (30, 150, 80),
}


@functools.lru_cache(maxsize=8)
def _font_path(name: str) -> str | None:
    for folder in _FONT_DIRS:
        if (folder / name).is_file():
            return str(folder / name)
    return None


@functools.lru_cache(maxsize=512)
def font(family: str, size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    """Loads (and caches) a DejaVu font.

    Args:
        family: One of "sans", "condensed", "serif", "mono", "light".
        size: Pixel size (at least 6).
        bold: Whether to use the bold face.

    Returns:
        The font; Pillow's bundled default font of that size when DejaVu is not installed.
    """
    path = _font_path(_FAMILIES[family][int(bold)])
    size = max(6, int(size))
    if path is None:
        return ImageFont.load_default(size)
    return ImageFont.truetype(path, size)


def mix(a: RGB, b: RGB, t: float) -> RGB:
    """Linear blend from colour ``a`` (t=0) to ``b`` (t=1)."""
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b, strict=True))  # type: ignore[return-value]


@dataclasses.dataclass(frozen=True)
class Style:
    """Theme of one rendered picture; sizes are given in dp and converted by :meth:`px`."""

    dark: bool
    bg: RGB
    surface: RGB
    fg: RGB
    muted: RGB
    line: RGB
    accent: RGB
    family: str
    scale: float
    bank: str

    def px(self, dp: float) -> int:
        """Converts density-independent units to pixels at this picture's scale."""
        return max(1, round(dp * self.scale))

    def font(self, size_dp: float, bold: bool = False, family: str | None = None):
        """The style's font (or ``family``) at ``size_dp``."""
        return font(family or self.family, self.px(size_dp), bold)

    def tone(self, tone: str | None) -> RGB:
        """Colour for a status tone: error, warning, success, info (accent) or neutral."""
        if tone in _TONES:
            return _TONES[tone]
        return self.accent if tone == "info" else self.muted

    def on(self, colour: RGB) -> RGB:
        """Readable text colour on a filled background of ``colour``."""
        return (20, 20, 24) if sum(colour) > 560 else (255, 255, 255)


def random_style(
    rng: random.Random, scale: float, bank: str, families: list[str], dark_p: float = 0.35
) -> Style:
    """Draws a light or dark theme with a random accent colour and font family.

    Args:
        rng: Source of randomness.
        scale: Pixels per dp.
        bank: Brand name shown in headers.
        families: Font families to choose from.
        dark_p: Probability of a dark theme.

    Returns:
        The style.
    """
    accent = rng.choice(ACCENTS)
    family = rng.choice(families)
    if rng.random() < dark_p:
        bg = rng.choice([(0, 0, 0), (18, 18, 20), (28, 28, 30), (16, 22, 34)])
        surface = mix(bg, (255, 255, 255), rng.uniform(0.08, 0.14))
        if accent == (33, 37, 41):
            accent = (230, 230, 235)  # a near-black accent is invisible on dark themes
        return Style(
            True,
            bg,
            surface,
            (238, 238, 242),
            (150, 150, 160),
            mix(bg, (255, 255, 255), 0.2),
            accent,
            family,
            scale,
            bank,
        )
    bg = rng.choice([(255, 255, 255), (242, 242, 247), (248, 249, 251), (250, 248, 245)])
    surface = (255, 255, 255) if bg != (255, 255, 255) else (244, 245, 248)
    return Style(
        False,
        bg,
        surface,
        (22, 22, 26),
        (108, 110, 120),
        (224, 225, 230),
        accent,
        family,
        scale,
        bank,
    )


class Painter:
    """Thin wrapper around ``ImageDraw`` that draws text in a :class:`Style`."""

    def __init__(self, image: Image.Image, style: Style):
        self.image = image
        self.draw = ImageDraw.Draw(image)
        self.st = style

    def text_width(self, text: str, size: float, bold: bool = False, family: str | None = None):
        """Width in pixels of ``text`` at ``size`` dp."""
        return self.st.font(size, bold, family).getlength(text)

    def wrap(self, text: str, size: float, width: int, bold=False, family=None) -> list[str]:
        """Greedy word wrap of ``text`` to ``width`` pixels; over-long words are split."""
        fnt = self.st.font(size, bold, family)
        lines: list[str] = []
        current = ""
        for word in text.split():
            candidate = f"{current} {word}".strip()
            if fnt.getlength(candidate) <= width or not current:
                current = candidate
            else:
                lines.append(current)
                current = word
            while fnt.getlength(current) > width and len(current) > 1:
                cut = len(current) - 1
                while cut > 1 and fnt.getlength(current[:cut]) > width:
                    cut -= 1
                lines.append(current[:cut])
                current = current[cut:]
        if current:
            lines.append(current)
        return lines

    def text(self, x, y, text, size, *, bold=False, fill=None, anchor="la", family=None):
        """Draws one line of text and returns its bounding box."""
        fnt = self.st.font(size, bold, family)
        self.draw.text((x, y), text, font=fnt, fill=fill or self.st.fg, anchor=anchor)
        return self.draw.textbbox((x, y), text, font=fnt, anchor=anchor)

    def para(
        self,
        x,
        y,
        text,
        size,
        width,
        *,
        bold=False,
        fill=None,
        align="left",
        family=None,
        spacing=1.35,
        max_lines=None,
    ) -> int:
        """Draws wrapped text starting at top-left ``(x, y)``; returns the y below it."""
        lines = self.wrap(text, size, width, bold, family)
        if max_lines and len(lines) > max_lines:
            lines = lines[: max_lines - 1] + [lines[max_lines - 1].rstrip(".") + "…"]
        step = self.st.px(size * spacing)
        for line in lines:
            if align == "center":
                self.text(
                    x + width / 2, y, line, size, bold=bold, fill=fill, anchor="ma", family=family
                )
            elif align == "right":
                self.text(
                    x + width, y, line, size, bold=bold, fill=fill, anchor="ra", family=family
                )
            else:
                self.text(x, y, line, size, bold=bold, fill=fill, family=family)
            y += step
        return y

    def pill(self, x, y, text, colour: RGB, size=13, *, filled=None) -> int:
        """Draws a rounded status badge at ``(x, y)``; returns its bottom y."""
        px = self.st.px
        filled = filled if filled is not None else colour != self.st.muted
        w = self.text_width(text, size, True) + px(size * 1.4)
        h = px(size * 1.9)
        fill = mix(self.st.bg, colour, 0.18 if not self.st.dark else 0.3) if filled else None
        self.draw.rounded_rectangle(
            (x, y, x + w, y + h),
            radius=h // 2,
            fill=fill,
            outline=None if filled else colour,
            width=max(1, px(1.2)),
        )
        self.text(x + w / 2, y + h / 2, text, size, bold=True, fill=colour, anchor="mm")
        return y + h

    def button(self, x, y, w, text, *, primary=True, size=16, radius=None) -> int:
        """Draws a full-width app button; returns its bottom y."""
        px, st = self.st.px, self.st
        h = px(size * 3)
        radius = h // 2 if radius is None else radius
        if primary:
            self.draw.rounded_rectangle((x, y, x + w, y + h), radius=radius, fill=st.accent)
            self.text(
                x + w / 2, y + h / 2, text, size, bold=True, fill=st.on(st.accent), anchor="mm"
            )
        else:
            self.draw.rounded_rectangle(
                (x, y, x + w, y + h), radius=radius, outline=st.accent, width=max(1, px(1.5))
            )
            self.text(x + w / 2, y + h / 2, text, size, bold=True, fill=st.accent, anchor="mm")
        return y + h

    def toggle(self, x_right, y_mid, on: bool) -> None:
        """Draws an iOS/Android style switch whose right edge is at ``x_right``."""
        px, st = self.st.px, self.st
        w, h = px(46), px(27)
        box = (x_right - w, y_mid - h // 2, x_right, y_mid + h // 2)
        self.draw.rounded_rectangle(box, radius=h // 2, fill=st.accent if on else st.line)
        r = h // 2 - px(2.5)
        cx = box[2] - h // 2 if on else box[0] + h // 2
        self.draw.ellipse((cx - r, y_mid - r, cx + r, y_mid + r), fill=(255, 255, 255))


@dataclasses.dataclass
class Canvas:
    """A rendered picture before the photo/compression effects.

    Attributes:
        image: The RGB picture.
        box: (left, top, right, bottom) of the evidence; random crops always keep it.
        photo: Whether the picture already looks like a camera photo (paper, cards, ATMs),
            as opposed to a clean screenshot.
    """

    image: Image.Image
    box: tuple[int, int, int, int]
    photo: bool = False


@dataclasses.dataclass(frozen=True)
class Job:
    """What a kind renderer needs besides the variant and the style.

    Attributes:
        rng: The only source of randomness.
        values: Placeholder values of this picture (dates, bank, card digits, ...).
        target: Wanted longest side of the final picture in pixels.
        compact: Whether the picture is for the small committed sample.
    """

    rng: random.Random
    values: dict[str, str]
    target: int
    compact: bool

    def scale_for(self, span_dp: float, low: float = 0.75, high: float = 3.0) -> float:
        """Pixels per dp so that ``span_dp`` roughly fills the target size.

        Renders a little larger than the target so the final downscale resamples the way
        shared screenshots do; ``low`` keeps body text legible in compact pictures.
        """
        return min(high, max(low, self.target * self.rng.uniform(1.0, 1.3) / span_dp))
