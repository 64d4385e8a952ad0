"""The training-only text intent head (TrainingConfig.text_intent_loss_weight and
text_intent_sources): what it reads, that the served model leaves it out, its labels and
its share of the loss."""

import dataclasses
import itertools
import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy.special import softmax

from models import features
from models.fusion_model import (
    AUDIO,
    IMAGE,
    IMAGE_TEXT,
    PRESENCE_KEYS,
    TEXT,
    TEXT_ENCODER_FEEDS,
    TRANSCRIPT,
    FusionModelConfig,
    build_fusion_model,
    without_auxiliary_outputs,
)
from models.losses import loss_weights_by_output, losses_by_output, metrics_by_output
from models.served_intent import TEXT_ONLY, TextHeadMix, served_model
from models.trainer import labels_by_output
from models.training_config import TrainingConfig
from tests.models.test_fusion_model import (
    ALL_PRESENCE_PATTERNS,
    predict,
    random_batch,
    random_labels,
    tiny_config,
    tiny_image_backbone,
    tiny_text_backbone,
)
from tests.models.test_preprocessing import run_serving_process

AUXILIARY = features.TEXT_INTENT_AUXILIARY_KEY


def model_with_head(sources=(TEXT,), **overrides) -> keras.Model:
    config = tiny_config(**overrides)
    return build_fusion_model(
        config,
        tiny_text_backbone(),
        tiny_image_backbone(config.image_size),
        text_intent_sources=sources,
    )


def _copy_text(batch: dict, source: dict, keys: dict) -> None:
    """Give `batch` the token features of `source` named by `keys` (a TEXT_ENCODER_FEEDS
    value: text encoder input -> feature)."""
    for key in keys.values():
        batch[key] = source[key]


def test_the_head_reads_the_typed_text_alone():
    config = tiny_config()
    model = model_with_head()
    batch = random_batch(config, ALL_PRESENCE_PATTERNS, seed=0)
    other = random_batch(config, ALL_PRESENCE_PATTERNS, seed=1)
    # Same typed text, every other modality's content different.
    _copy_text(other, batch, TEXT_ENCODER_FEEDS[TEXT])
    first, second = predict(model, batch), predict(model, other)

    assert first[AUXILIARY].shape == (len(ALL_PRESENCE_PATTERNS), 1, config.num_intents)
    np.testing.assert_allclose(first[AUXILIARY], second[AUXILIARY], atol=1e-6)
    assert not np.allclose(first[features.INTENT_KEY], second[features.INTENT_KEY], atol=1e-4)


def test_one_shared_head_reads_each_source_alone():
    config = tiny_config()
    model = model_with_head(sources=(TEXT, TRANSCRIPT))
    batch = random_batch(config, ALL_PRESENCE_PATTERNS, seed=0)
    outputs = predict(model, batch)
    assert outputs[AUXILIARY].shape == (len(ALL_PRESENCE_PATTERNS), 2, config.num_intents)

    # Another transcript: the typed text's row stays, the transcript's changes.
    other = dict(batch)
    _copy_text(
        other, random_batch(config, ALL_PRESENCE_PATTERNS, seed=1), TEXT_ENCODER_FEEDS[TRANSCRIPT]
    )
    changed = predict(model, other)[AUXILIARY]
    np.testing.assert_allclose(changed[:, 0], outputs[AUXILIARY][:, 0], atol=1e-6)
    assert not np.allclose(changed[:, 1], outputs[AUXILIARY][:, 1], atol=1e-4)

    # The transcript's tokens set to the typed text's: one encoder and one head give the
    # same logits for both rows.
    same = dict(batch)
    for key, feature in TEXT_ENCODER_FEEDS[TRANSCRIPT].items():
        same[feature] = batch[TEXT_ENCODER_FEEDS[TEXT][key]]
    rows = predict(model, same)[AUXILIARY]
    np.testing.assert_allclose(rows[:, 1], rows[:, 0], atol=1e-5)
    assert len(model.get_layer("text_intent_head").weights) == 2


