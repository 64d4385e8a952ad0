"""Paper kinds: ``receipt`` (till or card-terminal slip) and ``statement`` (transaction table)."""

from __future__ import annotations

import dataclasses
import random

from PIL import Image, ImageChops, ImageDraw

from corpus.image_effects import place_on_surface
from corpus.image_style import Canvas, Job, Painter, Style, font, mix
from corpus.image_values import STREETS, money, parse_money

_FILLER = [
    "Coffee House",
    "TfL Travel",
    "Spotify",
    "Grocery Market",
    "Salary",
    "Uber Eats",
    "Water bill",
    "Gym membership",
    "Pharmacy",
    "Bookshop",
    "Petrol station",
]


def _receipt_lines(ev: dict, job: Job, cols: int) -> list[tuple[str, str]]:
    """Receipt content as (text, how) pairs; how is "", "bold", "big" or "center"."""
    rng, v = job.rng, job.values
    out = [
        (ev["title"].upper(), "big"),
        (f"{rng.randint(1, 220)} {rng.choice(STREETS).upper()}", "center"),
        (v["foreign_city" if ev.get("abroad") else "city"].upper(), "center"),
        ("", ""),
    ]
    stamp = f"{v['date']} {v['time']}"
    out.append((stamp, ""))
    out.append(
        (f"TID:{rng.randint(10**7, 10**8 - 1)}  MID:****{rng.randint(1000, 9999)}"[:cols], "")
    )
    out.append(("-" * cols, ""))
    for label, value in ev.get("rows", []):
        gap = max(1, cols - len(label) - len(value))
        out.append(
            (f"{label}{' ' * gap}{value}", "bold" if label in ("TOTAL", "AMOUNT", "SALE") else "")
        )
    out.append(("", ""))
    if ev.get("status"):
        out.append((ev["status"], "big"))
    out.extend((line, "center") for line in ev.get("lines", []))
    out.append(("-" * cols, ""))
    out.append(
        (rng.choice(["CARDHOLDER COPY", "CUSTOMER COPY", "PLEASE RETAIN RECEIPT"]), "center")
    )
    out.append((f"AID: A00000000{rng.choice(['31010', '41010', '43060'])}", "center"))
    if rng.random() < 0.5:
        out.append(("THANK YOU", "center"))
    return out


