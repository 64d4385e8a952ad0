"""The text fine-tuning bundle, recipes and report: the cut-vocabulary backbone computes what
the full one does, the schedule is the Trainer's, and the report's statistics."""

import csv
import dataclasses
import json

import numpy as np
import pytest

import schemas
from benchmarks import text_finetune, text_finetune_bundle, text_finetune_report
from models import features, minilm
from models.learning_rate import LinearDecay

INTENTS = [i for i in schemas.intent_labels() if i != features.OUT_OF_SCOPE_INTENT]


def _write_csv(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "category"])
        writer.writerows(rows)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    shared = tmp_path_factory.mktemp("shared")
    train = [
        (f"how do I {verb} my card", INTENTS[0])
        for verb in ("activate", "use", "set up", "enable", "start")
    ]
    train += [
        (f"my transfer {word} not arrived", INTENTS[1])
        for word in ("has", "still has", "hasn't", "did", "is")
    ]
    test = [
        ("please activate the new card", INTENTS[0]),
        ("where is my money transfer", INTENTS[1]),
    ]
    _write_csv(shared / "banking77" / "train.csv", train)
    _write_csv(shared / "banking77" / "test.csv", test)
    out = tmp_path_factory.mktemp("bundle")
    manifest = text_finetune_bundle.write_bundle(shared, out, validation_fraction=0.2, seed=3)
    return out, manifest, train, test


def test_validation_rows_are_drawn_per_intent_and_reproducibly():
    intents = ["a"] * 10 + ["b"] * 20 + ["c"] * 2
    chosen = text_finetune_bundle.split_train_rows(intents, 0.1, seed=5)
    picked = [intents[i] for i in chosen]
    assert (picked.count("a"), picked.count("b"), picked.count("c")) == (1, 2, 1)
    assert list(chosen) == sorted(set(chosen))
    assert np.array_equal(chosen, text_finetune_bundle.split_train_rows(intents, 0.1, seed=5))
    with pytest.raises(ValueError):
        text_finetune_bundle.split_train_rows(intents, 1.0, seed=5)


def test_renumbering_keeps_every_used_id_and_rejects_unknown_ones():
    ids = [np.array([[101, 2000, 102, 0]]), np.array([[101, 7000, 102, 0]])]
    kept = text_finetune_bundle.used_vocabulary(ids, always=[0, 100])
    assert list(kept) == [0, 100, 101, 102, 2000, 7000]
    renumbered = text_finetune_bundle.renumber(ids[1], kept)
    assert np.array_equal(kept[renumbered], ids[1])
    with pytest.raises(ValueError, match="missing"):
        text_finetune_bundle.renumber(np.array([[5]]), kept)
    with pytest.raises(ValueError, match="expected one"):
        text_finetune_bundle.token_embedding_index([np.zeros((4, 2)), np.zeros((4, 3))], 4)


def test_bundle_splits_and_cut_backbone_reproduce_the_full_network(bundle):
    out, manifest, train, test = bundle
    assert manifest["rows"] == {"train": 8, "validation": 2, "test": 2}
    loaded_manifest, arrays, weights = text_finetune.load_bundle(out)
    assert loaded_manifest == manifest
    kept = arrays["kept_vocabulary"]
    assert manifest["backbone_config"]["vocabulary_size"] == len(kept) < 100
    # The renumbered ids map back onto exactly what the pipeline's tokenizer produces.
    original = text_finetune_bundle.tokenize([text for text, _ in test])
    assert np.array_equal(kept[arrays["test_token_ids"]], original)
    assert list(arrays["test_labels"]) == [INTENTS.index(intent) for _, intent in test]
    assert arrays["train_token_ids"].shape == (8, features.TEXT_SEQUENCE_LENGTH)

    cut = text_finetune.build_backbone(manifest, weights)
    minilm._use_exact_gelu(cut)
    full = minilm.minilm_backbone()
    inputs = text_finetune.model_inputs(arrays["test_token_ids"], manifest["pad_token_id"])
    full_inputs = text_finetune.model_inputs(original, 0)

    def sequence(backbone, model_inputs):
        return np.asarray(
            backbone(
                {
                    "token_ids": model_inputs[features.TEXT_TOKEN_IDS_KEY],
                    "segment_ids": model_inputs[features.TEXT_SEGMENT_IDS_KEY],
                    "padding_mask": model_inputs[features.TEXT_PADDING_MASK_KEY],
                }
            )["sequence_output"]
        )

    mask = original != 0
    np.testing.assert_allclose(
        sequence(cut, inputs)[mask], sequence(full, full_inputs)[mask], atol=1e-4
    )


