"""The quality benchmark's scores: served answers, in-scope accuracy without rejection,
and out-of-scope recall at a fixed false-rejection rate."""

import numpy as np
import pytest

import schemas
from benchmarks.model_quality import best_in_scope_intents, intent_scores, turn_records
from corpus.session_plan import VAGUE_TEXTS
from models import features, signatures
from serving.batch_predict import TurnInputs

INTENTS = schemas.intent_labels()
OOS = features.OUT_OF_SCOPE_INTENT


def turn(intent):
    return TurnInputs("t", "s", "src", {}, "text", intent)


def prediction(best: str, confidence: float, served: str | None = None) -> dict:
    probabilities = np.full(len(INTENTS), (1 - confidence) / (len(INTENTS) - 1))
    probabilities[INTENTS.index(best)] = confidence
    return {
        signatures.INTENT_OUTPUT: served or best,
        signatures.INTENT_PROBABILITIES_OUTPUT: probabilities.tolist(),
        signatures.CONFIDENCE_OUTPUT: float(np.delete(probabilities, INTENTS.index(OOS)).max()),
    }


def test_in_scope_accuracy_ignores_rejection_and_out_of_scope_turns():
    a, b = INTENTS[0], INTENTS[1]
    turns = [turn(a), turn(a), turn(b), turn(OOS), turn(None)]
    predictions = [
        prediction(a, 0.9),  # right
        prediction(a, 0.2, served=OOS),  # right intent, falsely rejected
        prediction(a, 0.8),  # wrong
        prediction(b, 0.1, served=OOS),  # out of scope, caught
        prediction(a, 0.9),  # unlabelled: not counted
    ]
    scores = intent_scores(turns, predictions)
    assert scores["turns"] == 4
    assert scores["intent_accuracy"] == pytest.approx(2 / 4)
    assert scores["in_scope_turns"] == 3
    assert scores["in_scope_accuracy"] == pytest.approx(2 / 3)
    assert scores["in_scope_served_accuracy"] == pytest.approx(1 / 3)
    assert scores["served_oos_recall"] == 1.0
    assert scores["served_false_rejection_rate"] == pytest.approx(1 / 3)


def test_oos_score_is_the_answers_confidence():
    # An n-best answer ranks the intent over the mean but keeps the best transcript's
    # confidence: the out-of-scope score reads the confidence, as the served threshold does.
    a = INTENTS[0]
    turns = [turn(a)] * 20 + [turn(OOS)] * 2
    predictions = [prediction(a, c) for c in np.linspace(0.5, 0.95, 20)]
    unsure = [{**prediction(a, 0.9), signatures.CONFIDENCE_OUTPUT: 0.1}] * 2
    scores = intent_scores(turns, predictions + unsure)
    assert scores["oos_recall_at_5pct_frr"] == 1.0


def test_oos_recall_at_fixed_false_rejection():
    a = INTENTS[0]
    # 20 in-scope turns with confidences 0.50..0.95, 4 out-of-scope ones.
    confidences = np.linspace(0.5, 0.95, 20)
    turns = [turn(a)] * 20 + [turn(OOS)] * 4
    predictions = [prediction(a, c) for c in confidences]
    predictions += [prediction(a, c) for c in (0.1, 0.2, 0.55, 0.9)]
    scores = intent_scores(turns, predictions)
    # At 5 % false rejection (interpolated), confidences below ~0.52 count as out of scope.
    assert scores["oos_turns"] == 4
    assert scores["oos_recall_at_5pct_frr"] == pytest.approx(2 / 4)


