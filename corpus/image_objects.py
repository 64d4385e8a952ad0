"""Photographed-object kinds: ``card_photo`` (a bank card) and ``atm_screen`` (a cash machine)."""

from __future__ import annotations

import dataclasses

from PIL import Image, ImageDraw

from corpus.image_effects import place_on_surface
from corpus.image_style import Canvas, Job, Painter, Style, font, mix

_CARD_COLOURS = [
    ((20, 30, 62), (62, 84, 150)),
    ((12, 12, 14), (64, 64, 70)),
    ((214, 86, 86), (250, 150, 110)),
    ((178, 180, 188), (236, 236, 242)),
    ((30, 140, 122), (120, 210, 180)),
    ((80, 36, 132), (200, 80, 160)),
]
_ATM_SCREENS = [
    ((0, 50, 130), (0, 110, 200)),
    ((0, 90, 90), (0, 140, 130)),
    ((110, 0, 20), (170, 20, 40)),
    ((25, 25, 30), (60, 60, 75)),
]
_RED = (220, 30, 40)


def _gradient(size: tuple[int, int], a, b) -> Image.Image:
    """Diagonal two-colour gradient (a 2x2 image upscaled bilinearly)."""
    small = Image.new("RGB", (2, 2))
    small.putdata([a, mix(a, b, 0.5), mix(a, b, 0.5), b])
    return small.resize(size, Image.Resampling.BILINEAR)


def _contactless(d: ImageDraw.ImageDraw, x: int, y: int, size: int, colour, width: int) -> None:
    """The four-arc contactless symbol with its left edge at ``(x, y)``."""
    for i in range(4):
        r = size * (0.25 + 0.22 * i)
        d.arc((x - r, y - r, x + r, y + r), -50, 50, fill=colour, width=width)


