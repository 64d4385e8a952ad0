"""Message kinds: ``notification`` (lock screen / notification shade) and ``email``."""

from __future__ import annotations

import dataclasses

from PIL import Image, ImageDraw, ImageEnhance

from corpus.image_screens import browser_frame, draw_rows, phone_frame
from corpus.image_style import Canvas, Job, Painter, Style, mix


def _wallpaper(size: tuple[int, int], job: Job) -> Image.Image:
    """Smooth two-colour gradient with soft blobs, drawn small and upscaled (cheap blur)."""
    rng = job.rng
    small = Image.new("RGB", (24, 48))
    a = tuple(rng.randint(0, 200) for _ in range(3))
    b = tuple(rng.randint(0, 120) for _ in range(3))
    d = ImageDraw.Draw(small)
    for row in range(48):
        d.line((0, row, 24, row), fill=mix(a, b, row / 47))  # type: ignore[arg-type]
    for _ in range(3):
        cx, cy, r = rng.randint(0, 24), rng.randint(0, 48), rng.randint(4, 12)
        d.ellipse(
            (cx - r, cy - r, cx + r, cy + r), fill=tuple(rng.randint(40, 255) for _ in range(3))
        )
    return small.resize((8, 16), Image.Resampling.BOX).resize(size, Image.Resampling.BILINEAR)