def test_a_bundle_with_a_longer_sequence_keeps_a_long_text_whole(tmp_path):
    shared = tmp_path / "shared"
    train = [(f"how do I {verb} my card", INTENTS[0]) for verb in ("activate", "use", "enable")]
    train += [(f"my transfer {word} not arrived", INTENTS[1]) for word in ("has", "did", "is")]
    long_text = " ".join(["card"] * 50)  # 50 wordpieces: past 40 tokens, inside 64
    _write_csv(shared / "banking77" / "train.csv", train)
    _write_csv(shared / "banking77" / "test.csv", [(long_text, INTENTS[0]), ("hi", INTENTS[1])])

    manifest = text_finetune_bundle.write_bundle(
        shared, tmp_path / "bundle", validation_fraction=0.3, seed=0, sequence_length=64
    )

    assert manifest["sequence_length"] == 64
    _, arrays, _ = text_finetune.load_bundle(tmp_path / "bundle")
    assert arrays["test_token_ids"].shape == (2, 64)
    assert arrays["train_token_ids"].shape[1] == 64
    pad = manifest["pad_token_id"]
    assert (arrays["test_token_ids"][0] != pad).sum() == 52  # the 50 words and two markers
    # The pipeline's 40 tokens hold the first 38 of them and the two markers.
    assert (text_finetune_bundle.tokenize([long_text])[0] != 0).sum() == 40


def test_a_recipe_trains_and_predicts_every_test_query(bundle):
    out, manifest, _, _ = bundle
    _, arrays, weights = text_finetune.load_bundle(out)
    recipe = text_finetune.Recipe("tiny", 2, 3e-4, 4, 2, with_validation=True)
    result = text_finetune.train_recipe(recipe, manifest, arrays, weights)
    assert result["train_rows"] == 10
    assert len(result["epochs"]) == 2 and result["validation_accuracy"] is None
    assert len(result["test_predictions"]) == 2
    assert set(result["test_predictions"]) <= set(range(len(INTENTS)))
    assert result["epochs"][1]["train_loss"] < result["epochs"][0]["train_loss"]
    # Only the top 2 layers, the projection and the head train.
    assert result["trainable_parameters"] < 0.5 * sum(w.size for w in weights)


def test_an_averaging_recipe_validates_and_is_scored_on_the_averaged_weights(bundle):
    out, manifest, _, _ = bundle
    _, arrays, weights = text_finetune.load_bundle(out)

    def backbone_change(model) -> float:
        """How far the fine-tuned backbone's weights moved from the pretrained ones."""
        tuned = model.get_layer("text_encoder").backbone.get_weights()
        return max(float(np.max(np.abs(t - w))) for t, w in zip(tuned, weights, strict=True))

    # Keras starts the average at the weights after the first step (Adam moves each weight
    # by at most the learning rate there); at a momentum this close to 1 it stays there,
    # while the raw weights move on: what the model holds after fitting tells them apart.
    rate = 3e-3
    recipes = {
        ema: text_finetune.Recipe("tiny", 2, rate, 4, 2, ema_momentum=ema)
        for ema in (0.0, 0.999999)
    }
    fitted = {
        ema: text_finetune.fit_recipe(r, manifest, arrays, weights) for ema, r in recipes.items()
    }
    raw_model, raw = fitted[0.0]
    averaged_model, averaged = fitted[0.999999]
    assert backbone_change(averaged_model) <= 1.01 * rate < 2 * rate < backbone_change(raw_model)
    # The training steps are the same; what is validated and scored differs.
    assert [e["train_loss"] for e in averaged["epochs"]] == pytest.approx(
        [e["train_loss"] for e in raw["epochs"]], rel=1e-4
    )
    x_val = text_finetune.model_inputs(arrays["validation_token_ids"], manifest["pad_token_id"])
    for model, result in ((raw_model, raw), (averaged_model, averaged)):
        predicted = np.argmax(model.predict(x_val, verbose=0), axis=-1)
        assert result["validation_accuracy"] == pytest.approx(
            float(np.mean(predicted == arrays["validation_labels"]))
        )
        assert all(e["seconds"] > 0 for e in result["epochs"])


