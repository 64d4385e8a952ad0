"""Evidence pictures: coverage of the intents, determinism, formats and size budgets."""

import io
import json
import random
import re

import pytest
from PIL import Image

from corpus import images
from corpus.image_values import placeholder_values
from tests.shared_data import SHARED_DATA

CATEGORIES = SHARED_DATA / "banking77" / "categories.json"
PLACEHOLDER = re.compile(r"\{[a-z_0-9]+\}")
PIL_FORMATS = {"png": "PNG", "jpg": "JPEG", "webp": "WEBP"}


def _decode(rendered: images.RenderedImage) -> Image.Image:
    image = Image.open(io.BytesIO(rendered.data))
    image.load()
    return image


@pytest.fixture(scope="module")
def compact_renders() -> list[images.RenderedImage]:
    """One compact picture per intent (seeded), shared by the tests below."""
    return [
        images.render_evidence(intent, random.Random(i), compact=True)
        for i, intent in enumerate(images.evidence_intents())
    ]


@pytest.mark.skipif(
    not CATEGORIES.exists(), reason=f"BANKING77 categories not found at {CATEGORIES}"
)
def test_every_banking77_intent_has_evidence():
    categories = json.loads(CATEGORIES.read_text(encoding="utf-8"))
    assert len(categories) == 77
    assert set(categories) <= set(images.evidence_intents())
    assert "out_of_scope" not in images.evidence_intents()


def test_variants_are_well_formed_and_fill_for_any_values():
    for intent in images.evidence_intents():
        variants = images.evidence_variants(intent)
        assert 3 <= len(variants) <= 5, intent
        for seed in range(3):
            values = placeholder_values(random.Random(seed))
            for variant in variants:
                filled = images.fill_variant(variant, values)
                assert filled["kind"] in images.KINDS
                assert not PLACEHOLDER.search(json.dumps(filled)), (intent, filled)


def test_similar_intents_have_different_evidence_texts():
    def texts(intent: str) -> set[str]:
        return {json.dumps(v, sort_keys=True) for v in images.evidence_variants(intent)}

    pairs = [
        ("pending_transfer", "failed_transfer"),
        ("card_payment_fee_charged", "transfer_fee_charged"),
        ("declined_card_payment", "declined_cash_withdrawal"),
        ("pending_top_up", "top_up_failed"),
    ]
    for a, b in pairs:
        assert not texts(a) & texts(b), (a, b)


def test_rendering_is_deterministic_for_a_seed():
    for compact in (True, False):
        first = images.render_evidence("declined_card_payment", random.Random(7), compact)
        again = images.render_evidence("declined_card_payment", random.Random(7), compact)
        other = images.render_evidence("declined_card_payment", random.Random(8), compact)
        assert first == again
        assert first.data != other.data


def test_rendering_ignores_global_random_state():
    random.seed(1)
    first = images.render_evidence("card_arrival", random.Random(3), compact=True)
    random.seed(2)
    assert images.render_evidence("card_arrival", random.Random(3), compact=True) == first


def test_outputs_decode_in_the_claimed_format(compact_renders):
    for rendered in compact_renders:
        image = _decode(rendered)
        assert image.format == PIL_FORMATS[rendered.extension]
        assert rendered.kind in images.KINDS
        assert max(image.size) <= 480 and min(image.size) >= 32
    assert len({r.kind for r in compact_renders}) >= 6  # the sample mixes the visual kinds


def test_compact_pictures_stay_within_the_size_budget(compact_renders):
    sizes = [len(r.data) for r in compact_renders[:40]]
    assert 4_000 < sum(sizes) / len(sizes) <= 25_000
    assert max(sizes) <= images.COMPACT_MAX_BYTES


def test_full_size_pictures_are_larger_but_bounded():
    intents = images.evidence_intents()
    renders = [images.render_evidence(intents[i * 7], random.Random(i)) for i in range(8)]
    for rendered in renders:
        image = _decode(rendered)
        assert image.format == PIL_FORMATS[rendered.extension]
        assert max(image.size) <= 1200
        assert len(rendered.data) <= images.FULL_MAX_BYTES


@pytest.mark.parametrize("intent", ["no_such_intent", "out_of_scope"])
def test_unknown_intent_raises_value_error_naming_it(intent):
    with pytest.raises(ValueError, match=intent):
        images.render_evidence(intent, random.Random(0))


def test_unrelated_photo_is_a_deterministic_real_photo():
    first = images.render_unrelated_photo(random.Random(4), compact=True)
    assert first == images.render_unrelated_photo(random.Random(4), compact=True)
    assert first.kind == "photo"
    image = _decode(first)
    assert image.format == PIL_FORMATS[first.extension]
    assert max(image.size) <= 480
    assert len(first.data) <= images.COMPACT_MAX_BYTES