def test_the_served_model_leaves_the_head_out_and_shares_every_other_weight():
    config = tiny_config()
    model = model_with_head()
    served = without_auxiliary_outputs(model)
    batch = random_batch(config, ALL_PRESENCE_PATTERNS)

    outputs, served_outputs = predict(model, batch), predict(served, batch)
    assert set(served_outputs) == {features.INTENT_KEY, features.SENTIMENT_KEY}
    for key, value in served_outputs.items():
        np.testing.assert_array_equal(value, outputs[key], err_msg=key)
    head = model.get_layer("text_intent_head")
    head_variables = {id(v) for v in head.weights}
    assert {id(v) for v in served.weights} == {
        id(v) for v in model.weights if id(v) not in head_variables
    }
    # A model without the head is served as it is.
    assert without_auxiliary_outputs(served) is served


@pytest.mark.parametrize("sources", [(TEXT,), (TRANSCRIPT, TEXT)], ids=["text", "second"])
def test_a_serving_weight_mixes_the_text_head_in_on_typed_turns_only(sources):
    config = tiny_config()
    model = model_with_head(sources=sources)
    mixed = served_model(model, sources, text_weight=0.25)
    batch = random_batch(config, ALL_PRESENCE_PATTERNS)
    outputs, served = predict(model, batch), predict(mixed, batch)

    assert set(served) == {features.INTENT_KEY, features.SENTIMENT_KEY}
    np.testing.assert_array_equal(served[features.SENTIMENT_KEY], outputs[features.SENTIMENT_KEY])
    fused = softmax(outputs[features.INTENT_KEY], axis=-1)
    text = softmax(outputs[AUXILIARY][:, sources.index(TEXT)], axis=-1)
    typed = batch[PRESENCE_KEYS[TEXT]] == 1.0
    assert typed.any() and (~typed).any()
    expected = np.where(typed[:, None], 0.75 * fused + 0.25 * text, fused)
    # The served logits are log-probabilities: the softmax consumers apply gives the mix.
    np.testing.assert_allclose(np.exp(served[features.INTENT_KEY]), expected, atol=1e-6)
    np.testing.assert_allclose(softmax(served[features.INTENT_KEY], axis=-1), expected, atol=1e-6)
    # The mix makes a difference where there is typed text, and reads the head's weights.
    assert not np.allclose(expected[typed], fused[typed], atol=1e-4)
    assert {id(v) for v in mixed.weights} == {id(v) for v in model.weights}
    # Weight 0 is the model without the head.
    plain = predict(served_model(model, sources), batch)
    np.testing.assert_array_equal(plain[features.INTENT_KEY], outputs[features.INTENT_KEY])


@pytest.mark.parametrize(
    "modalities", [(TEXT, IMAGE, AUDIO, TRANSCRIPT, IMAGE_TEXT), (TEXT, AUDIO)], ids=["all", "two"]
)
def test_the_text_only_scope_mixes_only_where_typed_text_is_the_sole_input(modalities):
    config = tiny_config(modalities=modalities)
    model = model_with_head(modalities=modalities)
    mixed = served_model(model, (TEXT,), text_weight=0.4, scope=TEXT_ONLY)
    patterns = np.array(list(itertools.product((0.0, 1.0), repeat=len(modalities))), "float32")
    batch = random_batch(config, patterns)
    outputs, served = predict(model, batch), predict(mixed, batch)

    fused = softmax(outputs[features.INTENT_KEY], axis=-1)
    text = softmax(outputs[AUXILIARY][:, 0], axis=-1)
    # Exactly the rows with typed text and nothing else: one pattern of the product.
    text_only = (patterns[:, modalities.index(TEXT)] == 1.0) & (patterns.sum(axis=1) == 1.0)
    assert text_only.sum() == 1
    expected = np.where(text_only[:, None], 0.6 * fused + 0.4 * text, fused)
    np.testing.assert_allclose(softmax(served[features.INTENT_KEY], axis=-1), expected, atol=1e-6)
    assert not np.allclose(expected[text_only], fused[text_only], atol=1e-4)
    # Typed text beside another input keeps the fused head's probabilities.
    typed_with_more = (patterns[:, modalities.index(TEXT)] == 1.0) & ~text_only
    np.testing.assert_allclose(
        np.exp(served[features.INTENT_KEY][typed_with_more]), fused[typed_with_more], atol=1e-6
    )
    with pytest.raises(ValueError, match="mix scope 'voice' is not one of"):
        served_model(model, (TEXT,), text_weight=0.4, scope="voice")