def test_an_ensemble_recipe_answers_with_its_members_mean_probability(bundle):
    out, manifest, _, _ = bundle
    _, arrays, weights = text_finetune.load_bundle(out)
    recipe = text_finetune.Recipe("tiny-ens", 2, 3e-3, 4, 1, seed=5, ensemble_size=2)
    models, result = text_finetune.fit_recipe(recipe, manifest, arrays, weights)
    assert len(models) == 2
    members = result["members"]
    assert [m["recipe"]["seed"] for m in members] == [5, 6]
    assert [m["recipe"]["name"] for m in members] == ["tiny-ens-member0", "tiny-ens-member1"]
    assert all(m["recipe"]["ensemble_size"] == 1 for m in members)
    # Different seeds: the members' weights differ (the new head starts elsewhere).
    heads = [m.get_layer("intent_logits").get_weights()[0] for m in models]
    assert not np.allclose(heads[0], heads[1])
    pad = manifest["pad_token_id"]

    def mean_answer(split):
        x = text_finetune.model_inputs(arrays[f"{split}_token_ids"], pad)
        logits = np.stack([m.predict(x, verbose=0) for m in models]).astype(np.float64)
        probabilities = np.exp(logits - logits.max(axis=-1, keepdims=True))
        probabilities /= probabilities.sum(axis=-1, keepdims=True)
        return np.argmax(probabilities.mean(axis=0), axis=-1)

    assert result["test_predictions"] == mean_answer("test").tolist()
    assert result["test_accuracy"] == pytest.approx(
        float(np.mean(mean_answer("test") == arrays["test_labels"]))
    )
    assert result["validation_accuracy"] == pytest.approx(
        float(np.mean(mean_answer("validation") == arrays["validation_labels"]))
    )
    for member, model in zip(members, models, strict=True):
        x = text_finetune.model_inputs(arrays["test_token_ids"], pad)
        assert member["test_predictions"] == np.argmax(model.predict(x, verbose=0), -1).tolist()
    assert result["seconds"] == pytest.approx(sum(m["seconds"] for m in members), abs=0.2)
    # Its time estimate is its members'.
    done = [{"train_examples_per_second": 100.0, "first_epoch_seconds": 30.0, "train_rows": 1000}]
    single = text_finetune.Recipe("r", 2, 1e-4, 16, 4)
    assert text_finetune._estimate_seconds(recipe, done) == pytest.approx(
        2 * text_finetune._estimate_seconds(dataclasses.replace(single, epochs=1), done)
    )


