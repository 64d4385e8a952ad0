"""The fusion model: shapes, masking of absent modalities, modality dropout, config and
`.keras` round trips, masked losses, training, on tiny configurations (keras-hub style).

One slow test builds the real model with the pretrained backbones.
"""

import itertools
import json

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from models import features
from models.audio_encoder import AudioEncoder
from models.fusion import ATTENTION, EARLY, FUSION_KINDS, LATE, ModalityFusion
from models.fusion_model import (
    AUDIO,
    IMAGE,
    MODALITIES,
    PRESENCE_KEYS,
    TEXT,
    TEXT_ENCODER_FEEDS,
    FusionModelConfig,
    build_fusion_model,
    model_input_specs,
)
from models.image_encoder import ImageEncoder
from models.losses import (
    MaskedSparseCategoricalAccuracy,
    MaskedSparseCategoricalCrossentropy,
    losses_by_output,
    masked_sparse_categorical_crossentropy,
    metrics_by_output,
)
from models.synthetic_features import random_features
from models.text_encoder import TextEncoder
from models.training_config import TrainingConfig

# === Harness ===

TINY_VOCABULARY_SIZE = 50
TINY_SIZES = {
    "projection_dim": 16,
    "hidden_dim": 16,
    "attention_heads": 2,
    "audio_conv_filters": (8, 8),
    "audio_lstm_units": 8,
    "text_sequence_length": 8,
    "image_size": 32,
    "audio_frames": 40,
    "audio_mel_bins": 8,
    # No dropout, so that training-mode outputs differ only by modality dropout.
    "dropout": 0.0,
    "audio_dropout": 0.0,
    "modality_dropout": 0.0,
    "seed": 7,
}
# Every subset of the modalities, the empty one included.
ALL_PRESENCE_PATTERNS = np.array(
    list(itertools.product((0.0, 1.0), repeat=len(MODALITIES))), "float32"
)
FUSION_VARIANTS = [
    pytest.param({"fusion": EARLY}, id="early"),
    pytest.param({"fusion": LATE}, id="late-logits"),
    pytest.param({"fusion": LATE, "late_combination": "probabilities"}, id="late-probabilities"),
    pytest.param({"fusion": ATTENTION}, id="attention"),
]


def tiny_config(**overrides) -> FusionModelConfig:
    return FusionModelConfig(**{**TINY_SIZES, **overrides})


def tiny_text_backbone() -> keras_hub.models.BertBackbone:
    return keras_hub.models.BertBackbone(
        vocabulary_size=TINY_VOCABULARY_SIZE,
        num_layers=2,
        num_heads=2,
        hidden_dim=16,
        intermediate_dim=32,
        max_sequence_length=16,
        dropout=0.0,
    )


def tiny_image_backbone(image_size: int) -> keras.Model:
    """A strided CNN with BatchNormalization, ending in pooled features."""
    pixels = keras.Input((image_size, image_size, 3))
    x = keras.layers.Conv2D(8, 3, strides=2, use_bias=False)(pixels)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(pixels, x, name="tiny_cnn")


def tiny_model(**overrides) -> keras.Model:
    config = tiny_config(**overrides)
    return build_fusion_model(config, tiny_text_backbone(), tiny_image_backbone(config.image_size))


def random_batch(config: FusionModelConfig, presence: np.ndarray, seed: int = 0) -> dict:
    """Transformed features for presence rows (batch, len(config.modalities)) over the tiny
    vocabulary (models/synthetic_features.py)."""
    return random_features(config, presence, TINY_VOCABULARY_SIZE, seed)


def random_labels(config: FusionModelConfig, batch_size: int, seed: int = 0) -> dict:
    """Intent and sentiment labels, about a third of them missing."""
    rng = np.random.default_rng(seed)
    labels = {}
    for key, num_classes in (
        (features.INTENT_KEY, config.num_intents),
        (features.SENTIMENT_KEY, config.num_sentiments),
    ):
        values = rng.integers(0, num_classes, batch_size)
        values[rng.random(batch_size) < 0.3] = features.MISSING_LABEL
        labels[key] = values.astype("int64")
    return labels


def predict(model, batch, training=False) -> dict:
    return {key: np.asarray(value) for key, value in model(batch, training=training).items()}


def assert_outputs_close(actual: dict, expected: dict, atol=1e-5):
    assert actual.keys() == expected.keys()
    for key, value in expected.items():
        np.testing.assert_allclose(actual[key], value, atol=atol, err_msg=key)


