"""The Transform graph: text, image and audio preprocessing, labels, and the export.

Unit tests call each module's functions eagerly. The slow tests run `preprocessing_fn`
through `tft_beam.AnalyzeAndTransformDataset` on a tiny mixed dataset, export the
transform graph, and load it in a fresh process that imports only tensorflow and
tensorflow_text (what TF Serving's stock binary has): every op must be registered
there, and the graph must give the same features as the Beam run.
"""

import io
import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras_hub
import numpy as np
import pytest
import soundfile
import tensorflow as tf
from google.protobuf import text_format
from PIL import Image
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_metadata.proto.v0 import schema_pb2

import schemas
from models import (
    audio_features,
    efficientnet_lite,
    features,
    image_preprocessing,
    preprocessing,
    text_preprocessing,
)

SAMPLE_RATE = features.AUDIO_SAMPLE_RATE
RED = (255, 0, 0)
# Resampling a flat colour comes back within float32 rounding of it.
PIXEL_ATOL = 1e-5


# === Fixture data ===


def png_bytes(size=(300, 150), color=RED, mode="RGB") -> bytes:
    """A solid PNG of (width, height) `size`."""
    buffer = io.BytesIO()
    Image.new(mode, size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg_bytes(size=(120, 240), color=RED) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def tone(seconds: float, frequency: float = 1000.0, noise: float = 0.01) -> np.ndarray:
    """A sine at `frequency` Hz plus a little seeded white noise (every band has energy)."""
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    rng = np.random.default_rng(0)
    return 0.5 * np.sin(2 * np.pi * frequency * t) + noise * rng.standard_normal(t.size)


def wav_bytes(waveform: np.ndarray, sample_rate: int = SAMPLE_RATE) -> bytes:
    """16-bit PCM WAV bytes, as ingestion writes them."""
    buffer = io.BytesIO()
    soundfile.write(buffer, waveform, sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def pcm16(waveform: np.ndarray) -> np.ndarray:
    """The waveform as decoded back from `wav_bytes` (PCM16-quantized)."""
    return soundfile.read(io.BytesIO(wav_bytes(waveform)), dtype="float64")[0]


# === Text ===

SENTENCES = [
    "I still haven't received my new card, it's been 2 weeks!",
    "Why was I charged an extra fee for my top-up?",
    "My PIN is blocked; how do I unblock it?",
    "The exchange rate for EUR->USD seems wrong (1.08 vs 1.12).",
    "see attached",
    "Hello   there\tcan you help me with a refund of $25.50 from Amazon Marketplace",
    " ".join(["please cancel the transfer I made yesterday to my landlord"] * 6),
]


@pytest.fixture(scope="module")
def vocabulary_path():
    return text_preprocessing.text_vocabulary_path()


@pytest.fixture(scope="module")
def tokenizer(vocabulary_path):
    return text_preprocessing.make_text_tokenizer(vocabulary_path)


@pytest.fixture(scope="module")
def special_ids(vocabulary_path):
    return text_preprocessing.special_token_ids(vocabulary_path)


def tokenize(texts, tokenizer, special_ids):
    texts = tf.constant(texts)
    outputs = text_preprocessing.tokenize_text(
        texts, text_preprocessing.text_present(texts), tokenizer, special_ids
    )
    return {key: value.numpy() for key, value in outputs.items()}


def test_tokenization_matches_keras_hub_bert_preprocessor(vocabulary_path, tokenizer, special_ids):
    reference_tokenizer = keras_hub.models.BertTokenizer(vocabulary=vocabulary_path, lowercase=True)
    reference = keras_hub.models.BertTextClassifierPreprocessor(
        reference_tokenizer, sequence_length=features.TEXT_SEQUENCE_LENGTH
    )(tf.constant(SENTENCES))
    actual = tokenize(SENTENCES, tokenizer, special_ids)

    np.testing.assert_array_equal(actual[features.TEXT_TOKEN_IDS_KEY], reference["token_ids"])
    np.testing.assert_array_equal(actual[features.TEXT_SEGMENT_IDS_KEY], reference["segment_ids"])
    np.testing.assert_array_equal(
        actual[features.TEXT_PADDING_MASK_KEY], np.asarray(reference["padding_mask"], np.int64)
    )
    # The last sentence is over-long: truncated to exactly the sequence length, ending in [SEP].
    assert actual[features.TEXT_PADDING_MASK_KEY][-1].sum() == features.TEXT_SEQUENCE_LENGTH
    assert actual[features.TEXT_TOKEN_IDS_KEY][-1, -1] == reference_tokenizer.sep_token_id


def test_tokenization_output_types_and_markers(tokenizer, special_ids):
    actual = tokenize(["my card has not arrived"], tokenizer, special_ids)
    ids = actual[features.TEXT_TOKEN_IDS_KEY][0]
    length = actual[features.TEXT_PADDING_MASK_KEY][0].sum()

    for value in actual.values():
        assert value.dtype == np.int64
        assert value.shape == (1, features.TEXT_SEQUENCE_LENGTH)
    assert ids[0] == special_ids[text_preprocessing.CLS_TOKEN]
    assert ids[length - 1] == special_ids[text_preprocessing.SEP_TOKEN]
    assert (ids[length:] == special_ids[text_preprocessing.PAD_TOKEN]).all()
    assert (actual[features.TEXT_SEGMENT_IDS_KEY] == 0).all()


@pytest.mark.parametrize("length", [0, 3, 8])
def test_a_text_that_fits_is_kept_whole_by_either_truncation(length):
    wordpieces = tf.ragged.constant([list(range(1, length + 1))], tf.int64)
    for truncation in text_preprocessing.TRUNCATIONS:
        kept = text_preprocessing.truncate(wordpieces, 8, truncation)
        assert kept.to_list() == [list(range(1, length + 1))]


def test_head_tail_keeps_the_first_quarter_and_the_last_three_quarters_in_order():
    wordpieces = tf.ragged.constant([list(range(1, 21)), list(range(1, 10)), [7]], tf.int64)

    head_tail = text_preprocessing.truncate(wordpieces, 8, "head_tail").to_list()
    head = text_preprocessing.truncate(wordpieces, 8, "head").to_list()

    # round(0.25 * 8) = 2 from the head, 6 from the tail; each row on its own.
    assert head_tail == [[1, 2, 15, 16, 17, 18, 19, 20], [1, 2, 4, 5, 6, 7, 8, 9], [7]]
    assert head == [list(range(1, 9)), list(range(1, 9)), [7]]


def test_an_unknown_truncation_or_an_empty_budget_is_refused():
    wordpieces = tf.ragged.constant([[1, 2, 3]], tf.int64)
    with pytest.raises(ValueError, match="truncation must be one of"):
        text_preprocessing.truncate(wordpieces, 2, "tail")
    with pytest.raises(ValueError, match="at least 1"):
        text_preprocessing.truncate(wordpieces, 0, "head")


def test_head_tail_tokenization_keeps_the_question_at_the_end_of_a_long_message(
    tokenizer, special_ids
):
    texts = tf.constant([LONG_TEXT, "card arrived"])
    present = text_preprocessing.text_present(texts)
    outputs = {
        truncation: text_preprocessing.tokenize_text(
            texts, present, tokenizer, special_ids, truncation=truncation
        )[features.TEXT_TOKEN_IDS_KEY].numpy()
        for truncation in text_preprocessing.TRUNCATIONS
    }
    vocabulary = Path(text_preprocessing.text_vocabulary_path()).read_text("utf-8")
    fee = vocabulary.splitlines().index("fee")

    for ids in outputs.values():
        assert ids[0, 0] == special_ids[text_preprocessing.CLS_TOKEN]
        assert ids[0, -1] == special_ids[text_preprocessing.SEP_TOKEN]
    assert fee in outputs["head_tail"][0] and fee not in outputs["head"][0]
    # The story's first words survive in both; a short text is the same in both.
    np.testing.assert_array_equal(outputs["head_tail"][0, :5], outputs["head"][0, :5])
    np.testing.assert_array_equal(outputs["head_tail"][1], outputs["head"][1])


def test_uncased_tokenization_strips_accents_as_the_checkpoint_was_trained(tokenizer, special_ids):
    # Hugging Face's uncased BertTokenizer lowercases and strips accents (KerasHub's
    # BertTokenizer lowercases only, so "café" would be [UNK] there).
    actual = tokenize(
        ["Café déjà vu, NAÏVE résumé", "cafe deja vu, naive resume"], tokenizer, special_ids
    )
    ids = actual[features.TEXT_TOKEN_IDS_KEY]
    np.testing.assert_array_equal(ids[0], ids[1])


def test_missing_or_blank_text_is_all_padding(tokenizer, special_ids):
    actual = tokenize(["", "  \t ", "ok"], tokenizer, special_ids)

    assert (actual[features.TEXT_PADDING_MASK_KEY][:2] == 0).all()
    assert (
        actual[features.TEXT_TOKEN_IDS_KEY][:2] == special_ids[text_preprocessing.PAD_TOKEN]
    ).all()
    assert actual[features.TEXT_PADDING_MASK_KEY][2].sum() == 3  # [CLS] ok [SEP]


def test_special_token_ids_are_the_vocabulary_line_numbers(vocabulary_path, special_ids, tmp_path):
    with open(vocabulary_path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    for token, index in special_ids.items():
        assert lines[index] == token

    partial = tmp_path / "vocab.txt"
    partial.write_text("[PAD]\n[CLS]\nhello\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"\[SEP\]"):
        text_preprocessing.special_token_ids(str(partial))


# === Image ===


def decode_images(images):
    images = tf.constant(images)
    return image_preprocessing.image_pixels(
        images, image_preprocessing.image_present(images)
    ).numpy()


def scaled(color) -> np.ndarray:
    return np.asarray(efficientnet_lite.preprocess_input(np.asarray(color, np.float32)))


def test_wide_png_keeps_its_aspect_ratio_centred_between_zero_bands():
    # 300 x 150 -> 224 x 112, rows 56..167.
    pixels = decode_images([png_bytes(size=(300, 150))])[0]

    assert pixels.shape == (features.IMAGE_SIZE, features.IMAGE_SIZE, 3)
    assert pixels.dtype == np.float32
    np.testing.assert_allclose(
        pixels[56:168], np.broadcast_to(scaled(RED), (112, 224, 3)), atol=PIXEL_ATOL
    )
    assert (pixels[:56] == 0).all()
    assert (pixels[168:] == 0).all()


def test_tall_jpeg_is_padded_left_and_right():
    # 120 x 240 -> 112 x 224, columns 56..167.
    pixels = decode_images([jpeg_bytes(size=(120, 240))])[0]

    np.testing.assert_allclose(
        pixels[:, 56:168], np.broadcast_to(scaled(RED), (224, 112, 3)), atol=4 / 128
    )
    assert (pixels[:, :56] == 0).all()
    assert (pixels[:, 168:] == 0).all()


def test_scaling_is_efficientnet_lite_preprocess_input():
    assert scaled((255, 127, 0)).tolist() == [1.0, 0.0, -127 / 128]
    pixels = decode_images([png_bytes(size=(224, 224), color=(255, 127, 0))])[0]
    np.testing.assert_allclose(
        pixels, np.broadcast_to(scaled((255, 127, 0)), pixels.shape), atol=PIXEL_ATOL
    )


def test_grey_and_rgba_pngs_become_rgb():
    grey, rgba = decode_images(
        [png_bytes(color=200, mode="L"), png_bytes(color=(0, 0, 255, 128), mode="RGBA")]
    )
    np.testing.assert_allclose(
        grey[112], np.broadcast_to(scaled((200, 200, 200)), (224, 3)), atol=PIXEL_ATOL
    )
    np.testing.assert_allclose(
        rgba[112], np.broadcast_to(scaled((0, 0, 255)), (224, 3)), atol=PIXEL_ATOL
    )


def test_missing_images_are_zeros_in_a_mixed_batch():
    pixels = decode_images([b"", png_bytes(), b""])

    assert pixels.shape == (3, features.IMAGE_SIZE, features.IMAGE_SIZE, 3)
    assert (pixels[0] == 0).all()
    assert (pixels[2] == 0).all()
    assert (pixels[1] != 0).any()
    assert (decode_images([b""]) == 0).all()


# === Audio ===


def hz_to_mel(hz):
    """The HTK mel scale."""
    return 1127.0 * np.log1p(np.asarray(hz) / 700.0)


def numpy_mel_matrix() -> np.ndarray:
    """[FFT bins, mel bins] HTK triangles, the DC bin left out, in NumPy."""
    bins = audio_features.FFT_LENGTH // 2 + 1
    bin_mels = hz_to_mel(np.linspace(0.0, SAMPLE_RATE / 2, bins)[1:])[:, None]
    edges = np.linspace(
        hz_to_mel(audio_features.MEL_LOWER_HZ),
        hz_to_mel(audio_features.MEL_UPPER_HZ),
        features.AUDIO_MEL_BINS + 2,
    )
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bin_mels - lower) / (centre - lower)
    falling = (upper - bin_mels) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    return np.vstack([np.zeros((1, features.AUDIO_MEL_BINS)), weights])


def numpy_log_mel(waveform: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reference features: frames of 25 ms every 20 ms, periodic Hann, power, mel, log."""
    length, step = audio_features.FRAME_LENGTH, audio_features.FRAME_STEP
    waveform = waveform[: audio_features.MAX_SAMPLES]
    padded = np.zeros(audio_features.MAX_SAMPLES + length)
    padded[: waveform.size] = waveform
    frames = np.stack([padded[i * step : i * step + length] for i in range(features.AUDIO_FRAMES)])
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(length) / length)
    power = np.abs(np.fft.rfft(frames * window, n=audio_features.FFT_LENGTH)) ** 2
    log_mel = np.log(power @ numpy_mel_matrix() + audio_features.LOG_OFFSET)
    mask = np.arange(features.AUDIO_FRAMES) < math.ceil(waveform.size / step)
    return np.where(mask[:, None], log_mel, 0.0), mask.astype(np.int64)


def log_mel(wavs):
    wavs = tf.constant(wavs)
    outputs = audio_features.audio_log_mel(wavs, audio_features.audio_present(wavs))
    return outputs[features.AUDIO_LOG_MEL_KEY].numpy(), outputs[
        features.AUDIO_FRAME_MASK_KEY
    ].numpy()


def test_log_mel_matches_numpy_reference_on_a_tone():
    waveform = tone(1.5)
    actual, mask = log_mel([wav_bytes(waveform)])
    reference, reference_mask = numpy_log_mel(pcm16(waveform))

    assert actual.shape == (1, features.AUDIO_FRAMES, features.AUDIO_MEL_BINS)
    assert actual.dtype == np.float32
    assert mask.dtype == np.int64
    np.testing.assert_array_equal(mask[0], reference_mask)
    np.testing.assert_allclose(actual[0], reference, atol=1e-3)


def test_tone_energy_is_in_the_mel_band_centred_nearest_its_frequency():
    frequency = 1000.0
    edges = np.linspace(
        hz_to_mel(audio_features.MEL_LOWER_HZ),
        hz_to_mel(audio_features.MEL_UPPER_HZ),
        features.AUDIO_MEL_BINS + 2,
    )
    centres_hz = 700.0 * np.expm1(edges[1:-1] / 1127.0)
    expected_band = int(np.argmin(np.abs(centres_hz - frequency)))

    actual, mask = log_mel([wav_bytes(tone(1.5, frequency, noise=0.0))])
    real_frames = actual[0][mask[0] == 1]

    # Every full frame (the last one is half padding) peaks in the same band.
    assert (real_frames[:-1].argmax(axis=1) == expected_band).all()


@pytest.mark.parametrize(
    ("seconds", "frames"),
    [(1.0, 50), (1.5, 75), (0.51, 26), (0.01, 1), (features.AUDIO_MAX_SECONDS, 400), (10.0, 400)],
)
def test_frame_count_is_duration_over_step(seconds, frames):
    actual, mask = log_mel([wav_bytes(tone(seconds))])

    assert mask.shape == (1, features.AUDIO_FRAMES)
    assert mask[0].sum() == frames
    assert (mask[0, :frames] == 1).all()
    assert (actual[0, frames:] == 0).all()


def test_missing_audio_is_zeros_with_mask_zero_in_a_mixed_batch():
    actual, mask = log_mel([b"", wav_bytes(tone(0.5)), b""])

    assert (actual[[0, 2]] == 0).all()
    assert (mask[[0, 2]] == 0).all()
    assert mask[1].sum() == 25


def test_stereo_is_averaged_to_mono():
    waveform = tone(0.5)
    stereo, _ = log_mel([wav_bytes(np.stack([waveform, waveform], axis=1))])
    mono, _ = log_mel([wav_bytes(waveform)])
    np.testing.assert_allclose(stereo, mono, atol=1e-3)


def test_audio_at_another_sample_rate_is_refused():
    with pytest.raises(tf.errors.InvalidArgumentError, match=str(SAMPLE_RATE)):
        log_mel([wav_bytes(tone(0.5), sample_rate=8000)])


# === Raw feature access, labels and slicing ===


def strings(tensor) -> list[str]:
    return [value.decode() for value in tensor.numpy()]


@pytest.mark.parametrize(
    "raw",
    [
        tf.SparseTensor([[0, 0], [2, 0], [2, 1]], ["a", "c", "extra"], [3, 2]),
        tf.ragged.constant([["a"], [], ["c", "extra"]]),
        tf.constant([["a"], [""], ["c"]]),
        tf.constant(["a", "", "c"]),
    ],
    ids=["sparse", "ragged", "dense_batch_by_1", "dense_batch"],
)
def test_first_value_reads_every_raw_feature_form(raw):
    assert strings(preprocessing._first_value(raw, default="")) == ["a", "", "c"]


def test_first_value_of_a_sparse_batch_without_any_value():
    empty = tf.SparseTensor(tf.zeros([0, 2], tf.int64), tf.constant([], tf.string), [2, 0])
    assert strings(preprocessing._first_value(empty, default="")) == ["", ""]


def test_label_names_are_the_contract_order():
    assert preprocessing.label_names(features.INTENT_LABEL_KEY) == schemas.intent_labels()
    assert preprocessing.label_names(features.SENTIMENT_LABEL_KEY) == schemas.sentiment_labels()


def test_modality_combination_names_present_modalities_in_fixed_order():
    text, image, audio = features.TEXT_KEY, features.IMAGE_KEY, features.AUDIO_KEY
    present = {
        text: tf.constant([True, True, False, True, False]),
        image: tf.constant([False, True, False, True, True]),
        audio: tf.constant([False, False, True, True, False]),
    }
    joined = features.MODALITY_SEPARATOR.join
    assert strings(preprocessing._modality_combination(present)) == [
        text,
        joined([image, text]),
        audio,
        joined([image, audio, text]),
        image,
    ]
    none = {key: tf.constant([False]) for key in present}
    assert strings(preprocessing._modality_combination(none)) == [features.NO_MODALITY]


# === preprocessing_fn through TF Transform (Beam), and the exported graph ===

TRANSFORMED_KEYS = {
    features.TEXT_TOKEN_IDS_KEY,
    features.TEXT_SEGMENT_IDS_KEY,
    features.TEXT_PADDING_MASK_KEY,
    features.IMAGE_PIXELS_KEY,
    features.AUDIO_LOG_MEL_KEY,
    features.AUDIO_FRAME_MASK_KEY,
    features.TEXT_PRESENT_KEY,
    features.IMAGE_PRESENT_KEY,
    features.AUDIO_PRESENT_KEY,
    features.TRANSCRIPT_TOKEN_IDS_KEY,
    features.TRANSCRIPT_SEGMENT_IDS_KEY,
    features.TRANSCRIPT_PADDING_MASK_KEY,
    features.TRANSCRIPT_PRESENT_KEY,
    features.IMAGE_TEXT_TOKEN_IDS_KEY,
    features.IMAGE_TEXT_SEGMENT_IDS_KEY,
    features.IMAGE_TEXT_PADDING_MASK_KEY,
    features.IMAGE_TEXT_PRESENT_KEY,
    features.INTENT_LABEL_KEY,
    features.SENTIMENT_LABEL_KEY,
    features.TURN_ID_KEY,
    features.CHANNEL_KEY,
    features.MODALITY_COMBINATION_KEY,
    features.INTENT_WEIGHT_KEY,
    features.SENTIMENT_WEIGHT_KEY,
}
LABEL_KEYS = set(features.LABEL_WEIGHT_KEYS)
# Outputs dropped when serving feeds no labels: the labels and their weights.
LABEL_OUTPUT_KEYS = LABEL_KEYS | set(features.LABEL_WEIGHT_KEYS.values())
TEXT = "my card payment was declined again"
# Longer than the sequence: a story, then the question.
LONG_TEXT = (
    "I went to the cash machine near my office yesterday evening and " * 4
    + "why was I charged a fee for my withdrawal"
)
INTENT = "declined_card_payment"
SENTIMENT = "negative"


def raw_example(
    turn_id,
    channel,
    text=None,
    image=None,
    audio=None,
    intent=None,
    sentiment=None,
    transcript=None,
    image_text=None,
):
    """A raw instance as the curated schema's VarLenFeatures read it (lists, [] = absent)."""
    return {
        features.TURN_ID_KEY: [turn_id.encode()],
        features.SESSION_ID_KEY: [b"s1"],
        features.TURN_INDEX_KEY: [0],
        features.TIMESTAMP_KEY: [1_790_000_000],
        features.CHANNEL_KEY: [channel.encode()],
        features.LANGUAGE_KEY: [features.DEFAULT_LANGUAGE.encode()],
        features.TEXT_KEY: [text.encode()] if text else [],
        features.HAS_TEXT_KEY: [int(bool(text))],
        features.IMAGE_KEY: [image] if image else [],
        features.HAS_IMAGE_KEY: [int(bool(image))],
        features.AUDIO_KEY: [audio] if audio else [],
        features.HAS_AUDIO_KEY: [int(bool(audio))],
        features.AUDIO_DURATION_KEY: [1.0] if audio else [],
        features.TRANSCRIPT_KEY: [transcript.encode()] if transcript else [],
        features.IMAGE_TEXT_KEY: [image_text.encode()] if image_text else [],
        features.INTENT_KEY: [intent.encode()] if intent else [],
        features.SENTIMENT_KEY: [sentiment.encode()] if sentiment else [],
    }


def raw_dataset():
    """Text only, PNG only, JPEG only, audio only, all three; the last three unlabelled."""
    out_of_scope = features.OUT_OF_SCOPE_INTENT
    return [
        raw_example("text", "chat", text=TEXT, intent=INTENT, sentiment=SENTIMENT),
        raw_example("png", "app", image=png_bytes(), intent=out_of_scope),
        raw_example("jpeg", "app", image=jpeg_bytes(), intent=INTENT, image_text=TEXT.title()),
        raw_example(
            "audio", "voice", audio=wav_bytes(tone(1.0)), intent=INTENT, transcript=TEXT.upper()
        ),
        raw_example("all", "voice", text=TEXT, image=png_bytes(), audio=wav_bytes(tone(2.0))),
        raw_example("unlabelled", "chat", text="hello"),
        raw_example("long", "chat", text=LONG_TEXT, transcript=LONG_TEXT, image_text=LONG_TEXT),
    ]


def curated_schema() -> schema_pb2.Schema:
    return text_format.Parse(schemas.TFDV_SCHEMA_PATH.read_text(), schema_pb2.Schema())


@pytest.fixture(scope="module")
def transform_run(tmp_path_factory):
    """Run preprocessing_fn with TF Transform on Beam; return rows and the output dir."""
    import tensorflow_transform.beam as tft_beam
    from tensorflow_transform.tf_metadata import dataset_metadata

    tmp = tmp_path_factory.mktemp("transform")
    output_dir = str(tmp / "transform_output")
    metadata = dataset_metadata.DatasetMetadata(curated_schema())
    with tft_beam.Context(temp_dir=str(tmp / "tft_tmp")):
        (rows, _), transform_fn = (
            raw_dataset(),
            metadata,
        ) | tft_beam.AnalyzeAndTransformDataset(preprocessing.preprocessing_fn)
        _ = transform_fn | tft_beam.WriteTransformFn(output_dir)
    by_turn = {row[features.TURN_ID_KEY].decode(): row for row in rows}
    return by_turn, output_dir


@pytest.mark.slow
def test_transform_outputs_exactly_the_transformed_keys(transform_run):
    rows, output_dir = transform_run
    import tensorflow_transform as tft

    for row in rows.values():
        assert set(row) == TRANSFORMED_KEYS
    feature_spec = tft.TFTransformOutput(output_dir).transformed_feature_spec()
    assert set(feature_spec) == TRANSFORMED_KEYS
    assert feature_spec[features.AUDIO_LOG_MEL_KEY].shape == [
        features.AUDIO_FRAMES,
        features.AUDIO_MEL_BINS,
    ]
    assert feature_spec[features.IMAGE_PIXELS_KEY].shape == [features.IMAGE_SIZE] * 2 + [3]


@pytest.mark.slow
def test_transform_presence_slicing_and_labels(transform_run):
    rows, _ = transform_run
    intents, sentiments = schemas.intent_labels(), schemas.sentiment_labels()
    joined = features.MODALITY_SEPARATOR.join
    missing = features.MISSING_LABEL
    expected = {
        # turn: (modalities, intent index, sentiment index)
        "text": (features.TEXT_KEY, intents.index(INTENT), sentiments.index(SENTIMENT)),
        "png": (features.IMAGE_KEY, intents.index(features.OUT_OF_SCOPE_INTENT), missing),
        "jpeg": (features.IMAGE_KEY, intents.index(INTENT), missing),
        "audio": (features.AUDIO_KEY, intents.index(INTENT), missing),
        "all": (joined(features.MODALITY_COMBINATION_ORDER), missing, missing),
        "unlabelled": (features.TEXT_KEY, missing, missing),
    }
    for turn, (modalities, intent, sentiment) in expected.items():
        row = rows[turn]
        present = modalities.split(features.MODALITY_SEPARATOR)
        assert row[features.MODALITY_COMBINATION_KEY].decode() == modalities
        assert row[features.TEXT_PRESENT_KEY] == float(features.TEXT_KEY in present)
        assert row[features.IMAGE_PRESENT_KEY] == float(features.IMAGE_KEY in present)
        assert row[features.AUDIO_PRESENT_KEY] == float(features.AUDIO_KEY in present)
        assert row[features.TRANSCRIPT_PRESENT_KEY] == float(turn == "audio")
        assert row[features.IMAGE_TEXT_PRESENT_KEY] == float(turn == "jpeg")
        assert row[features.INTENT_LABEL_KEY] == intent
        assert row[features.SENTIMENT_LABEL_KEY] == sentiment
    assert rows["audio"][features.CHANNEL_KEY].decode() == "voice"


@pytest.mark.slow
def test_transform_modality_values_match_the_unit_functions(transform_run, tokenizer, special_ids):
    rows, _ = transform_run
    text = tokenize([TEXT], tokenizer, special_ids)
    for key in (features.TEXT_TOKEN_IDS_KEY, features.TEXT_PADDING_MASK_KEY):
        np.testing.assert_array_equal(rows["text"][key], text[key][0])
        np.testing.assert_array_equal(rows["all"][key], text[key][0])
        assert (rows["png"][key] == 0).all()
    # The transcript and the picture's text go through the same (uncased) tokenizer into
    # their own features.
    for text_key, transcript_key in features.TRANSCRIPT_TOKEN_KEYS.items():
        np.testing.assert_array_equal(rows["audio"][transcript_key], text[text_key][0])
        assert (rows["text"][transcript_key] == 0).all()
        assert (rows["audio"][text_key] == 0).all()
    for text_key, image_text_key in features.IMAGE_TEXT_TOKEN_KEYS.items():
        np.testing.assert_array_equal(rows["jpeg"][image_text_key], text[text_key][0])
        assert (rows["png"][image_text_key] == 0).all()
        assert (rows["jpeg"][text_key] == 0).all()

    png = decode_images([png_bytes()])[0]
    np.testing.assert_allclose(rows["png"][features.IMAGE_PIXELS_KEY], png)
    np.testing.assert_allclose(rows["all"][features.IMAGE_PIXELS_KEY], png)
    assert (rows["text"][features.IMAGE_PIXELS_KEY] == 0).all()
    # 120 x 240 JPEG -> centred columns 56..167.
    jpeg = rows["jpeg"][features.IMAGE_PIXELS_KEY]
    assert (jpeg[:, :56] == 0).all()
    np.testing.assert_allclose(
        jpeg[:, 56:168], np.broadcast_to(scaled(RED), (224, 112, 3)), atol=4 / 128
    )

    reference, mask = numpy_log_mel(pcm16(tone(2.0)))
    np.testing.assert_array_equal(rows["all"][features.AUDIO_FRAME_MASK_KEY], mask)
    np.testing.assert_allclose(rows["all"][features.AUDIO_LOG_MEL_KEY], reference, atol=1e-3)
    assert rows["audio"][features.AUDIO_FRAME_MASK_KEY].sum() == 50
    assert (rows["text"][features.AUDIO_FRAME_MASK_KEY] == 0).all()
    assert (rows["text"][features.AUDIO_LOG_MEL_KEY] == 0).all()


def test_every_text_input_has_a_known_truncation():
    text_keys = {features.TEXT_KEY, *features.DERIVED_TEXT_TOKEN_KEYS}
    assert set(features.TEXT_TRUNCATION) == text_keys
    assert set(features.TEXT_TRUNCATION.values()) <= set(text_preprocessing.TRUNCATIONS)


def long_text_tokens(tokenizer, special_ids) -> dict[str, dict]:
    """The long text's three token features under each truncation."""
    return {
        truncation: {
            key: value.numpy()[0]
            for key, value in text_preprocessing.tokenize_text(
                tf.constant([LONG_TEXT]),
                tf.constant([True]),
                tokenizer,
                special_ids,
                truncation=truncation,
            ).items()
        }
        for truncation in text_preprocessing.TRUNCATIONS
    }


def assert_truncated_as(row, truncations, by_truncation):
    """Each text input's token features in `row` are those of its truncation."""
    token_keys = {features.TEXT_KEY: {key: key for key in features.TEXT_TOKEN_KEYS}}
    token_keys.update(features.DERIVED_TEXT_TOKEN_KEYS)
    for key, keys in token_keys.items():
        for text_key, output_key in keys.items():
            np.testing.assert_array_equal(
                row[output_key], by_truncation[truncations[key]][text_key], err_msg=output_key
            )


@pytest.mark.slow
def test_transform_truncates_each_long_text_as_features_say(transform_run, tokenizer, special_ids):
    rows, _ = transform_run
    by_truncation = long_text_tokens(tokenizer, special_ids)
    ids = features.TEXT_TOKEN_IDS_KEY
    assert (by_truncation["head"][ids] != by_truncation["head_tail"][ids]).any()
    assert_truncated_as(rows["long"], features.TEXT_TRUNCATION, by_truncation)


@pytest.mark.slow
def test_transform_follows_another_truncation_per_text_input(
    monkeypatch, tmp_path, tokenizer, special_ids
):
    import tensorflow_transform.beam as tft_beam
    from tensorflow_transform.tf_metadata import dataset_metadata

    # Typed text and transcripts off the default (the head), the picture's text on it:
    # each input follows its own setting.
    truncations = {
        features.TEXT_KEY: "head_tail",
        features.TRANSCRIPT_KEY: "head_tail",
        features.IMAGE_TEXT_KEY: "head",
    }
    for key, truncation in truncations.items():
        monkeypatch.setitem(features.TEXT_TRUNCATION, key, truncation)
    metadata = dataset_metadata.DatasetMetadata(curated_schema())
    long_row = [raw for raw in raw_dataset() if raw[features.TURN_ID_KEY] == [b"long"]]
    with tft_beam.Context(temp_dir=str(tmp_path)):
        (rows, _), _ = (long_row, metadata) | tft_beam.AnalyzeAndTransformDataset(
            preprocessing.preprocessing_fn
        )

    assert_truncated_as(rows[0], truncations, long_text_tokens(tokenizer, special_ids))


@pytest.mark.slow
def test_label_vocabularies_travel_with_the_transform_graph(transform_run):
    import tensorflow_transform as tft

    _, output_dir = transform_run
    output = tft.TFTransformOutput(output_dir)
    for label_key in LABEL_KEYS:
        path = output.vocabulary_file_by_name(label_key)
        with open(path, encoding="utf-8") as f:
            assert tuple(f.read().splitlines()) == preprocessing.label_names(label_key)


def serialized_examples(dataset) -> list[bytes]:
    """tf.Examples of raw instances (as ingestion writes them), labels left out."""

    def feature(values):
        if values and isinstance(values[0], bytes):
            return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))
        if values and isinstance(values[0], float):
            return tf.train.Feature(float_list=tf.train.FloatList(value=values))
        return tf.train.Feature(int64_list=tf.train.Int64List(value=values))

    return [
        tf.train.Example(
            features=tf.train.Features(
                feature={
                    key: feature(values)
                    for key, values in instance.items()
                    if values and key not in features.LABEL_KEYS
                }
            )
        ).SerializeToString()
        for instance in dataset
    ]


@pytest.mark.slow
def test_serving_without_labels_drops_only_the_label_outputs(transform_run):
    import tensorflow_transform as tft

    rows, output_dir = transform_run
    from tensorflow_transform.tf_metadata import schema_utils

    raw_spec = {
        key: spec
        for key, spec in schema_utils.schema_as_feature_spec(curated_schema()).feature_spec.items()
        if key not in features.LABEL_KEYS
    }
    output = tft.TFTransformOutput(output_dir)
    parsed = tf.io.parse_example(serialized_examples(raw_dataset()), raw_spec)
    transformed = output.transform_features_layer()(parsed)

    assert set(transformed) == TRANSFORMED_KEYS - LABEL_OUTPUT_KEYS
    np.testing.assert_array_equal(
        transformed[features.TEXT_TOKEN_IDS_KEY][0], rows["text"][features.TEXT_TOKEN_IDS_KEY]
    )


# A serving-like process: tensorflow and tensorflow_text only. It lists the op types
# of the SavedModel's graph and of every function in its library, reports those not
# registered, then (when all are) loads the graph and transforms the examples.
SERVING_PROCESS = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the TF Text ops, as TF Serving has them)
    from tensorflow.core.protobuf import saved_model_pb2
    from tensorflow.python.framework import op_def_registry

    saved_model_dir, examples_path, outputs_path = sys.argv[1:4]
    saved_model = saved_model_pb2.SavedModel()
    with open(saved_model_dir + "/saved_model.pb", "rb") as f:
        saved_model.ParseFromString(f.read())
    op_types = set()
    for meta_graph in saved_model.meta_graphs:
        op_types.update(node.op for node in meta_graph.graph_def.node)
        for function in meta_graph.graph_def.library.function:
            op_types.update(node.op for node in function.node_def)
    report = {
        "op_types": sorted(op_types),
        "unregistered": sorted(op for op in op_types if op_def_registry.get(op) is None),
        "foreign_modules": sorted(
            sys.modules.keys() & {"tensorflow_io", "tensorflow_transform"}
        ),
    }
    if not report["unregistered"] and examples_path:
        transform_fn = tf.saved_model.load(saved_model_dir).transform_fn
        (input_spec,), _ = transform_fn.structured_input_signature
        parse_spec = {
            key: tf.io.VarLenFeature(spec.dtype) for key, spec in input_spec.items()
        }
        serialized = tf.data.TFRecordDataset(examples_path).batch(1000).get_single_element()
        outputs = transform_fn(tf.io.parse_example(serialized, parse_spec))
        arrays = {key: value.numpy() for key, value in outputs.items()}
        # Strings as fixed-width bytes, so the file loads without pickle.
        arrays = {k: v.astype(bytes) if v.dtype == object else v for k, v in arrays.items()}
        np.savez(outputs_path, **arrays)
    print(json.dumps(report))
    """
)


def run_serving_process(saved_model_dir, examples_path="", outputs_path="") -> dict:
    result = subprocess.run(
        [sys.executable, "-c", SERVING_PROCESS, saved_model_dir, examples_path, outputs_path],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_exported_graph_runs_with_core_and_tf_text_ops_only(transform_run, tmp_path):
    rows, output_dir = transform_run
    saved_model_dir = os.path.join(output_dir, "transform_fn")
    # Unlabelled examples, as a serving request carries them.
    examples_path = str(tmp_path / "examples.tfrecord")
    with tf.io.TFRecordWriter(examples_path) as writer:
        for serialized in serialized_examples(raw_dataset()):
            writer.write(serialized)
    outputs_path = str(tmp_path / "outputs.npz")

    report = run_serving_process(saved_model_dir, examples_path, outputs_path)

    assert report["unregistered"] == [], report
    assert report["foreign_modules"] == []
    # The TF Text tokenizer is in the graph (so the check saw its ops).
    assert "WordpieceTokenizeWithOffsets" in report["op_types"]
    served = np.load(outputs_path)
    for index, raw in enumerate(raw_dataset()):
        row = rows[raw[features.TURN_ID_KEY][0].decode()]
        for key in TRANSFORMED_KEYS - LABEL_OUTPUT_KEYS:
            if served[key].dtype.kind == "f":
                np.testing.assert_allclose(served[key][index], row[key], atol=1e-5, err_msg=key)
            else:
                np.testing.assert_array_equal(served[key][index], row[key], err_msg=key)
        for key, weight_key in features.LABEL_WEIGHT_KEYS.items():
            assert served[key][index] == features.MISSING_LABEL
            assert served[weight_key][index] == 0.0


@pytest.mark.slow
def test_op_check_reports_an_op_the_serving_binary_lacks(transform_run, tmp_path):
    # A tensorflow-io op spliced into a copy of the graph's function library must be caught.
    _, output_dir = transform_run
    saved_model = saved_model_pb2.SavedModel()
    with open(os.path.join(output_dir, "transform_fn", "saved_model.pb"), "rb") as f:
        saved_model.ParseFromString(f.read())
    library = saved_model.meta_graphs[0].graph_def.library
    node = library.function[0].node_def.add()
    node.name = "decode_mp3"
    node.op = "IO>AudioDecodeMP3"
    (tmp_path / "saved_model.pb").write_bytes(saved_model.SerializeToString())

    report = run_serving_process(str(tmp_path))

    assert report["unregistered"] == ["IO>AudioDecodeMP3"]