def test_schedule_follows_the_trainers_linear_decay_step_by_step():
    schedule = text_finetune.linear_decay_schedule(2e-4, epochs=4, steps_per_epoch=5)
    trainer = LinearDecay(2e-4, 4)
    trainer.steps_per_epoch = 5
    for step in range(20):
        assert float(schedule(step)) == pytest.approx(trainer.rate(step // 5, step % 5), rel=1e-5)
    one_epoch = text_finetune.linear_decay_schedule(1e-4, epochs=1, steps_per_epoch=5)
    assert float(one_epoch(3)) == pytest.approx(1e-4)


def test_training_rows_take_a_fixed_share_and_append_validation():
    x = {"ids": np.arange(30).reshape(10, 3)}
    y, val_y = np.arange(10), np.array([100, 101])
    val_x = {"ids": np.full((2, 3), -1)}
    share = text_finetune.Recipe("s", 2, 1e-4, 4, 1, training_share=0.6)
    x1, y1 = text_finetune.training_rows(share, x, y, val_x, val_y)
    x2, y2 = text_finetune.training_rows(
        text_finetune.Recipe("s", 2, 1e-4, 4, 1, seed=7, training_share=0.6), x, y, val_x, val_y
    )
    assert len(y1) == 6 and np.array_equal(y1, y2)  # the draw does not follow the seed
    assert np.array_equal(x1["ids"][:, 0] // 3, y1)
    both = text_finetune.Recipe("a", 2, 1e-4, 4, 1, with_validation=True)
    x3, y3 = text_finetune.training_rows(both, x, y, val_x, val_y)
    assert len(y3) == 12 and list(y3[-2:]) == [100, 101] and x3["ids"].shape == (12, 3)


def test_recipes_are_named_uniquely_and_budget_estimates_use_measured_speed():
    assert len(text_finetune.RECIPES_BY_NAME) == len(text_finetune.RECIPES)
    assert text_finetune.RECIPES[0].name == text_finetune_report.BASELINE_RECIPE
    assert text_finetune._estimate_seconds(text_finetune.RECIPES[0], []) == 0.0
    done = [{"train_examples_per_second": 100.0, "first_epoch_seconds": 30.0, "train_rows": 1000}]
    recipe = text_finetune.Recipe("r", 2, 1e-4, 16, 4)
    # 20 s of compilation, then 4 epochs of 10 s with a 15 % margin.
    assert text_finetune._estimate_seconds(recipe, done) == pytest.approx(20 + 46)


def _run(name, seed, rows, validation, predictions):
    return {
        "recipe": {
            "name": name,
            "trainable_layers": 2,
            "learning_rate": 3e-4,
            "batch_size": 16,
            "epochs": 6,
            "text_rate_scale": 1.0,
            "text_layer_decay": 1.0,
            "seed": seed,
            "training_share": 1.0,
            "with_validation": validation is None,
        },
        "trainable_parameters": 3_700_000,
        "train_rows": rows,
        "epochs": [],
        "seconds": 30.0,
        "first_epoch_seconds": 20.0,
        "train_examples_per_second": 5000.0,
        "validation_accuracy": validation,
        "test_predictions": predictions,
        "test_accuracy": None,
    }


def test_report_pools_seeds_picks_by_validation_and_tests_against_the_baseline(tmp_path):
    labels = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    np.savez(tmp_path / "data.npz", test_labels=labels)
    (tmp_path / "manifest.json").write_text(
        json.dumps({"rows": {"train": 90, "validation": 10, "test": 10}})
    )
    wrong = lambda n: [int(v) for v in labels[: 10 - n]] + [0] * n  # noqa: E731 - n wrong answers
    runs = {
        "environment": {"backend": "jax", "keras": "3", "device": "gpu: X", "cpus": 16},
        "runs": [
            _run("trainer-default", 0, 90, 0.90, wrong(1)),
            _run("full-x", 0, 90, 0.95, wrong(3)),
            _run("full-x-seed1", 1, 90, 0.93, wrong(5)),
            _run("trainer-default-all", 0, 100, None, wrong(0)),
        ],
    }
    (tmp_path / "runs.json").write_text(json.dumps(runs))
    report = text_finetune_report.build_report(tmp_path, [tmp_path / "runs.json"], None)
    by_name = {r["name"]: r for r in report["runs"]}
    assert by_name["trainer-default-all"]["test_correct"] == 10
    assert by_name["full-x"]["test_accuracy"] == pytest.approx(0.7)
    assert by_name["trainer-default-all"]["beats_reference"]
    assert not by_name["trainer-default"]["beats_reference"]  # 90 % < 93.66 %
    assert by_name["full-x"]["against_trainer-default"]["only_first_right"] == 2
    groups = {g["recipe"]: g for g in report["recipes"]}
    assert groups["full-x"]["seeds"] == [0, 1]
    assert groups["full-x"]["test_accuracy_mean"] == pytest.approx(0.6)
    assert groups["trainer-default-all"]["validation_accuracy_mean"] is None
    # The validation split picks full-x (0.95) although its test figure is lower.
    assert report["validation_choice"]["name"] == "full-x"
    assert "trainer-default-all" not in report["validation_choice"]["among"]
    text = text_finetune_report.markdown(report)
    assert "**full-x**" in text and "| full-x | gpu: X | 90 | 2 | 60.00 (50.00-70.00)" in text


def test_report_pairs_each_run_with_a_setting_with_its_twin_of_the_same_seed(tmp_path):
    labels = np.arange(10)
    np.savez(tmp_path / "data.npz", test_labels=labels)
    (tmp_path / "manifest.json").write_text(
        json.dumps({"rows": {"train": 90, "validation": 10, "test": 10}})
    )
    right = lambda *wrong: [0 if i in wrong else int(v) for i, v in enumerate(labels)]  # noqa: E731

    def with_setting(run: dict, **settings) -> dict:
        run["recipe"].update(settings)
        return run

    runs = [
        # Recorded before either setting existed: neither is in the recipe.
        _run("trainer-default-all", 0, 100, None, right(1, 2)),
        with_setting(_run("trainer-default-all-ema", 0, 100, None, right(1)), ema_momentum=0.999),
        _run("trainer-default-all-seed1", 1, 100, None, right(3)),
        with_setting(
            _run("trainer-default-all-ema-seed1", 1, 100, None, right(4, 5)), ema_momentum=0.999
        ),
        # No twin without averaging for this seed: left out of the pairs.
        with_setting(
            _run("trainer-default-all-ema-seed2", 2, 100, None, right()), ema_momentum=0.999
        ),
        # Recorded with both settings in the recipe, smoothing on: paired with the seed-1
        # run above, which has neither.
        with_setting(
            _run("trainer-default-all-smooth-seed1", 1, 100, None, right()),
            ema_momentum=0.0,
            label_smoothing=0.1,
        ),
        # The seed-1 run again, recorded with both settings off: counted once, the first.
        with_setting(
            _run("trainer-default-all-seed1", 1, 100, None, right(3, 6)),
            ema_momentum=0.0,
            label_smoothing=0.0,
        ),
    ]
    environment = {"backend": "tensorflow", "keras": "3", "device": "cpu", "cpus": 2}
    (tmp_path / "runs.json").write_text(json.dumps({"environment": environment, "runs": runs}))
    report = text_finetune_report.build_report(tmp_path, [tmp_path / "runs.json"], None)
    assert report["repeats"] == [
        {
            "name": "trainer-default-all-seed1",
            "device": "cpu",
            "first_correct": 9,
            "repeat_correct": 8,
            "queries_answered_differently": 1,
        }
    ]
    groups = {g["recipe"]: g for g in report["recipes"]}
    assert groups["trainer-default-all"]["seeds"] == [0, 1]
    averaging = report["weight_averaging"]
    pairs = {p["with"]: p for p in averaging["pairs"]}
    assert set(pairs) == {"trainer-default-all-ema", "trainer-default-all-ema-seed1"}
    assert pairs["trainer-default-all-ema"]["without"] == "trainer-default-all"
    assert pairs["trainer-default-all-ema-seed1"]["without"] == "trainer-default-all-seed1"
    first = pairs["trainer-default-all-ema"]
    assert (first["with_correct"], first["without_correct"]) == (9, 8)
    assert first["mcnemar"]["only_first_right"] == 0 and first["mcnemar"]["only_this_right"] == 1
    assert pairs["trainer-default-all-ema-seed1"]["difference_points"] == pytest.approx(-10.0)
    assert averaging["with_ahead"] == 1
    assert averaging["mean_difference_points"] == pytest.approx(0.0)
    smoothing = report["label_smoothing"]
    assert [(p["with"], p["without"]) for p in smoothing["pairs"]] == [
        ("trainer-default-all-smooth-seed1", "trainer-default-all-seed1")
    ]
    assert smoothing["with_ahead"] == 1
    assert smoothing["mean_difference_points"] == pytest.approx(10.0)
    text = text_finetune_report.markdown(report)
    assert "## Weight averaging, seed by seed" in text
    assert (
        "| trainer-default-all-ema (momentum 0.999) | trainer-default-all | 0 | 90.00 (9) |" in text
    )
    assert "With weight averaging ahead in 1 of 2 pairs; mean difference +0.00 points." in text
    assert "## Label smoothing, seed by seed" in text
    assert (
        "| trainer-default-all-smooth-seed1 (smoothing 0.1) | trainer-default-all-seed1 |" in text
    )
    assert "label smoothing 0.1" in text  # the recipe's rate column names it
    assert "Repeated: trainer-default-all-seed1 on cpu, 9 then 8 correct, 1 of 10" in text
    # Runs files without either setting get no such section.
    (tmp_path / "plain.json").write_text(json.dumps({"environment": environment, "runs": runs[:1]}))
    plain = text_finetune_report.build_report(tmp_path, [tmp_path / "plain.json"], None)
    assert plain["weight_averaging"] is None and plain["label_smoothing"] is None
    text = text_finetune_report.markdown(plain)
    assert "Weight averaging" not in text and "Label smoothing" not in text


def test_report_compares_each_ensemble_with_its_own_members(tmp_path):
    labels = np.arange(10)
    np.savez(tmp_path / "data.npz", test_labels=labels)
    (tmp_path / "manifest.json").write_text(
        json.dumps({"rows": {"train": 90, "validation": 10, "test": 10}})
    )
    right = lambda *wrong: [0 if i in wrong else int(v) for i, v in enumerate(labels)]  # noqa: E731

    def ensemble(name, seed, predictions, *members):
        run = _run(name, seed, 100, None, predictions)
        run["recipe"]["ensemble_size"] = len(members)
        run["members"] = [
            _run(f"{name}-member{k}", seed + k, 100, None, m) for k, m in enumerate(members)
        ]
        for member in run["members"]:
            member["recipe"]["ensemble_size"] = 1
        return run

    runs = [
        # Recorded before ensembles existed: the twin of the first ensemble's first member.
        _run("trainer-default-all", 0, 100, None, right(1, 2, 3)),
        ensemble("trainer-default-all-ens2", 0, right(1), right(1, 2, 9), right(4, 5)),
        ensemble("trainer-default-all-ens2-seed2", 2, right(6, 7), right(6), right(8, 9)),
    ]
    environment = {"backend": "tensorflow", "keras": "3", "device": "cpu", "cpus": 2}
    (tmp_path / "runs.json").write_text(json.dumps({"environment": environment, "runs": runs}))
    report = text_finetune_report.build_report(tmp_path, [tmp_path / "runs.json"], None)
    comparison = report["seed_ensembles"]
    first, second = comparison["ensembles"]
    assert first["correct"] == 9 and [m["correct"] for m in first["members"]] == [7, 8]
    assert first["beats_every_member"] and not second["beats_every_member"]
    assert first["gain_points"] == pytest.approx(15.0)  # 9 against a mean of 7.5, of 10
    assert second["gain_points"] == pytest.approx(-5.0)  # 8 against 8.5
    assert comparison["mean_gain_points"] == pytest.approx(5.0)
    assert comparison["beating_every_member"] == 1
    m0 = first["members"][0]
    # Both miss query 1; the ensemble gets 2 and 9, which the member misses.
    assert (m0["mcnemar"]["only_first_right"], m0["mcnemar"]["only_this_right"]) == (0, 2)
    assert m0["single_run"] == "trainer-default-all"
    assert m0["answered_differently_from_single_run"] == 2  # queries 3 and 9
    assert first["members"][1]["single_run"] is None
    groups = {g["recipe"]: g for g in report["recipes"]}
    assert groups["trainer-default-all-ens2"]["seeds"] == [0, 2]
    text = text_finetune_report.markdown(report)
    assert "## Seed ensembles, against their own members" in text
    assert (
        "| trainer-default-all-ens2 | 90.00 (9) | 0 | 70.00 (7) | 0 / 2, 0.50 | "
        "trainer-default-all (2) |" in text
    )
    assert "1 of 2 ensembles beat every member; mean gain over the members' mean +5.00" in text
    assert "ensemble of 2 seeds" in text


def test_recipe_groups_strip_only_a_seed_suffix():
    assert text_finetune_report.recipe_group("trainer-default-all-seed2") == "trainer-default-all"
    assert text_finetune_report.recipe_group("full-5e-5-e20") == "full-5e-5-e20"


def test_machine_comparison_lists_only_recipes_run_on_several_devices():
    def run(name, device, speed, accuracy):
        return {
            "group": text_finetune_report.recipe_group(name),
            "device": device,
            "backend": "jax" if device != "cpu" else "tensorflow",
            "train_examples_per_second": speed,
            "seconds": 10.0,
            "test_accuracy": accuracy,
        }

    rows = text_finetune_report.machine_comparison(
        [
            run("trainer-default-all", "gpu", 7000.0, 0.93),
            run("trainer-default-all-seed1", "gpu", 6000.0, 0.95),
            run("trainer-default-all", "cpu", 110.0, 0.94),
            run("full-x", "gpu", 5000.0, 0.9),
        ]
    )
    assert [(r["recipe"], r["device"], r["runs"]) for r in rows] == [
        ("trainer-default-all", "gpu", 2),
        ("trainer-default-all", "cpu", 1),
    ]
    assert rows[0]["train_examples_per_second"] == pytest.approx(6500.0)
    assert rows[0]["test_accuracy_mean"] == pytest.approx(0.94)