def run_serialization_test(instance):
    """get_config -> from_config reproduces the config, also through JSON."""
    config = instance.get_config()
    revived = instance.__class__.from_config(json.loads(json.dumps(config)))
    assert json.dumps(revived.get_config(), sort_keys=True) == json.dumps(config, sort_keys=True)
    return revived


def run_model_saving_test(model, batch, path):
    """A `.keras` file reloads to the same outputs and the same trainable variables."""
    expected = predict(model, batch)
    model.save(path)
    restored = keras.saving.load_model(path)
    assert_outputs_close(predict(restored, batch), expected)
    trainable = sorted(v.path for v in model.trainable_variables)
    assert sorted(v.path for v in restored.trainable_variables) == trainable
    return restored


@pytest.fixture(scope="module")
def mixed_presence():
    """Every presence pattern once: (16, 4)."""
    return ALL_PRESENCE_PATTERNS


# === Shapes ===


@pytest.mark.parametrize("overrides", FUSION_VARIANTS)
def test_outputs_have_class_shapes_for_every_fusion_kind(overrides, mixed_presence):
    config = tiny_config(**overrides)
    model = tiny_model(**overrides)
    outputs = predict(model, random_batch(config, mixed_presence))
    assert outputs[features.INTENT_KEY].shape == (len(mixed_presence), 78)
    assert outputs[features.SENTIMENT_KEY].shape == (len(mixed_presence), 3)
    assert all(np.isfinite(value).all() for value in outputs.values())


def test_text_transcript_and_image_text_share_one_text_encoder():
    with_derived_texts = tiny_model()
    without = tiny_model(modalities=(TEXT, IMAGE, AUDIO))
    encoders = [layer for layer in with_derived_texts.layers if isinstance(layer, TextEncoder)]
    assert len(encoders) == 1
    # The transcript and the image text add fusion slots, not more BERTs.
    text_weights = sum(np.prod(v.shape) for v in encoders[0].weights)
    other = next(layer for layer in without.layers if isinstance(layer, TextEncoder))
    assert text_weights == sum(np.prod(v.shape) for v in other.weights)


@pytest.mark.parametrize("modality", MODALITIES)
def test_single_modality_ablation_takes_only_its_inputs(modality):
    config = tiny_config(modalities=(modality,))
    model = tiny_model(modalities=(modality,))
    assert set(model.input) == set(model_input_specs(config))
    assert PRESENCE_KEYS[modality] in model.input
    outputs = predict(model, random_batch(config, np.array([[1.0], [0.0]], "float32")))
    assert outputs[features.INTENT_KEY].shape == (2, 78)


def test_config_rejects_unknown_fusion_and_modalities():
    with pytest.raises(ValueError, match="fusion"):
        tiny_config(fusion="middle")
    with pytest.raises(ValueError, match="modalities"):
        tiny_config(modalities=())
    with pytest.raises(ValueError, match="modalities"):
        tiny_config(modalities=(TEXT, TEXT))


# === Masking ===


@pytest.mark.parametrize("overrides", FUSION_VARIANTS)
def test_absent_modalities_and_padding_do_not_change_outputs(overrides, mixed_presence):
    config = tiny_config(**overrides)
    model = tiny_model(**overrides)
    batch = random_batch(config, mixed_presence)
    expected = predict(model, batch)

    # Replace everything the model must ignore by large noise: the whole input of an
    # absent modality (masks included) and the padded positions of present ones.
    rng = np.random.default_rng(1)
    perturbed = dict(batch)
    present = dict(zip(config.modalities, mixed_presence.T > 0, strict=True))
    for modality, keys in TEXT_ENCODER_FEEDS.items():
        ids_key = keys[features.TEXT_TOKEN_IDS_KEY]
        mask_key = keys[features.TEXT_PADDING_MASK_KEY]
        token_mask = batch[mask_key] > 0
        noise_tokens = rng.integers(1, TINY_VOCABULARY_SIZE, token_mask.shape)
        perturbed[ids_key] = np.where(token_mask, batch[ids_key], noise_tokens)
        perturbed[keys[features.TEXT_SEGMENT_IDS_KEY]] = np.where(token_mask, 0, 1)
        perturbed[mask_key] = np.where(present[modality][:, None], batch[mask_key], 1)
    pixels = batch[features.IMAGE_PIXELS_KEY]
    perturbed[features.IMAGE_PIXELS_KEY] = np.where(
        present[IMAGE][:, None, None, None], pixels, rng.normal(0, 5, pixels.shape)
    ).astype("float32")
    frame_mask = batch[features.AUDIO_FRAME_MASK_KEY] > 0
    log_mel = batch[features.AUDIO_LOG_MEL_KEY]
    perturbed[features.AUDIO_LOG_MEL_KEY] = np.where(
        frame_mask[..., None], log_mel, rng.normal(0, 20, log_mel.shape)
    ).astype("float32")
    perturbed[features.AUDIO_FRAME_MASK_KEY] = np.where(
        present[AUDIO][:, None], batch[features.AUDIO_FRAME_MASK_KEY], 1
    )

    assert_outputs_close(predict(model, perturbed), expected)
    # The check has teeth: a present modality's content does move the outputs.
    perturbed[PRESENCE_KEYS[IMAGE]] = np.ones(len(mixed_presence), "float32")
    changed = predict(model, perturbed)[features.INTENT_KEY]
    assert not np.allclose(changed, expected[features.INTENT_KEY], atol=1e-4)