def test_the_report_names_each_models_recipe_and_older_models_trained_at_a_constant_rate():
    from benchmarks.model_quality import _recipe
    from models import derived_text_versions
    from models.training_config import TrainingConfig

    def trained(config: dict, **info) -> dict:
        return {"training": {"trainer": {"config": config}, **info}}

    config = TrainingConfig(epochs=6).to_custom_config()
    config["model"]["trainable_text_layers"] = None
    recipe = _recipe(trained(config, derived_text_recognizers=derived_text_versions.installed()))
    assert recipe.startswith(
        "6 epochs, linear_decay learning rate from 0.0003, all text-encoder layers "
        "fine-tuned, beam5-prompt"
    )
    assert recipe.endswith(" speech decoding, sessions split 2:1 train:eval")
    assert _recipe(trained(config, split="9:1")).endswith("sessions split 9:1 train:eval")
    old = TrainingConfig().to_custom_config()
    del old["learning_rate_schedule"]
    config.update(text_learning_rate_scale=0.3, text_layer_rate_decay=0.9)
    assert "all text-encoder layers fine-tuned at 0.3 of the rate (top layer), x0.9 per " in (
        _recipe(trained(config))
    )
    assert _recipe(trained(old)) == (
        "3 epochs, constant learning rate from 0.0003, 2 text-encoder layers fine-tuned, "
        "greedy speech decoding, sessions split 2:1 train:eval"
    )
    config.update(text_intent_loss_weight=0.5)
    assert "x0.9 per lower layer, auxiliary text intent loss x0.5 (text), beam5-prompt" in (
        _recipe(trained(config, derived_text_recognizers=derived_text_versions.installed()))
    )
    config.update(text_intent_sources=["text", "transcript"])
    assert "auxiliary text intent loss x0.5 (text, transcript), " in _recipe(trained(config))
    config.update(ema_momentum=0.999)
    assert "(text, transcript), weights averaged (EMA momentum 0.999), " in (
        _recipe(trained(config))
    )
    config["model"]["seed"] = 2
    assert "weights averaged (EMA momentum 0.999), seed 2, " in _recipe(trained(config))
    config.update(label_smoothing=0.1)
    assert "(EMA momentum 0.999), label smoothing 0.1, seed 2, " in _recipe(trained(config))
    config.update(text_intent_serving_weight=0.5)
    assert (
        "(text, transcript), served intent 0.5 from the typed-text head on typed turns, "
        "weights averaged" in _recipe(trained(config))
    )
    config.update(text_intent_serving_scope="text_only")
    assert "served intent 0.5 from the typed-text head on text-only turns, " in (
        _recipe(trained(config))
    )


def test_each_recipe_trains_in_its_own_pipeline_root():
    import argparse

    from benchmarks.model_quality import ABLATIONS, _root_name, _training_config
    from pipeline import config

    def args(
        layers: str,
        scale: float = 1.0,
        decay: float = 1.0,
        text_intent: float = 0.0,
        sources: tuple[str, ...] = ("text",),
        ema: float = 0.0,
        seed: int | None = None,
        smoothing: float = 0.0,
        serving_weight: float = 0.0,
        serving_scope: str = "typed_text",
    ) -> argparse.Namespace:
        return argparse.Namespace(
            trainable_text_layers=layers,
            epochs=6,
            learning_rate_schedule="linear_decay",
            text_learning_rate_scale=scale,
            text_layer_rate_decay=decay,
            text_intent_loss_weight=text_intent,
            text_intent_sources=list(sources),
            ema_momentum=ema,
            seed=seed,
            label_smoothing=smoothing,
            text_intent_serving_weight=serving_weight,
            text_intent_serving_scope=serving_scope,
        )

    full = config.PROFILES["full"].training
    all_layers = _training_config(args("all"), ABLATIONS["text_only"])
    assert all_layers.model.trainable_text_layers is None
    assert all_layers.model.modalities == ("text",)
    assert all_layers.batch_size == full.batch_size  # the rest comes from the full profile
    two = _training_config(args("2"), ABLATIONS["text_only"])
    assert (
        _root_name("text_only", None, all_layers)
        == "quality-text_only-full-e6-linear_decay-textall"
    )
    assert _root_name("text_only", 500, two) == "quality-text_only-500-e6-linear_decay-text2"
    layerwise = _training_config(args("all", 0.3, 0.9), ABLATIONS["fused"])
    assert (layerwise.text_learning_rate_scale, layerwise.text_layer_rate_decay) == (0.3, 0.9)
    assert (
        _root_name("fused", None, layerwise)
        == "quality-fused-full-e6-linear_decay-textall-rate0.3x0.9"
    )
    # A model trained on the typed-copies corpus never reuses one trained without them.
    assert (
        _root_name("fused", None, two, typed_copies=True)
        == "quality-fused-full-typed-e6-linear_decay-text2"
    )
    # Nor one trained on another share of sessions; the default split keeps the old names.
    assert (
        _root_name("fused", None, two, split=config.SplitBuckets(9, 1))
        == "quality-fused-full-e6-linear_decay-text2-split9x1"
    )
    assert _root_name("fused", None, two, split=config.SplitBuckets()) == _root_name(
        "fused", None, two
    )
    # The auxiliary text intent head is a recipe of its own; models without typed text
    # (the image and audio ablations) never get it.
    auxiliary = _training_config(args("2", text_intent=1.0), ABLATIONS["fused"])
    assert (
        _root_name("fused", 4000, auxiliary, split=config.SplitBuckets(9, 1))
        == "quality-fused-4000-e6-linear_decay-text2-textaux1-split9x1"
    )
    audio_only = _training_config(args("2", text_intent=1.0), ABLATIONS["audio_only"])
    assert audio_only.text_intent_loss_weight == 0.0
    # A head on the derived texts too is another recipe again; each model reads those
    # of the sources it has.
    every_text = args("2", text_intent=1.0, sources=("text", "transcript", "image_text"))
    fused = _training_config(every_text, ABLATIONS["fused"])
    assert fused.auxiliary_intent_sources == ("text", "transcript", "image_text")
    assert (
        _root_name("fused", 4000, fused, split=config.SplitBuckets(9, 1))
        == "quality-fused-4000-e6-linear_decay-text2-textaux1-text+transcript+image_text-split9x1"
    )
    # Averaged weights are a recipe of their own too.
    averaged = _training_config(args("2", text_intent=1.0, ema=0.999), ABLATIONS["fused"])
    assert averaged.ema_momentum == 0.999
    assert (
        _root_name("fused", None, averaged, split=config.SplitBuckets(9, 1))
        == "quality-fused-full-e6-linear_decay-text2-textaux1-split9x1-ema0.999"
    )
    # So is another seed; without one the names stay as they were.
    reseeded = _training_config(args("2", text_intent=1.0, ema=0.999, seed=1), ABLATIONS["fused"])
    assert reseeded.model.seed == 1 and averaged.model.seed is None
    assert _root_name("fused", None, reseeded, split=config.SplitBuckets(9, 1)) == (
        "quality-fused-full-e6-linear_decay-text2-textaux1-split9x1-ema0.999-seed1"
    )
    # And label smoothing.
    smoothed = _training_config(args("2", text_intent=1.0, smoothing=0.1), ABLATIONS["fused"])
    assert smoothed.label_smoothing == 0.1
    assert _root_name("fused", 4000, smoothed, split=config.SplitBuckets(9, 1)) == (
        "quality-fused-4000-e6-linear_decay-text2-textaux1-split9x1-smooth0.1"
    )
    # The text head's serving weight changes only the export: the same root, so both arms
    # share ExampleGen and Transform outputs and train the same weights. Models without
    # the head on typed text never get it.
    mixed = _training_config(
        args("2", text_intent=1.0, smoothing=0.1, serving_weight=0.5), ABLATIONS["fused"]
    )
    assert mixed.text_intent_serving_weight == 0.5
    assert _root_name("fused", 4000, mixed, split=config.SplitBuckets(9, 1)) == _root_name(
        "fused", 4000, smoothed, split=config.SplitBuckets(9, 1)
    )
    assert mixed.to_custom_config() != smoothed.to_custom_config()  # the Trainer reruns
    text_only = _training_config(
        args("2", text_intent=1.0, smoothing=0.1, serving_weight=0.5, serving_scope="text_only"),
        ABLATIONS["fused"],
    )
    assert text_only.text_intent_serving_scope == "text_only"
    assert _root_name("fused", 4000, text_only, split=config.SplitBuckets(9, 1)) == _root_name(
        "fused", 4000, smoothed, split=config.SplitBuckets(9, 1)
    )
    assert text_only.to_custom_config() != mixed.to_custom_config()
    for name in ("audio_only", "image_only"):
        ablation = _training_config(args("2", text_intent=1.0, serving_weight=0.5), ABLATIONS[name])
        assert ablation.text_intent_serving_weight == 0.0
    assert _training_config(args("2", serving_weight=0.5), ABLATIONS["fused"]) == (
        _training_config(args("2"), ABLATIONS["fused"])
    )
    no_transcript = _training_config(every_text, ABLATIONS["fused_no_transcript"])
    assert no_transcript.auxiliary_intent_sources == ("text", "image_text")
    assert _training_config(every_text, ABLATIONS["audio_only"]).auxiliary_intent_sources == ()