def test_the_mixed_model_exports_with_ops_stock_tf_serving_has(tmp_path):
    config = tiny_config()
    model = model_with_head()
    # The text-only scope's graph holds every op the typed-text scope's does, and more.
    mixed = served_model(model, (TEXT,), text_weight=0.5, scope=TEXT_ONLY)
    batch = random_batch(config, ALL_PRESENCE_PATTERNS)
    expected = predict(mixed, batch)[features.INTENT_KEY]
    specs = {
        key: tf.TensorSpec((None, *value.shape[1:]), tf.as_dtype(value.dtype))
        for key, value in batch.items()
    }
    module = tf.Module()
    module.model = mixed
    module.serve = tf.function(
        lambda inputs: module.model(inputs, training=False), input_signature=[specs]
    )
    tf.saved_model.save(module, str(tmp_path))

    report = run_serving_process(str(tmp_path))

    assert report["unregistered"] == [], report
    assert {"Softmax", "Log", "Maximum", "Sub", "Mul"} <= set(report["op_types"])
    reloaded = tf.saved_model.load(str(tmp_path))
    np.testing.assert_allclose(reloaded.serve(batch)[features.INTENT_KEY], expected, atol=1e-5)


def test_the_mix_keeps_finite_logits_and_a_valid_weight():
    ruled_out = np.array([[0.0, -1e4, 5.0]], "float32")
    logits = TextHeadMix(0.5)(ruled_out, ruled_out, np.array([1.0], "float32"))
    assert np.isfinite(np.asarray(logits)).all()
    for bad in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="serving weight must be in"):
            TextHeadMix(bad)
    with pytest.raises(ValueError, match="needs the model's auxiliary intent head on typed"):
        served_model(model_with_head(sources=(TRANSCRIPT,)), (TRANSCRIPT,), text_weight=0.5)


def test_the_head_and_its_weight_need_typed_text():
    config = tiny_config(modalities=(IMAGE, AUDIO))
    with pytest.raises(ValueError, match="need the text encoder's 'text' modality"):
        build_fusion_model(
            config,
            image_backbone=tiny_image_backbone(config.image_size),
            text_intent_sources=(TEXT,),
        )
    with pytest.raises(ValueError, match="need the text encoder's 'audio' modality"):
        build_fusion_model(
            config,
            image_backbone=tiny_image_backbone(config.image_size),
            text_intent_sources=(AUDIO,),
        )
    with pytest.raises(ValueError, match="text_intent_loss_weight must be >= 0"):
        TrainingConfig(text_intent_loss_weight=-0.5)
    with pytest.raises(ValueError, match="needs the 'text' modality"):
        TrainingConfig(model=FusionModelConfig(modalities=(AUDIO,)), text_intent_loss_weight=1.0)
    with pytest.raises(ValueError, match="needs the 'transcript' modality"):
        TrainingConfig(
            model=FusionModelConfig(modalities=(TEXT, AUDIO)),
            text_intent_loss_weight=1.0,
            text_intent_sources=(TEXT, TRANSCRIPT),
        )
    with pytest.raises(ValueError, match="not read by the text encoder"):
        TrainingConfig(text_intent_sources=(TEXT, IMAGE))
    for bad in ((), (TEXT, TEXT)):
        with pytest.raises(ValueError, match="distinct and not empty"):
            TrainingConfig(text_intent_sources=bad)
    assert not TrainingConfig().text_intent_head
    assert TrainingConfig().auxiliary_intent_sources == ()
    weighted = TrainingConfig(text_intent_loss_weight=0.5)
    assert weighted.text_intent_head
    assert weighted.auxiliary_intent_sources == (TEXT,)
    assert TrainingConfig.from_custom_config(weighted.to_custom_config()) == weighted
    with pytest.raises(ValueError, match="text_intent_serving_weight needs the auxiliary head"):
        TrainingConfig(text_intent_serving_weight=0.5)
    with pytest.raises(ValueError, match="text_intent_serving_weight needs the auxiliary head"):
        TrainingConfig(
            text_intent_loss_weight=1.0,
            text_intent_sources=(TRANSCRIPT,),
            text_intent_serving_weight=0.5,
        )
    with pytest.raises(ValueError, match=r"text_intent_serving_weight must be in \[0, 1\]"):
        TrainingConfig(text_intent_loss_weight=1.0, text_intent_serving_weight=1.5)
    mixed = TrainingConfig(text_intent_loss_weight=1.0, text_intent_serving_weight=0.5)
    assert TrainingConfig.from_custom_config(mixed.to_custom_config()) == mixed
    assert mixed.text_intent_serving_scope == "typed_text"
    text_only = dataclasses.replace(mixed, text_intent_serving_scope=TEXT_ONLY)
    assert TrainingConfig.from_custom_config(text_only.to_custom_config()) == text_only
    with pytest.raises(ValueError, match="text_intent_serving_scope 'voice' is not one of"):
        dataclasses.replace(mixed, text_intent_serving_scope="voice")
    every_text = TrainingConfig(
        text_intent_loss_weight=1.0, text_intent_sources=(TEXT, TRANSCRIPT, IMAGE_TEXT)
    )
    custom_config = json.loads(json.dumps(every_text.to_custom_config()))
    assert TrainingConfig.from_custom_config(custom_config) == every_text