# === Modality dropout ===


@pytest.mark.parametrize("rate", [0.5, 1.0])
def test_drop_modalities_keeps_a_nonempty_subset(rate):
    fusion = ModalityFusion(
        ATTENTION,
        num_modalities=len(MODALITIES),
        num_intents=4,
        num_sentiments=3,
        hidden_dim=8,
        modality_dropout=rate,
        seed=3,
    )
    presence = np.tile(ALL_PRESENCE_PATTERNS, (50, 1))
    dropped = np.asarray(fusion.drop_modalities(presence))

    assert set(np.unique(dropped)) <= {0.0, 1.0}
    assert (dropped <= presence).all()
    kept = dropped.sum(axis=1)
    assert (kept[presence.sum(axis=1) > 0] >= 1).all()
    assert (kept[presence.sum(axis=1) == 0] == 0).all()
    if rate == 1.0:
        np.testing.assert_array_equal(np.minimum(presence.sum(axis=1), 1), kept)
    else:
        # Some modalities were dropped, but not all: at about the configured rate.
        multi = presence.sum(axis=1) > 1
        share_dropped = 1 - dropped[multi].sum() / presence[multi].sum()
        assert 0.2 < share_dropped < 0.6


def test_modality_dropout_acts_only_in_training(mixed_presence):
    config = tiny_config(fusion=LATE, modality_dropout=0.9)
    model = tiny_model(fusion=LATE, modality_dropout=0.9)
    batch = random_batch(config, mixed_presence)

    inference = predict(model, batch)
    assert_outputs_close(predict(model, batch), inference)
    training = predict(model, batch, training=True)[features.INTENT_KEY]
    # Nothing else differs in training here (no dropout, frozen BatchNorm): examples
    # with at most one modality keep it, those with several lose some.
    single = mixed_presence.sum(axis=1) <= 1
    np.testing.assert_allclose(training[single], inference[features.INTENT_KEY][single], atol=1e-5)
    assert not np.allclose(training[~single], inference[features.INTENT_KEY][~single], atol=1e-4)


# === Config and saving round trips ===


def test_encoders_and_fusion_config_round_trip():
    config = tiny_config()
    text_encoder = run_serialization_test(
        TextEncoder(tiny_text_backbone(), 16, trainable_transformer_layers=1, exact_gelu=True)
    )
    # Freezing is re-applied from the config: only the last transformer layer trains.
    trainable_paths = {v.path for v in text_encoder.backbone.trainable_variables}
    assert trainable_paths
    assert all("transformer_layer_1" in path for path in trainable_paths)
    image_encoder = run_serialization_test(ImageEncoder(tiny_image_backbone(32), 16))
    assert image_encoder.backbone.trainable_variables == []
    run_serialization_test(
        AudioEncoder(config.audio_frames, config.audio_mel_bins, 16, conv_filters=(8, 8))
    )
    run_serialization_test(
        ModalityFusion(LATE, 3, 78, 3, hidden_dim=16, late_combination="probabilities", seed=1)
    )


def test_model_config_round_trip():
    model = tiny_model()
    revived = keras.Model.from_config(model.get_config())
    assert revived.get_config() == model.get_config()


@pytest.mark.parametrize("fusion", FUSION_KINDS)
def test_saved_model_file_reloads_to_same_outputs(fusion, mixed_presence, tmp_path):
    config = tiny_config(fusion=fusion, trainable_text_layers=1)
    model = tiny_model(fusion=fusion, trainable_text_layers=1)
    run_model_saving_test(model, random_batch(config, mixed_presence), tmp_path / "model.keras")


# === Losses and metrics ===


def _cross_entropy(logits, label):
    logits = np.asarray(logits, "float64")
    return float(np.log(np.exp(logits).sum()) - logits[label])


LOGITS = np.array([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 3.0], [1.0, 2.0, 0.5]], "float32")


