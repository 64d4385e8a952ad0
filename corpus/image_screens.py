"""App screenshot kinds: ``app_screen`` and ``error_dialog``, plus the phone and browser frames.

Each renderer draws a phone screenshot (sometimes a desktop browser window) and returns a
:class:`~corpus.image_style.Canvas` whose box frames the evidence.
"""

from __future__ import annotations

import dataclasses
import re

from PIL import Image, ImageDraw, ImageEnhance

from corpus.image_style import Canvas, Job, Painter, Style, mix

# A line that is only an amount (or passcode dots) is shown large, as apps do for totals.
_BIG_LINE = re.compile(r"^[-+]?(?:[£€$¥]|[A-Z]{3} )?[\d,.]+$|^[^A-Za-z]{1,14}$")
_HOME_ROWS = ["Coffee House", "TfL Travel", "Spotify", "Salary", "Amazon", "Grocery Market"]


def phone_frame(st: Style, job: Job) -> tuple[Style, Image.Image, Painter, int, bool]:
    """Creates a tall phone canvas with a status bar; returns the y below the bar."""
    rng = job.rng
    width_dp = rng.choice([360, 375, 390, 393, 412, 430])
    st = dataclasses.replace(
        st, scale=job.scale_for(width_dp * 2.05, low=0.8 if job.compact else 1.0)
    )
    image = Image.new("RGB", (st.px(width_dp), st.px(width_dp * 3.0)), st.bg)
    p = Painter(image, st)
    ios = rng.random() < 0.5
    bar = st.px(44 if ios else 30)
    clock = f"{rng.randint(7, 23)}:{rng.randint(0, 59):02d}"
    p.text(st.px(30 if ios else 16), bar // 2, clock, 15 if ios else 13, bold=ios, anchor="lm")
    right, mid = image.width - st.px(22), bar // 2
    p.draw.rounded_rectangle(
        (right - st.px(24), mid - st.px(6), right, mid + st.px(6)),
        radius=st.px(3),
        outline=st.fg,
        width=max(1, st.px(1)),
    )
    level = rng.uniform(0.2, 1.0)
    fill = (214, 48, 49) if level < 0.25 else st.fg
    p.draw.rectangle(
        (right - st.px(22), mid - st.px(4), right - st.px(22 - 20 * level), mid + st.px(4)),
        fill=fill,
    )
    for i in range(4):  # signal bars
        x = right - st.px(60 - i * 6)
        p.draw.rectangle((x, mid + st.px(5 - 3 * i), x + st.px(4), mid + st.px(6)), fill=st.fg)
    return st, image, p, bar, ios


def _nav(p: Painter, y: int, header: str, ios: bool) -> int:
    """Draws the navigation bar (back arrow + screen name); returns the y below it."""
    st = p.st
    h = st.px(52)
    if ios:
        p.text(st.px(14), y + h // 2, "‹", 30, fill=st.accent, anchor="lm")
        p.text(p.image.width // 2, y + h // 2, header, 17, bold=True, anchor="mm")
    else:
        p.text(st.px(18), y + h // 2, "←", 22, anchor="lm")
        p.text(st.px(64), y + h // 2, header, 19, anchor="lm")
    return y + h


def _tab_bar(p: Painter, bottom: int) -> None:
    """Draws the bottom tab bar that most banking apps show."""
    st = p.st
    top = bottom - st.px(70)
    p.draw.line((0, top, p.image.width, top), fill=st.line, width=1)
    labels = ["Home", "Cards", "Payments", "Profile"]
    for i, label in enumerate(labels):
        cx = round(p.image.width * (i + 0.5) / len(labels))
        colour = st.accent if i == 0 else st.muted
        r = st.px(9)
        p.draw.rounded_rectangle(
            (cx - r, top + st.px(12), cx + r, top + st.px(12) + 2 * r),
            radius=st.px(4),
            outline=colour,
            width=max(1, st.px(2)),
        )
        p.text(cx, top + st.px(36), label, 11, fill=colour, anchor="ma")


def draw_rows(p: Painter, x: int, y: int, w: int, rows: list[list[str]], size: float = 15) -> int:
    """Draws label/value rows on a rounded card; returns the y below it."""
    st = p.st
    pad, row_h = st.px(16), st.px(size * 3.3)
    heights = []
    for label, value in rows:
        fits = p.text_width(label, size) + p.text_width(value, size, True) + 3 * pad < w
        heights.append(row_h if fits or value in ("", "ON", "OFF") else round(row_h * 1.55))
    card = (x, y, x + w, y + sum(heights))
    if st.surface == st.bg:
        p.draw.rounded_rectangle(card, radius=st.px(14), outline=st.line, width=max(1, st.px(1)))
    else:
        p.draw.rounded_rectangle(card, radius=st.px(14), fill=st.surface)
    top = y
    for i, ((label, value), h) in enumerate(zip(rows, heights, strict=True)):
        mid = top + h // 2
        if value in ("ON", "OFF"):
            p.text(x + pad, mid, label, size, anchor="lm")
            p.toggle(x + w - pad, mid, value == "ON")
        elif value == "":  # an unselected choice in a list
            p.text(x + pad, mid, label, size, anchor="lm")
            r = st.px(10)
            p.draw.ellipse(
                (x + w - pad - 2 * r, mid - r, x + w - pad, mid + r),
                outline=st.muted,
                width=max(1, st.px(1.5)),
            )
        elif h == row_h:
            p.text(x + pad, mid, label, size, fill=st.muted, anchor="lm")
            p.text(x + w - pad, mid, value, size, bold=True, anchor="rm")
        else:
            p.text(x + pad, mid - st.px(size * 0.2), label, size, fill=st.muted, anchor="ls")
            p.text(x + pad, mid + st.px(size * 0.25), value, size, bold=True, anchor="lt")
        if i < len(rows) - 1:
            p.draw.line((x + pad, top + h, x + w - pad, top + h), fill=st.line, width=1)
        top += h
    return card[3]


def _blocks(p: Painter, ev: dict, x: int, y: int, w: int, title_size: float = 27) -> int:
    """Draws the variant's title, status badge, lines, rows and buttons in a column."""
    st = p.st
    y = p.para(x, y, ev["title"], title_size, w, bold=True, spacing=1.2) + st.px(6)
    if ev.get("status"):
        y = p.pill(x, y, ev["status"], st.tone(ev.get("tone"))) + st.px(14)
    for i, line in enumerate(ev.get("lines", [])):
        if _BIG_LINE.match(line):
            y = p.para(x, y, line, 30, w, bold=True, spacing=1.25)
        else:  # secondary lines in the muted colour, as apps style sub-text
            y = p.para(x, y, line, 16, w, fill=st.fg if i == 0 else st.muted) + st.px(4)
    if ev.get("rows"):
        y = draw_rows(p, x, y + st.px(10), w, ev["rows"]) + st.px(8)
    for i, label in enumerate(ev.get("buttons", [])):
        y = p.button(x, y + st.px(12), w, label, primary=i == 0)
    return y


def render_app_screen(ev: dict, st: Style, job: Job) -> Canvas:
    """Renders a banking-app screen (phone, or a web-banking page when desktop)."""
    if ev.get("desktop") or job.rng.random() < 0.15:
        return _desktop_page(ev, st, job)
    st, image, p, y, ios = phone_frame(st, job)
    y = _nav(p, y, ev.get("header") or st.bank, ios)
    margin = st.px(20)
    top = y + st.px(18)
    bottom = _blocks(p, ev, margin, top, image.width - 2 * margin) + st.px(16)
    height = max(
        st.px(image.width / st.scale * job.rng.choice([1.78, 2.0, 2.17, 2.22])), bottom + st.px(90)
    )
    image = image.crop((0, 0, image.width, height))
    _tab_bar(Painter(image, st), height - st.px(14))
    return Canvas(image, (0, top - st.px(12), image.width, bottom))


def browser_frame(
    st: Style, job: Job, width_dp: int = 1280
) -> tuple[Style, Image.Image, Painter, int]:
    """Creates a desktop browser window; returns the y where the page starts."""
    rng = job.rng
    height_dp = rng.choice([720, 800, 860])
    st = dataclasses.replace(st, scale=job.scale_for(width_dp * 0.55, low=0.75, high=1.2))
    image = Image.new("RGB", (st.px(width_dp), st.px(height_dp)), st.bg)
    p = Painter(image, st)
    chrome = mix(st.bg, (128, 128, 128), 0.25)
    p.draw.rectangle((0, 0, image.width, st.px(76)), fill=chrome)
    p.draw.rounded_rectangle(
        (st.px(80), st.px(6), st.px(320), st.px(40)), radius=st.px(8), fill=st.bg
    )
    p.text(st.px(96), st.px(23), f"{st.bank} – Online Banking", 12, anchor="lm")
    for i, colour in enumerate([(255, 95, 86), (255, 189, 46), (39, 201, 63)]):
        cx = st.px(18 + i * 20)
        p.draw.ellipse((cx - st.px(6), st.px(17), cx + st.px(6), st.px(29)), fill=colour)
    p.draw.rounded_rectangle(
        (st.px(90), st.px(44), image.width - st.px(90), st.px(70)), radius=st.px(13), fill=st.bg
    )
    domain = st.bank.lower().replace(" ", "")
    p.text(
        st.px(110), st.px(57), f"https://app.{domain}.com/account", 12, fill=st.muted, anchor="lm"
    )
    return st, image, p, st.px(76)


def _desktop_page(ev: dict, st: Style, job: Job) -> Canvas:
    st, image, p, top = browser_frame(st, job)
    side = st.px(230)
    p.draw.rectangle(
        (0, top, side, image.height), fill=st.surface if st.surface != st.bg else st.line
    )
    p.text(st.px(24), top + st.px(34), st.bank, 20, bold=True, fill=st.accent, anchor="lm")
    active = job.rng.randrange(5)
    for i, item in enumerate(["Home", "Payments", "Cards", "Statements", "Settings"]):
        p.text(
            st.px(24),
            top + st.px(90 + 40 * i),
            item,
            15,
            bold=i == active,
            fill=st.accent if i == active else st.fg,
            anchor="lm",
        )
    x = side + st.px(60)
    p.text(x, top + st.px(34), ev.get("header") or "Overview", 14, fill=st.muted, anchor="lm")
    y0 = top + st.px(70)
    bottom = _blocks(p, ev, x, y0, st.px(520), title_size=28) + st.px(16)
    if bottom > image.height:
        image = image.crop((0, 0, image.width, bottom + st.px(30)))
    return Canvas(image, (x - st.px(24), y0 - st.px(16), x + st.px(544), bottom))


def _dummy_home(p: Painter, y: int, job: Job) -> None:
    """Fills an app screen with a generic balance + activity list (dialog background)."""
    st, w = p.st, p.image.width
    p.text(st.px(20), y + st.px(20), "Balance", 14, fill=st.muted)
    p.text(st.px(20), y + st.px(42), job.values["balance"], 34, bold=True)
    y += st.px(110)
    for name in job.rng.sample(_HOME_ROWS, 5):
        p.draw.ellipse((st.px(20), y, st.px(60), y + st.px(40)), fill=st.line)
        p.text(st.px(74), y + st.px(20), name, 15, anchor="lm")
        p.text(
            w - st.px(20),
            y + st.px(20),
            f"-{job.rng.randint(2, 60)}.{job.rng.randint(0, 99):02d}",
            15,
            anchor="rm",
        )
        y += st.px(62)


def _alert_icon(p: Painter, cx: int, cy: int, tone: str | None) -> None:
    st = p.st
    r = st.px(20)
    p.draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=st.tone(tone or "error"))
    glyph = {"success": "✓", "info": "i"}.get(tone or "", "!")
    p.text(cx, cy, glyph, 22, bold=True, fill=(255, 255, 255), anchor="mm", family="sans")


def _ios_alert(q: Painter, ev: dict) -> int:
    """Draws an iOS alert (centred text, full-width stacked buttons); returns its height."""
    st, w = q.st, q.image.width
    pad = st.px(16)
    y = q.para(pad, pad, ev["title"], 17, w - 2 * pad, bold=True, align="center") + st.px(4)
    for line in ev.get("lines", []):
        y = q.para(pad, y, line, 13.5, w - 2 * pad, align="center") + st.px(2)
    y += st.px(14)
    buttons = ev.get("buttons", ["OK"])[:3]
    for label in buttons:
        q.draw.line((0, y, w, y), fill=st.line, width=1)
        bold = label == buttons[-1]  # iOS bolds the preferred (last) action
        q.text(w // 2, y + st.px(22), label, 17, bold=bold, fill=st.accent, anchor="mm")
        y += st.px(44)
    return y


def _modal(q: Painter, ev: dict, web: bool) -> int:
    """Draws a Material dialog or a web modal (icon, title, text, right-aligned buttons)."""
    st, w = q.st, q.image.width
    pad = st.px(24)
    _alert_icon(q, pad + st.px(20) if web else w // 2, pad + st.px(20), ev.get("tone"))
    y = q.para(
        pad,
        pad + st.px(52),
        ev["title"],
        20 if web else 22,
        w - 2 * pad,
        bold=web,
        align="left" if web else "center",
    )
    y += st.px(8)
    for line in ev.get("lines", []):
        y = q.para(pad, y, line, 15, w - 2 * pad, fill=st.fg if web else st.muted)
    y += st.px(18)
    right = w - pad
    buttons = ev.get("buttons", ["OK"])
    for label in reversed(buttons):
        text = label if web else label.upper()
        tw = q.text_width(text, 15, True)
        colour = st.accent
        if web and label == buttons[-1]:  # the primary action is a filled button
            q.draw.rounded_rectangle(
                (right - tw - st.px(32), y, right, y + st.px(40)), radius=st.px(6), fill=st.accent
            )
            colour = st.on(st.accent)
        q.text(right - st.px(16), y + st.px(20), text, 15, bold=True, fill=colour, anchor="rm")
        right -= round(tw) + st.px(44)
    return y + st.px(40) + pad


def render_error_dialog(ev: dict, st: Style, job: Job) -> Canvas:
    """Renders an alert dialog over a dimmed app screen (iOS, Material or web modal)."""
    rng = job.rng
    desktop = rng.random() < 0.25
    if desktop:
        st, image, p, y = browser_frame(st, job)
        _dummy_home(p, y + p.st.px(30), job)
    else:
        st, image, p, y, _ = phone_frame(st, job)
        height = st.px(image.width / st.scale * rng.choice([1.78, 2.0, 2.17]))
        image = image.crop((0, 0, image.width, height))
        p = Painter(image, st)
        _dummy_home(p, _nav(p, y, st.bank, True), job)
    image = ImageEnhance.Brightness(image).enhance(rng.uniform(0.35, 0.6))
    style = "web" if desktop else rng.choice(["ios", "material"])
    w = st.px({"web": 460, "ios": 280, "material": 312}[style])
    # Draw on a scratch sheet first to learn the dialog height, then paste it centred.
    dialog_bg = (44, 44, 46) if st.dark else rng.choice([(255, 255, 255), (242, 242, 242)])
    sheet = Image.new("RGB", (w, st.px(700)), dialog_bg)
    line = (70, 70, 74) if st.dark else st.line
    q = Painter(sheet, dataclasses.replace(st, bg=dialog_bg, line=line))
    h = _ios_alert(q, ev) if style == "ios" else _modal(q, ev, web=style == "web")
    sheet = sheet.crop((0, 0, w, h))
    x = (image.width - w) // 2
    top = max(st.px(10), (image.height - h) // 2 - st.px(rng.randint(0, 60)))
    mask = Image.new("L", sheet.size, 0)
    radius = st.px({"ios": 14, "material": rng.choice([4, 28]), "web": 8}[style])
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, w - 1, h - 1), radius=radius, fill=255)
    image.paste(sheet, (x, top), mask)
    return Canvas(image, (x, top, x + w, top + h))
