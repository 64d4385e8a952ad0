"""Renders the pictures customers attach to support messages.

Evidence pictures are described in ``evidence.json``, which maps each BANKING77 intent to 3-5
variants. A variant is an object with these keys (all but ``kind`` optional):

* ``kind``: the visual kind, one of :data:`KINDS`;
* ``title``: screen/dialog/notification title, email subject, receipt header or ATM message
  (for ``card_photo``: the heading of the carrier letter or sticker);
* ``lines``: body text lines;
* ``rows``: ``[label, value]`` pairs (statements: ``[date, description, signed amount]``;
  the values ``ON``/``OFF`` draw a switch, ``""`` an unselected choice);
* ``status`` and ``tone``: badge text or emphasised receipt line, and its colour
  (``error``, ``warning``, ``success``, ``info``);
* ``buttons``: action buttons (ATM: the side-key options);
* ``header``: app screen name; ``desktop``: show an app screen as web banking;
* ``sender``: email sender "Name <address>" (default: the bank);
* ``app`` and ``more``: notification app name, further (older) notifications;
* ``highlight``: the customer marked the statement rows; ``abroad``: receipt printed abroad;
* ``features`` and ``paper`` (``card_photo``): ``contactless``, ``cracked``, ``worn_chip``,
  ``expiring``, ``visa``, ``mastercard``, ``circle_expiry``, ``circle_network``; paper
  ``letter`` (card glued to its carrier letter) or ``sticker``.

Texts hold ``{placeholders}`` filled per picture by
:func:`corpus.image_values.placeholder_values`. Out-of-scope turns have no evidence and use
:func:`render_unrelated_photo` instead.

Every random choice comes from the ``random.Random`` passed in, so a seed gives byte-identical
pictures.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import random
from pathlib import Path

from PIL import Image, ImageEnhance, ImageOps

from corpus.image_effects import (
    COMPACT_MAX_BYTES,
    FULL_MAX_BYTES,
    degrade,
    encode_within,
    finish,
    fit,
)
from corpus.image_messages import render_email, render_notification
from corpus.image_objects import render_atm_screen, render_card_photo
from corpus.image_paper import render_receipt, render_statement
from corpus.image_screens import render_app_screen, render_error_dialog
from corpus.image_style import Job, random_style
from corpus.image_values import placeholder_values

EVIDENCE_PATH = Path(__file__).with_name("evidence.json")
KINDS = {
    "app_screen": render_app_screen,
    "error_dialog": render_error_dialog,
    "notification": render_notification,
    "receipt": render_receipt,
    "statement": render_statement,
    "card_photo": render_card_photo,
    "email": render_email,
    "atm_screen": render_atm_screen,
}
# Font families and chance of a dark theme per kind: paper is never dark, receipts are mono.
_LOOK = {
    "app_screen": (["sans", "sans", "condensed", "serif"], 0.35),
    "error_dialog": (["sans", "sans", "condensed"], 0.3),
    "notification": (["sans", "condensed"], 0.3),
    "email": (["sans", "serif", "sans"], 0.2),
    "statement": (["sans", "serif", "mono", "condensed"], 0.0),
    "receipt": (["mono"], 0.0),
    "card_photo": (["sans"], 0.0),
    "atm_screen": (["sans"], 0.0),
}
# Keys of a variant that are settings rather than text to fill.
_SETTINGS = {"kind", "tone", "features", "paper", "highlight", "desktop", "abroad"}
# Bundled scikit-image photographs that load offline (no pooch download).
PHOTOS = [
    "astronaut",
    "brick",
    "camera",
    "chelsea",
    "clock",
    "coffee",
    "coins",
    "grass",
    "gravel",
    "hubble_deep_field",
    "immunohistochemistry",
    "moon",
    "retina",
    "rocket",
    "stereo_motorcycle",
]


@dataclasses.dataclass(frozen=True)
class RenderedImage:
    """An encoded picture ready to be written next to a conversation turn."""

    data: bytes  # encoded file bytes
    extension: str  # "png" | "jpg" | "webp"
    kind: str  # the visual kind, e.g. "app_screen", or "photo" for unrelated photos


@functools.lru_cache(maxsize=1)
def _evidence() -> dict[str, list[dict]]:
    with EVIDENCE_PATH.open(encoding="utf-8") as f:
        table = json.load(f)
    for intent, variants in table.items():
        for variant in variants:
            if variant.get("kind") not in KINDS:
                raise ValueError(
                    f"{EVIDENCE_PATH.name}: {intent}: unknown kind {variant.get('kind')!r}"
                )
    return {intent: variants for intent, variants in table.items() if variants}


def evidence_intents() -> list[str]:
    """Intents that have at least one evidence variant in ``evidence.json``."""
    return list(_evidence())


def evidence_variants(intent: str) -> list[dict]:
    """The unfilled evidence variants of ``intent`` (copies; raises ValueError if unknown)."""
    if intent not in _evidence():
        raise ValueError(f"no evidence pictures for intent {intent!r}")
    return json.loads(json.dumps(_evidence()[intent]))


def fill_variant(variant: dict, values: dict[str, str]) -> dict:
    """Fills the ``{placeholders}`` of every text in ``variant``.

    Args:
        variant: A variant from ``evidence.json``.
        values: Placeholder values, see :func:`corpus.image_values.placeholder_values`.

    Returns:
        A new variant whose texts are filled.

    Raises:
        KeyError: A placeholder has no value.
    """

    def fill(node):
        if isinstance(node, str):
            return node.format_map(values)
        if isinstance(node, list):
            return [fill(item) for item in node]
        if isinstance(node, dict):
            return {k: (v if k in _SETTINGS else fill(v)) for k, v in node.items()}
        return node

    return fill(variant)


def render_evidence(intent: str, rng: random.Random, compact: bool = False) -> RenderedImage:
    """Renders one evidence picture for ``intent``.

    Args:
        intent: A BANKING77 intent listed by :func:`evidence_intents`.
        rng: The only source of randomness; the same state gives the same bytes.
        compact: Small picture (longest side 320-480 px, about 8-25 KB) for the committed sample.

    Returns:
        The encoded picture.

    Raises:
        ValueError: ``intent`` has no evidence (unknown intent or out of scope).
    """
    variant = rng.choice(evidence_variants(intent))
    values = placeholder_values(rng)
    ev = fill_variant(variant, values)
    kind = ev["kind"]
    target = rng.randint(320, 480) if compact else rng.randint(600, 1100)
    families, dark_p = _LOOK[kind]
    style = random_style(rng, 1.0, values["bank"], families, dark_p)
    canvas = KINDS[kind](ev, style, Job(rng, values, target, compact))
    data, extension = finish(canvas, rng, target, compact)
    return RenderedImage(data, extension, kind)


@functools.lru_cache(maxsize=len(PHOTOS))
def _photo(name: str) -> Image.Image:
    from skimage import data as skdata  # heavy import; only needed for out-of-scope turns

    array = getattr(skdata, name)()
    if isinstance(array, tuple):  # stereo_motorcycle returns (left, right, disparity)
        array = array[0]
    return Image.fromarray(array).convert("RGB")


def render_unrelated_photo(rng: random.Random, compact: bool = False) -> RenderedImage:
    """Renders a real photograph unrelated to banking (for out-of-scope turns).

    Args:
        rng: The only source of randomness.
        compact: Small picture for the committed sample.

    Returns:
        The encoded picture, kind "photo".
    """
    photo = _photo(rng.choice(PHOTOS))
    w, h = photo.size
    area, aspect = rng.uniform(0.35, 1.0), rng.uniform(0.6, 1.7)
    cw = min(w, round((w * h * area * aspect) ** 0.5))
    ch = min(h, round((w * h * area / aspect) ** 0.5))
    x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
    image = photo.crop((x, y, x + cw, y + ch))
    if rng.random() < 0.5:
        image = ImageOps.mirror(image)
    target = rng.randint(320, 480) if compact else rng.randint(480, 1000)
    image = fit(image, target, rng)
    for enhancer in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
        image = enhancer(image).enhance(rng.uniform(0.85, 1.15))
    image = degrade(image, rng, photo=rng.random() < 0.5)
    fmt = "jpg" if rng.random() < 0.7 else ("webp" if compact or rng.random() < 0.8 else "png")
    quality = rng.randint(60, 80) if compact else rng.randint(65, 92)
    data, fmt = encode_within(
        image, fmt, quality, 0, COMPACT_MAX_BYTES if compact else FULL_MAX_BYTES
    )
    return RenderedImage(data, fmt, "photo")