def test_the_voice_ratio_is_never_rounded_up_to_the_target():
    from benchmarks.model_quality import _ratio_against_target

    assert _ratio_against_target(0.8472) == "0.847 (target >= 0.85: missed)"
    assert _ratio_against_target(0.85) == "0.850 (target >= 0.85: met)"
    assert _ratio_against_target(None) == "-"


def test_best_in_scope_intent_never_answers_out_of_scope():
    probabilities = np.full(len(INTENTS), 0.001)
    probabilities[INTENTS.index(OOS)] = 0.9
    probabilities[INTENTS.index("card_arrival")] = 0.05
    served = {signatures.INTENT_PROBABILITIES_OUTPUT: probabilities.tolist()}
    assert best_in_scope_intents([served]) == ["card_arrival"]


def test_turn_records_name_each_turn_its_label_and_combination():
    vague = VAGUE_TEXTS[0]
    turns = [
        TurnInputs("t1", "s", "src", {"text": b"my card is lost"}, "text", INTENTS[0]),
        TurnInputs("t2", "s", "src", {"text": vague.encode()}, "image+text", INTENTS[1]),
        TurnInputs("t3", "s", "src", {"text": b""}, "audio", None),
    ]
    assert turn_records(turns, set(VAGUE_TEXTS)) == {
        "turn_ids": ["t1", "t2", "t3"],
        "intents": [INTENTS[0], INTENTS[1], None],
        "combinations": ["text", "image+vague_text", "audio"],
    }