def _lock_screen_top(p: Painter, job: Job, ios: bool) -> int:
    """Draws the clock (iOS lock screen) or quick-settings row (Android shade); returns y."""
    st, rng, w = p.st, job.rng, p.image.width
    white = (255, 255, 255)
    clock = f"{rng.randint(7, 23)}:{rng.randint(0, 59):02d}"
    if ios:
        p.text(w // 2, st.px(70), job.values["date"], 17, bold=True, fill=white, anchor="mm")
        family = rng.choice(["light", "sans"])
        p.text(w // 2, st.px(130), clock, 80, fill=white, anchor="mm", family=family)
        return st.px(rng.randint(210, 300))
    p.text(st.px(20), st.px(24), clock, 14, fill=white, anchor="lm")
    for i in range(4):  # quick-settings tiles
        cx = st.px(50 + 90 * i)
        box = (cx - st.px(24), st.px(60), cx + st.px(24), st.px(108))
        p.draw.ellipse(box, fill=(70, 70, 80, 255))
    return st.px(140)


def _notification_card(p: Painter, y: int, item: dict, when: str, ios: bool, dark: bool) -> int:
    """Draws one notification (app icon, app name/time, title, body); returns the y below it."""
    st, w = p.st, p.image.width
    fill = (40, 40, 44, 215) if dark else (250, 250, 250, 215)  # translucent over the wallpaper
    ink, muted = ((240, 240, 244), (160, 160, 170)) if dark else ((20, 20, 24), (110, 110, 118))
    margin, pad = st.px(10), st.px(14)
    app = item.get("app") or st.bank
    inner = w - 2 * margin - 2 * pad - st.px(48 if ios else 0)
    body = " ".join(item.get("lines", []))
    n_lines = min(len(p.wrap(body, 15, inner)), 4)
    height = pad * 2 + st.px(20 if ios else 44) + st.px(20) * n_lines + st.px(4)
    radius = st.px(20 if ios else 24)
    p.draw.rounded_rectangle((margin, y, w - margin, y + height), radius=radius, fill=fill)
    icon = (52, 199, 89) if app in ("Messages", "Find My") else st.accent
    x0, y0 = margin + pad, y + pad
    if ios:
        size = st.px(38)
        p.draw.rounded_rectangle((x0, y0, x0 + size, y0 + size), radius=st.px(9), fill=icon)
        p.text(
            x0 + size // 2, y0 + size // 2, app[0], 20, bold=True, fill=(255, 255, 255), anchor="mm"
        )
        tx = x0 + st.px(50)
        p.text(tx, y0, item["title"], 15, bold=True, fill=ink)
        p.text(w - margin - pad, y0, when, 13, fill=muted, anchor="ra")
        p.para(tx, y0 + st.px(21), body, 15, inner, fill=ink, spacing=1.3, max_lines=4)
    else:
        p.draw.ellipse((x0, y0, x0 + st.px(18), y0 + st.px(18)), fill=icon)
        p.text(x0 + st.px(26), y0 + st.px(9), f"{app} • {when}", 12, fill=muted, anchor="lm")
        p.text(x0, y0 + st.px(26), item["title"], 15, bold=True, fill=ink)
        p.para(x0, y0 + st.px(48), body, 15, inner, fill=ink, spacing=1.3, max_lines=4)
    return y + height + st.px(8)


def render_notification(ev: dict, st: Style, job: Job) -> Canvas:
    """Renders push notifications on a lock screen (iOS) or in a notification shade (Android)."""
    rng = job.rng
    width_dp = rng.choice([375, 390, 412])
    scale = job.scale_for(width_dp * 1.6, low=0.8 if job.compact else 1.0)
    st = dataclasses.replace(st, scale=scale)
    w = st.px(width_dp)
    h = round(w * rng.choice([2.0, 2.17]))
    ios = rng.random() < 0.6
    base = _wallpaper((w, h), job)
    if not ios:  # the Android shade darkens what is behind it
        base = ImageEnhance.Brightness(base).enhance(0.35)
    layer = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    p = Painter(layer, st)
    top = y = _lock_screen_top(p, job, ios)
    items = [{"title": ev["title"], "lines": ev.get("lines", []), "app": ev.get("app")}]
    for i, item in enumerate(items + ev.get("more", [])):
        when = "now" if i == 0 else f"{rng.randint(2, 50)}m ago"
        y = _notification_card(p, y, item, when, ios, dark=st.dark and ios)
    image = Image.alpha_composite(base.convert("RGBA"), layer).convert("RGB")
    return Canvas(image, (0, top - st.px(8), w, y))


def render_email(ev: dict, st: Style, job: Job) -> Canvas:
    """Renders an email as opened in a phone mail app or in desktop webmail."""
    rng = job.rng
    domain = st.bank.lower().replace(" ", "")
    sender = ev.get("sender") or f"{st.bank} <no-reply@{domain}.com>"
    if rng.random() < 0.3:
        st, image, p, y = browser_frame(st, job)
        x, w = st.px(260), st.px(620)
        p.draw.rectangle(
            (0, y, st.px(220), image.height), fill=st.surface if st.surface != st.bg else st.line
        )
        for i, folder in enumerate(["Inbox", "Starred", "Sent", "Drafts", "Spam"]):
            p.text(st.px(30), y + st.px(40 + 36 * i), folder, 14, bold=i == 0, anchor="lm")
    else:
        st, image, p, y, _ = phone_frame(st, job)
        p.text(st.px(12), y + st.px(24), "‹ Inbox", 17, fill=st.accent, anchor="lm")
        y += st.px(12)
        x, w = st.px(18), image.width - st.px(36)
    top = y + st.px(30)
    y = p.para(x, top, ev["title"], 22, w, bold=True, spacing=1.25) + st.px(12)
    name = sender.split("<")[0].strip()
    p.draw.ellipse((x, y, x + st.px(40), y + st.px(40)), fill=mix(st.accent, (128, 128, 128), 0.2))
    p.text(x + st.px(20), y + st.px(20), name[:1], 18, bold=True, fill=(255, 255, 255), anchor="mm")
    p.text(x + st.px(52), y + st.px(2), name, 15, bold=True)
    address = sender.split("<")[-1].rstrip(">") if "<" in sender else "to me"
    p.text(x + st.px(52), y + st.px(22), address, 12, fill=st.muted)
    p.text(x + w, y + st.px(2), job.values["date"], 12, fill=st.muted, anchor="ra")
    y += st.px(58)
    p.draw.line((x, y, x + w, y), fill=st.line, width=1)
    y += st.px(16)
    if ev.get("sender") is None:  # bank emails open with a brand bar
        p.draw.rectangle((x, y, x + w, y + st.px(44)), fill=st.accent)
        brand = st.on(st.accent)
        p.text(x + st.px(16), y + st.px(22), st.bank, 18, bold=True, fill=brand, anchor="lm")
        y += st.px(60)
    for line in ev.get("lines", []):
        y = p.para(x, y, line, 15, w) + st.px(6)
    if ev.get("rows"):
        y = draw_rows(p, x, y + st.px(6), w, ev["rows"], size=14) + st.px(6)
    for label in ev.get("buttons", []):
        width = min(w, st.px(260))
        y = p.button(x, y + st.px(12), width, label, size=15, radius=st.px(6)) + st.px(6)
    end = y + st.px(10)
    footer = f"© {name}. This is an automated message, please do not reply."
    y = p.para(x, end + st.px(14), footer, 11, w, fill=st.muted)
    # Phone canvases are drawn extra tall; cut back to a screen (or a longer scrolling capture).
    height = max(y + st.px(20), min(image.height, round(image.width * 2.1)))
    image = image.crop((0, 0, image.width, height))
    if job.compact:  # the subject and first paragraphs carry the evidence; keep them legible
        end = min(end, top + st.px(420))
    box = (max(0, x - st.px(12)), top - st.px(12), min(image.width, x + w + st.px(12)), end)
    return Canvas(image, box)