def _circle(d: ImageDraw.ImageDraw, box, width: int) -> None:
    """A hand-drawn-looking red ring around ``box`` (two slightly offset ellipses)."""
    x0, y0, x1, y1 = box
    d.ellipse((x0, y0, x1, y1), outline=_RED, width=width)
    d.ellipse(
        (x0 + width, y0 - width, x1 - width, y1 + width // 2),
        outline=_RED,
        width=max(1, width // 2),
    )


def _card(ev: dict, st: Style, job: Job, width: int) -> Image.Image:
    """Draws the front of a bank card (RGBA, rounded corners) with the variant's features."""
    rng, v = job.rng, job.values
    features = ev.get("features", [])
    height = round(width / 1.586)
    a, b = rng.choice(_CARD_COLOURS)
    card = _gradient((width, height), a, b)
    d = ImageDraw.Draw(card, "RGBA")  # RGBA ink on an RGB image blends translucent strokes
    ink = st.on(mix(a, b, 0.5))
    u = width / 100  # card units: 1% of the card width
    d.text((7 * u, 6 * u), st.bank, font=font("sans", round(6 * u), True), fill=ink)
    d.text(
        (93 * u, 7 * u),
        rng.choice(["debit", "DEBIT", ""]),
        font=font("sans", round(3.5 * u)),
        fill=ink,
        anchor="ra",
    )
    chip = (10 * u, 24 * u, 23 * u, 33 * u)
    worn = "worn_chip" in features
    d.rounded_rectangle(
        chip, radius=round(1.5 * u), fill=(150, 138, 110) if worn else (214, 180, 92)
    )
    for t in (0.33, 0.66):
        yy = chip[1] + (chip[3] - chip[1]) * t
        d.line((chip[0], yy, chip[2], yy), fill=(120, 100, 60), width=max(1, round(0.3 * u)))
    if worn:  # scratches across the chip and the card
        for _ in range(9):
            x0, y0 = rng.uniform(chip[0] - 4 * u, chip[2]), rng.uniform(chip[1] - 3 * u, chip[3])
            d.line(
                (x0, y0, x0 + rng.uniform(3, 12) * u, y0 + rng.uniform(-3, 3) * u),
                fill=rng.choice([(235, 235, 235, 200), (70, 70, 70, 200)]),
                width=max(1, round(0.35 * u)),
            )
    if "contactless" in features:
        _contactless(d, round(27 * u), round(28.5 * u), round(8 * u), ink, max(1, round(0.8 * u)))
    d.text(
        (10 * u, 41 * u),
        f"••••  ••••  ••••  {v['last4']}",
        font=font("mono", round(5.5 * u)),
        fill=ink,
    )
    expiry = v["exp_soon"] if "expiring" in features else v["exp"]
    d.text(
        (40 * u, 50.5 * u), "VALID\nTHRU", font=font("sans", round(1.9 * u)), fill=ink, spacing=0
    )
    exp_xy = (47 * u, 50 * u)
    d.text(exp_xy, expiry, font=font("mono", round(4.2 * u)), fill=ink)
    d.text((10 * u, 56.5 * u), v["name"].upper(), font=font("sans", round(4 * u)), fill=ink)
    network = (
        "Visa"
        if "visa" in features
        else ("Mastercard" if "mastercard" in features else v["network"])
    )
    logo = (72 * u, 48 * u, 93 * u, 60 * u)
    if network == "Visa":
        d.text(
            (93 * u, 60 * u), "VISA", font=font("sans", round(8 * u), True), fill=ink, anchor="rd"
        )
    else:
        r = 5.5 * u
        cy = 54 * u
        d.ellipse((80 * u - r, cy - r, 80 * u + r, cy + r), fill=(235, 0, 27))
        d.ellipse((87 * u - r, cy - r, 87 * u + r, cy + r), fill=(247, 158, 27, 225))
    if "cracked" in features:
        x, y = rng.uniform(30, 70) * u, 0.0
        points = [(x, y)]
        while y < height:
            x += rng.uniform(-6, 6) * u
            y += rng.uniform(3, 8) * u
            points.append((x, min(y, height)))
        d.line(points, fill=(30, 30, 30, 230), width=max(2, round(0.6 * u)), joint="curve")
        d.line(
            [(px + 0.5 * u, py) for px, py in points],
            fill=(240, 240, 240, 170),
            width=max(1, round(0.3 * u)),
        )
    if "circle_expiry" in features:
        _circle(d, (36 * u, 47 * u, 63 * u, 58 * u), max(2, round(0.7 * u)))
    if "circle_network" in features:
        _circle(
            d,
            (logo[0] - 2 * u, logo[1] - 3 * u, logo[2] + 3 * u, logo[3] + 3 * u),
            max(2, round(0.7 * u)),
        )
    if ev.get("paper") == "sticker":
        # A paper sticker over the upper right of the card, as on newly delivered cards.
        box = (37 * u, 7 * u, 97 * u, 42 * u)
        d.rounded_rectangle(box, radius=round(1.5 * u), fill=(250, 250, 245))
        q = Painter(card, dataclasses.replace(st, scale=u / 4.2, fg=(30, 30, 35)))
        x, inner = box[0] + 2.5 * u, round(56 * u)
        y = q.para(x, box[1] + 2 * u, ev.get("title", ""), 17, inner, bold=True)
        for line in ev.get("lines", []):
            y = q.para(x, y, line, 16, inner)
    mask = Image.new("L", card.size, 0)
    ImageDraw.Draw(mask).rounded_rectangle(
        (0, 0, width - 1, height - 1), radius=round(4 * u), fill=255
    )
    card = card.convert("RGBA")
    card.putalpha(mask)
    return card


def render_card_photo(ev: dict, st: Style, job: Job) -> Canvas:
    """Renders a photo of a bank card on a table, optionally glued to its carrier letter."""
    rng = job.rng
    letter = ev.get("paper") == "letter"
    width = round(job.target * rng.uniform(0.75, 0.95) * (0.62 if letter else 0.9))
    card = _card(ev, st, job, width)
    if not letter:
        return place_on_surface(card, rng, rng.uniform(-20, 20), rng.uniform(0.04, 0.2))
    # The carrier letter: text on top, the card glued below it.
    sheet = Image.new("RGBA", (round(width * 1.35), round(width * 1.55)), (252, 252, 250, 255))
    q = Painter(
        sheet, dataclasses.replace(st, scale=width / 300, fg=(25, 25, 30), muted=(90, 90, 100))
    )
    x = round(width * 0.12)
    q.text(x, x, st.bank, 20, bold=True, fill=st.accent)
    y = q.para(
        x, x + q.st.px(44), ev.get("title", ""), 21, sheet.width - 2 * x, bold=True
    ) + q.st.px(8)
    for line in ev.get("lines", []):
        y = q.para(x, y, line, 17, sheet.width - 2 * x, fill=q.st.muted) + q.st.px(4)
    sheet.paste(
        card,
        ((sheet.width - card.width) // 2, max(y + q.st.px(16), sheet.height - card.height - x)),
        card,
    )
    return place_on_surface(sheet, rng, rng.uniform(-8, 8), rng.uniform(0.03, 0.15))


def render_atm_screen(ev: dict, st: Style, job: Job) -> Canvas:
    """Renders a photo of a cash machine's screen inside its bezel, with side keys."""
    rng = job.rng
    sw_dp, sh_dp = rng.choice([(640, 480), (800, 480), (720, 540)])
    st = dataclasses.replace(st, scale=job.scale_for(sw_dp * 1.4, low=0.6, high=1.6), family="sans")
    a, b = rng.choice(_ATM_SCREENS)
    screen = _gradient((st.px(sw_dp), st.px(sh_dp)), a, b)
    p = Painter(screen, dataclasses.replace(st, fg=(255, 255, 255)))
    sw, sh = screen.size
    p.text(st.px(20), st.px(22), job.values["atm"], 16, bold=True, anchor="lm")
    p.draw.line(
        (0, st.px(44), sw, st.px(44)), fill=mix(b, (255, 255, 255), 0.4), width=max(1, st.px(2))
    )
    y = p.para(st.px(60), st.px(76), ev["title"], 34, sw - st.px(120), bold=True, align="center")
    for line in ev.get("lines", []):
        y = p.para(st.px(60), y + st.px(10), line, 25, sw - st.px(120), align="center")
    slots = [0.62, 0.76, 0.9]
    buttons = ev.get("buttons", [])
    keys = []
    for i, label in enumerate(buttons[:6]):
        right = i % 2 == 1 if len(buttons) > 1 else True
        cy = round(sh * slots[min(i // 2 if len(buttons) > 1 else i, 2)])
        edge = sw - st.px(14) if right else st.px(14)
        text = f"{label}  ▶" if right else f"◀  {label}"
        p.text(edge, cy, text, 22, bold=True, anchor="rm" if right else "lm", family="sans")
        keys.append((right, cy))
    # Bezel around the screen, with physical keys next to the option labels.
    bezel = round(sw * rng.uniform(0.1, 0.16))
    body = Image.new("RGBA", (sw + 2 * bezel, sh + 2 * bezel + round(bezel * 0.6)), (0, 0, 0, 0))
    d = ImageDraw.Draw(body)
    metal = rng.choice([(150, 152, 158), (70, 72, 78), (185, 186, 190)])
    d.rounded_rectangle(
        (0, 0, body.width - 1, body.height - 1), radius=bezel // 3, fill=metal + (255,)
    )
    d.rectangle((bezel - 4, bezel - 4, bezel + sw + 4, bezel + sh + 4), fill=(15, 15, 18, 255))
    body.paste(screen, (bezel, bezel))
    for right, cy in keys:
        kx = bezel + sw + bezel // 4 if right else bezel // 4
        d.rounded_rectangle(
            (kx, bezel + cy - bezel // 5, kx + bezel // 2, bezel + cy + bezel // 5),
            radius=bezel // 10,
            fill=mix(metal, (0, 0, 0), 0.45) + (255,),
        )
    canvas = place_on_surface(body, rng, rng.uniform(-3, 3), rng.uniform(0.0, 0.06))
    return canvas