def test_masked_loss_averages_over_labelled_examples_only():
    loss = MaskedSparseCategoricalCrossentropy()
    labels = np.array([0, features.MISSING_LABEL, 2, 0])
    expected = np.mean([_cross_entropy(LOGITS[i], labels[i]) for i in (0, 2, 3)])
    np.testing.assert_allclose(float(loss(labels, LOGITS)), expected, rtol=1e-6)
    # (batch, 1) labels, as a dataset may carry them, give the same value.
    np.testing.assert_allclose(float(loss(labels[:, None], LOGITS)), expected, rtol=1e-6)

    per_example = np.asarray(masked_sparse_categorical_crossentropy(labels, LOGITS))
    assert per_example[1] == 0.0
    np.testing.assert_allclose(per_example[0], _cross_entropy(LOGITS[0], 0), rtol=1e-6)

    weights = np.array([1.0, 5.0, 3.0, 0.0], "float32")
    weighted = (_cross_entropy(LOGITS[0], 0) + 3 * _cross_entropy(LOGITS[2], 2)) / 4
    np.testing.assert_allclose(float(loss(labels, LOGITS, weights)), weighted, rtol=1e-6)


def test_masked_loss_is_zero_with_zero_gradient_when_no_label():
    loss = MaskedSparseCategoricalCrossentropy()
    logits = tf.Variable(LOGITS)
    with tf.GradientTape() as tape:
        value = loss(np.full(4, features.MISSING_LABEL), logits)
    assert float(value) == 0.0
    np.testing.assert_array_equal(tape.gradient(value, logits).numpy(), 0.0)


def test_label_smoothing_spreads_the_target_over_every_class_and_still_masks():
    smoothing = 0.3
    loss = MaskedSparseCategoricalCrossentropy(label_smoothing=smoothing)
    labels = np.array([0, features.MISSING_LABEL, 2, 1])

    def smoothed(logits, label):
        log_probabilities = np.asarray(logits, "float64") - np.log(np.exp(logits).sum())
        target = np.full(len(logits), smoothing / len(logits))
        target[label] += 1 - smoothing
        return float(-(target * log_probabilities).sum())

    expected = np.mean([smoothed(LOGITS[i], labels[i]) for i in (0, 2, 3)])
    np.testing.assert_allclose(float(loss(labels, LOGITS)), expected, rtol=1e-6)
    # It differs from the one-hot loss, which it equals at 0.
    assert abs(expected - float(MaskedSparseCategoricalCrossentropy()(labels, LOGITS))) > 0.05
    per_example = np.asarray(
        masked_sparse_categorical_crossentropy(labels, LOGITS, True, smoothing)
    )
    assert per_example[1] == 0.0
    # The config round-trips, and a share of 1 or more is refused.
    assert MaskedSparseCategoricalCrossentropy.from_config(loss.get_config()).label_smoothing == 0.3
    with pytest.raises(ValueError, match="label_smoothing must be in"):
        MaskedSparseCategoricalCrossentropy(label_smoothing=1.0)
    # The Trainer's setting reaches every head's loss.
    config = TrainingConfig(label_smoothing=0.1, text_intent_loss_weight=1.0)
    assert TrainingConfig.from_custom_config(config.to_custom_config()) == config
    head_losses = losses_by_output(config.text_intent_head, config.label_smoothing)
    assert len(head_losses) == 3
    assert {loss.label_smoothing for loss in head_losses.values()} == {0.1}
    with pytest.raises(ValueError, match="label_smoothing must be in"):
        TrainingConfig(label_smoothing=-0.1)


def test_masked_accuracy_counts_labelled_examples_only():
    metric = MaskedSparseCategoricalAccuracy()
    metric.update_state(np.full(4, features.MISSING_LABEL), LOGITS)
    assert float(metric.result()) == 0.0
    # Predictions 0, 1, 2, 1; labels 0, missing, 1, 1: 2 of 3 right.
    metric.update_state(np.array([0, features.MISSING_LABEL, 1, 1]), LOGITS)
    np.testing.assert_allclose(float(metric.result()), 2 / 3, rtol=1e-6)


# === Training ===