def render_receipt(ev: dict, st: Style, job: Job) -> Canvas:
    """Renders a thermal till or terminal slip, photographed lying on a surface."""
    rng = job.rng
    cols = rng.choice([30, 32, 36, 40])
    lines = _receipt_lines(ev, job, cols)
    # Size the font so the slip's height fills most of the target picture.
    size = max(
        11 if job.compact else 14, round(job.target * rng.uniform(0.7, 0.9) / (len(lines) * 1.45))
    )
    regular, bold = font("mono", size), font("mono", size, True)
    big = font("mono", round(size * 1.35), True)
    char = regular.getlength("M")
    pad = round(char * 2)
    width = round(char * cols) + 2 * pad
    heights = [round(size * (1.9 if how == "big" else 1.32)) for _, how in lines]
    height = sum(heights) + 2 * pad
    paper = Image.new(
        "RGBA", (width, height), mix((250, 248, 240), (232, 228, 215), rng.random()) + (255,)
    )
    d = ImageDraw.Draw(paper)
    y = pad
    ink = mix((30, 30, 40), (120, 120, 130), rng.uniform(0, 0.6))  # thermal prints fade
    for (text, how), h in zip(lines, heights, strict=True):
        if how in ("big", "center"):
            fnt = big if how == "big" else regular
            if fnt.getlength(text) > width - 2 * pad:
                fnt = bold
            d.text((width // 2, y), text, font=fnt, fill=ink, anchor="ma")
        else:
            d.text((pad, y), text, font=bold if how == "bold" else regular, fill=ink)
        y += h
    # Torn top and bottom edges: a zigzag cut into the alpha channel.
    teeth = max(4, round(char * 0.6))
    cut = ImageDraw.Draw(alpha := paper.getchannel("A"))
    for x in range(0, width, teeth * 2):
        cut.polygon([(x, 0), (x + teeth, teeth), (x + 2 * teeth, 0)], fill=0)
        cut.polygon([(x, height), (x + teeth, height - teeth), (x + 2 * teeth, height)], fill=0)
    paper.putalpha(alpha)
    return place_on_surface(paper, rng, rng.uniform(-7, 7), rng.uniform(0.03, 0.15))


def _statement_rows(ev: dict, job: Job) -> tuple[list[list[str]], set[int]]:
    """Mixes the variant's rows with ordinary filler transactions.

    Returns:
        The rows, and the indices of the variant's (evidence) rows among them.
    """
    rng, cur = job.rng, job.values["currency"]
    rows = [list(r) for r in ev["rows"]]
    n_filler = rng.randint(1, 4)
    at = rng.randint(0, n_filler)
    filler = []
    for name in rng.sample(_FILLER, n_filler):
        sign = "+" if name == "Salary" else "-"
        value = rng.uniform(900, 2600) if name == "Salary" else rng.uniform(2, 90)
        filler.append(
            [
                rng.choice([job.values["date"], job.values["date2"]]),
                name,
                money(value, cur, sign=sign),
            ]
        )
    evidence = set(range(at, at + len(rows)))
    return filler[:at] + rows + filler[at:], evidence


def render_statement(ev: dict, st: Style, job: Job) -> Canvas:
    """Renders a statement page (PDF viewer screenshot or photographed print-out)."""
    rng, v = job.rng, job.values
    wide = not job.compact and rng.random() < 0.6
    page_w = 780 if wide else 540
    st = dataclasses.replace(
        st, scale=job.scale_for(page_w, low=0.85 if job.compact else 1.0, high=1.8)
    )
    rows, evidence = _statement_rows(ev, job)
    page = Image.new(
        "RGB",
        (st.px(page_w), st.px(300 + 48 * len(rows) + 30 * len(ev.get("lines", [])))),
        (255, 255, 255),
    )
    p = Painter(
        page, dataclasses.replace(st, fg=(25, 25, 30), muted=(100, 100, 110), line=(215, 215, 222))
    )
    px, m = st.px, st.px(32)
    p.draw.rectangle((m, m, m + px(26), m + px(26)), fill=st.accent)
    p.text(m + px(36), m + px(13), st.bank, 20, bold=True, fill=st.accent, anchor="lm")
    p.text(page.width - m, m, "Account statement", 15, bold=True, anchor="ra")
    p.text(
        page.width - m, m + px(22), f"Issued {v['future_date']}", 12, fill=p.st.muted, anchor="ra"
    )
    p.text(m, m + px(50), v["name"], 13)
    p.text(m, m + px(68), f"Account ending {v['account']} · {v['currency']}", 12, fill=p.st.muted)
    top = m + px(100)
    y = p.para(m, top, ev.get("title", "Transactions"), 15, page.width - 2 * m, bold=True) + px(6)
    cols = (
        ["Date", "Description", "Money out", "Money in", "Balance"]
        if wide
        else ["Date", "Description", "Amount"]
    )
    # Column widths (px) from the widest cell so that dates and amounts never overlap.
    date_w = max(p.text_width(r[0], 12.5) for r in rows) + px(14)
    amount_w = max(max(p.text_width(r[2], 12.5) for r in rows) + px(14), px(84))
    widths = [round(date_w), 0] + [round(amount_w)] * (len(cols) - 2)
    widths[1] = page.width - 2 * m - sum(widths)
    xs = [m]
    for w in widths[:-1]:
        xs.append(xs[-1] + w)
    p.draw.rectangle((m, y, page.width - m, y + px(28)), fill=mix(st.accent, (255, 255, 255), 0.85))
    for i, name in enumerate(cols):
        right = i >= 2
        p.text(
            xs[i] + (widths[i] - px(6) if right else px(6)),
            y + px(14),
            name,
            12,
            bold=True,
            anchor="rm" if right else "lm",
        )
    y += px(28)
    balance = parse_money(v["balance"])
    balances = []
    for row in reversed(rows):  # running balance, newest row last
        balances.append(balance)
        balance -= parse_money(row[2])
    balances.reverse()
    marks = []
    for i, (date, desc, amount) in enumerate(rows):
        desc_lines = p.wrap(desc, 12.5, widths[1] - px(12))[:2]
        h = px(16 + 17 * len(desc_lines))
        p.text(xs[0] + px(6), y + px(8), date, 12.5)
        for j, line in enumerate(desc_lines):
            p.text(xs[1] + px(6), y + px(8 + 17 * j), line, 12.5)
        if wide:
            out_in = (
                (amount.lstrip("-+"), "") if amount.startswith("-") else ("", amount.lstrip("+"))
            )
            cells = [*out_in, money(balances[i], v["currency"])]
        else:
            cells = [amount]
        for k, cell in enumerate(cells):
            p.text(xs[2 + k] + widths[2 + k] - px(6), y + px(8), cell, 12.5, anchor="ra")
        if i in evidence:
            marks.append((y, y + h))
        y += h
        p.draw.line((m, y, page.width - m, y), fill=p.st.line, width=1)
    for line in ev.get("lines", []):
        y = p.para(m, y + px(10), line, 12, page.width - 2 * m, fill=p.st.muted)
    bottom = y + px(12)
    if ev.get("highlight") and marks and rng.random() < 0.75:
        _mark_rows(page, marks, m, page.width - m, st, rng)
    page = page.crop((0, 0, page.width, max(bottom + px(40), page.height // 2)))
    if rng.random() < 0.35:  # printed, and the transactions part photographed
        part = page.crop((0, top - px(rng.choice([8, 60, 100])), page.width, bottom + px(16)))
        margin = rng.uniform(0.02, 0.06) if job.compact else rng.uniform(0.03, 0.12)
        return place_on_surface(part.convert("RGBA"), rng, rng.uniform(-4, 4), margin)
    gap = px(rng.choice([0, 24, 40]))
    viewer = Image.new("RGB", (page.width + 2 * gap, page.height + 2 * gap), (82, 86, 89))
    viewer.paste(page, (gap, gap))
    return Canvas(
        viewer, (gap + m - px(8), gap + top - px(8), gap + page.width - m + px(8), gap + bottom)
    )


def _mark_rows(
    page: Image.Image, marks, left: int, right: int, st: Style, rng: random.Random
) -> None:
    """Marks evidence rows the way customers do: highlighter, red box or red ellipse."""
    how = rng.choice(["highlighter", "box", "ellipse"])
    top, bottom = marks[0][0], marks[-1][1]
    if how == "highlighter":  # multiply keeps the text dark under the yellow
        region = (left, top + 2, right, bottom - 2)
        marker = Image.new("RGB", (right - left, bottom - top - 4), (255, 236, 80))
        page.paste(ImageChops.multiply(page.crop(region), marker), region[:2])
        return
    d = ImageDraw.Draw(page)
    width = max(2, st.px(2.5))
    red = (220, 30, 40)
    if how == "box":
        d.rectangle((left - 4, top - 3, right + 4, bottom + 3), outline=red, width=width)
    else:
        d.ellipse(
            (left - st.px(14), top - st.px(8), right + st.px(14), bottom + st.px(8)),
            outline=red,
            width=width,
        )