def test_labels_keep_the_intent_only_where_the_turn_has_the_source():
    transformed = {
        features.INTENT_LABEL_KEY: tf.constant([3, 5, features.MISSING_LABEL, 7], tf.int64),
        features.SENTIMENT_LABEL_KEY: tf.constant([0, -1, 2, -1], tf.int64),
        features.TEXT_PRESENT_KEY: tf.constant([1.0, 0.0, 1.0, 1.0]),
        features.TRANSCRIPT_PRESENT_KEY: tf.constant([0.0, 1.0, 1.0, 1.0]),
    }
    plain = labels_by_output(transformed)
    assert set(plain) == {features.INTENT_KEY, features.SENTIMENT_KEY}

    labels = labels_by_output(transformed, (TEXT,))
    np.testing.assert_array_equal(labels[features.INTENT_KEY], [3, 5, -1, 7])
    np.testing.assert_array_equal(labels[AUXILIARY], [[3], [-1], [-1], [7]])
    assert labels[AUXILIARY].dtype == tf.int64

    both = labels_by_output(transformed, (TEXT, TRANSCRIPT))
    np.testing.assert_array_equal(both[AUXILIARY], [[3, -1], [-1, 5], [-1, -1], [7, 7]])


@pytest.mark.parametrize(
    "sources",
    [pytest.param((TEXT,), id="text"), pytest.param((TEXT, TRANSCRIPT), id="text+transcript")],
)
def test_the_loss_adds_the_weighted_head_loss_and_training_lowers_it(sources):
    config = tiny_config()
    model = model_with_head(sources=sources)
    presence = ALL_PRESENCE_PATTERNS[1:]
    batch = random_batch(config, presence)
    labels = random_labels(config, len(presence))
    labels[AUXILIARY] = np.stack(
        [
            np.where(
                presence[:, config.modalities.index(source)] > 0, labels[features.INTENT_KEY], -1
            )
            for source in sources
        ],
        axis=-1,
    )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=losses_by_output(text_intent_head=True),
        loss_weights=loss_weights_by_output(0.5),
        metrics=metrics_by_output(text_intent_head=True),
    )
    evaluate = {"x": batch, "y": labels, "batch_size": len(presence), "verbose": 0}

    before = model.evaluate(**evaluate, return_dict=True)
    np.testing.assert_allclose(
        before["loss"],
        before["intent_loss"] + before["sentiment_loss"] + 0.5 * before["text_intent_loss"],
        rtol=1e-5,
    )
    # The head's loss: the mean cross-entropy over the labelled (turn, source) pairs.
    logits = predict(model, batch)[AUXILIARY].reshape(-1, config.num_intents)
    pairs = labels[AUXILIARY].reshape(-1)
    labelled = pairs >= 0
    log_probabilities = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    expected = -log_probabilities[labelled, pairs[labelled]].mean()
    np.testing.assert_allclose(before["text_intent_loss"], expected, rtol=1e-4)
    hits = logits.argmax(-1)[labelled] == pairs[labelled]
    np.testing.assert_allclose(before["text_intent_accuracy"], hits.mean(), rtol=1e-5)

    model.fit(batch, labels, batch_size=6, epochs=15, shuffle=False, verbose=0)
    after = model.evaluate(**evaluate, return_dict=True)
    assert after["text_intent_loss"] < 0.5 * before["text_intent_loss"]


def test_loss_weights_leave_the_heads_at_one():
    assert loss_weights_by_output(0.0) == {features.INTENT_KEY: 1.0, features.SENTIMENT_KEY: 1.0}
    assert loss_weights_by_output(2.0)[AUXILIARY] == 2.0