def test_training_reduces_loss_and_leaves_frozen_weights_alone():
    config = tiny_config(fusion=ATTENTION, trainable_text_layers=1, modality_dropout=0.2)
    model = tiny_model(fusion=ATTENTION, trainable_text_layers=1, modality_dropout=0.2)
    presence = ALL_PRESENCE_PATTERNS[1:]  # 31 turns, each with a modality
    batch = random_batch(config, presence)
    labels = random_labels(config, len(presence))
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=losses_by_output(),
        metrics=metrics_by_output(),
    )
    text_backbone = model.get_layer("text_encoder").backbone
    image_backbone = model.get_layer("image_encoder").backbone
    frozen = [
        *text_backbone.token_embedding.weights,
        *text_backbone.transformer_layers[0].weights,
        *image_backbone.weights,  # BatchNorm moving statistics included
    ]
    fine_tuned = text_backbone.transformer_layers[1].weights
    frozen_before = [np.array(w) for w in frozen]
    fine_tuned_before = [np.array(w) for w in fine_tuned]

    before = model.evaluate(batch, labels, batch_size=len(presence), return_dict=True, verbose=0)
    # The total loss is the sum of the two heads' masked losses.
    np.testing.assert_allclose(
        before["loss"], before["intent_loss"] + before["sentiment_loss"], rtol=1e-5
    )
    model.fit(batch, labels, batch_size=6, epochs=20, shuffle=False, verbose=0)
    after = model.evaluate(batch, labels, batch_size=len(presence), return_dict=True, verbose=0)

    assert after["loss"] < 0.5 * before["loss"]
    for weight, value in zip(frozen, frozen_before, strict=True):
        np.testing.assert_array_equal(np.array(weight), value, err_msg=weight.path)
    assert any(
        not np.array_equal(np.array(w), v)
        for w, v in zip(fine_tuned, fine_tuned_before, strict=True)
    )


# === The real model ===


@pytest.mark.slow
def test_default_model_with_pretrained_backbones_runs_forward():
    config = FusionModelConfig(fusion=ATTENTION)
    model = build_fusion_model(config)
    presence = np.array([[1.0, 1.0, 0.0], [0.0, 1.0, 1.0]], "float32")
    rng = np.random.default_rng(0)
    length = config.text_sequence_length
    mask = (np.arange(length) < 12).astype("int64")[None] * presence[:, :1].astype("int64")
    batch = {
        features.TEXT_TOKEN_IDS_KEY: rng.integers(1000, 20000, (2, length)) * mask,
        features.TEXT_SEGMENT_IDS_KEY: np.zeros((2, length), "int64"),
        features.TEXT_PADDING_MASK_KEY: mask,
        features.IMAGE_PIXELS_KEY: rng.uniform(
            -1, 1, (2, config.image_size, config.image_size, 3)
        ).astype("float32"),
        features.AUDIO_LOG_MEL_KEY: rng.normal(
            -4, 2, (2, config.audio_frames, config.audio_mel_bins)
        ).astype("float32"),
        features.AUDIO_FRAME_MASK_KEY: np.ones((2, config.audio_frames), "int64")
        * presence[:, 2:].astype("int64"),
        features.TEXT_PRESENT_KEY: presence[:, 0],
        features.IMAGE_PRESENT_KEY: presence[:, 1],
        features.AUDIO_PRESENT_KEY: presence[:, 2],
        # A voice turn's transcript: the same tokens as the first turn's text.
        features.TRANSCRIPT_TOKEN_IDS_KEY: rng.integers(1000, 20000, (2, length)) * mask[:1],
        features.TRANSCRIPT_SEGMENT_IDS_KEY: np.zeros((2, length), "int64"),
        features.TRANSCRIPT_PADDING_MASK_KEY: np.repeat(mask[:1], 2, axis=0),
        features.TRANSCRIPT_PRESENT_KEY: presence[:, 2],
        # A picture's text: the same tokens as the first turn's text.
        features.IMAGE_TEXT_TOKEN_IDS_KEY: rng.integers(1000, 20000, (2, length)) * mask[:1],
        features.IMAGE_TEXT_SEGMENT_IDS_KEY: np.zeros((2, length), "int64"),
        features.IMAGE_TEXT_PADDING_MASK_KEY: np.repeat(mask[:1], 2, axis=0),
        features.IMAGE_TEXT_PRESENT_KEY: presence[:, 1],
    }
    outputs = predict(model, batch)
    assert outputs[features.INTENT_KEY].shape == (2, config.num_intents)
    assert outputs[features.SENTIMENT_KEY].shape == (2, config.num_sentiments)
    assert all(np.isfinite(value).all() for value in outputs.values())
    # Default fine-tuning: the last 2 BERT layers and everything after the backbones.
    image_backbone = model.get_layer("image_encoder").backbone
    assert image_backbone.trainable_variables == []
    text_backbone = model.get_layer("text_encoder").backbone
    assert text_backbone.token_embedding.trainable_variables == []
    # The transcript and the image text are read by the same encoder: one BERT in the model.
    assert sum(isinstance(layer, TextEncoder) for layer in model.layers) == 1
    assert text_backbone.transformer_layers[-1].trainable_variables
