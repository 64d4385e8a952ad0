"""Per-variable learning rates: which variables get which multiplier, and that a training
step really moves each variable by its own rate."""

import keras
import numpy as np
import pytest

from models import losses
from models.distribution import distribution_strategy
from models.fusion_model import IMAGE
from models.layerwise_rates import LayerwiseAdamW, optimizer, text_backbone_rate_multipliers
from models.training_config import TrainingConfig
from tests.models.test_fusion_model import random_batch, random_labels, tiny_config, tiny_model


def test_the_text_backbone_decays_layer_by_layer_and_everything_else_keeps_the_base_rate():
    model = tiny_model(trainable_text_layers=None)
    backbone = model.get_layer("text_encoder").backbone
    multipliers = text_backbone_rate_multipliers(model, scale=0.5, layer_decay=0.8)

    top, lower = backbone.transformer_layers[1], backbone.transformer_layers[0]
    assert [multipliers[id(v)] for v in top.weights] == pytest.approx([0.5] * len(top.weights))
    assert [multipliers[id(v)] for v in lower.weights] == pytest.approx([0.4] * len(lower.weights))
    assert multipliers[id(backbone.token_embedding.embeddings)] == pytest.approx(0.32)
    backbone_ids = {id(v) for v in backbone.weights}
    assert set(multipliers) == backbone_ids
    others = [v for v in model.trainable_variables if id(v) not in backbone_ids]
    assert any("text_projection" in v.path for v in others)
    assert any("fusion" in v.path for v in others)


def test_a_model_without_text_gets_no_multipliers_and_bad_settings_are_refused():
    assert text_backbone_rate_multipliers(tiny_model(modalities=(IMAGE,)), 0.5, 0.8) == {}
    with pytest.raises(ValueError, match="layer decay"):
        text_backbone_rate_multipliers(tiny_model(), 0.5, 1.5)
    with pytest.raises(ValueError, match="text_learning_rate_scale"):
        TrainingConfig(text_learning_rate_scale=0.0)
    with pytest.raises(ValueError, match="text_layer_rate_decay"):
        TrainingConfig(text_layer_rate_decay=0.0)


@pytest.mark.parametrize("distribution", ["default", "mirrored"])
def test_each_variable_steps_by_its_own_rate(distribution):
    # Adam's first step moves every weight by the rate (the moments' ratio is +-1), so
    # the step sizes read off the rates directly.
    rate = 1e-2
    with distribution_strategy(distribution).scope():
        first = keras.layers.Dense(4, name="first")
        second = keras.layers.Dense(1, name="second")
        model = keras.Sequential([keras.Input((3,)), first, second])
        model.compile(
            optimizer=LayerwiseAdamW(
                {id(first.kernel): 0.1}, learning_rate=rate, weight_decay=0.0, epsilon=1e-12
            ),
            loss="mse",
        )
    weights = (first.kernel, first.bias, second.kernel)
    before = [np.array(v) for v in weights]
    x = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
    model.fit(x, np.ones((8, 1), "float32"), batch_size=8, epochs=1, verbose=0)
    steps = [np.abs(np.array(v) - b) for v, b in zip(weights, before, strict=True)]
    np.testing.assert_allclose(steps[0], 0.1 * rate, rtol=1e-3)
    np.testing.assert_allclose(steps[1], rate, rtol=1e-3)
    np.testing.assert_allclose(steps[2], rate, rtol=1e-3)


def test_the_trainer_uses_plain_adamw_unless_the_text_rates_differ():
    model = tiny_model()
    plain = optimizer(model, learning_rate=1e-3, weight_decay=1e-4)
    assert type(plain) is keras.optimizers.AdamW
    layerwise = optimizer(
        model, learning_rate=1e-3, weight_decay=1e-4, text_rate_scale=0.3, text_layer_decay=0.9
    )
    assert isinstance(layerwise, LayerwiseAdamW)
    assert min(layerwise.rate_multipliers.values()) == pytest.approx(0.3 * 0.9**2)


def test_one_training_step_of_the_fusion_model_is_plain_adamws_step_times_the_multiplier():
    # Both models start from the same weights and see the same batch, so their first
    # gradients are equal; Adam's first step is linear in the rate.
    config = tiny_config(trainable_text_layers=None)
    batch, labels = (
        random_batch(config, np.ones((8, len(config.modalities)), "float32")),
        random_labels(config, 8),
    )
    rate = 1e-2
    steps = {}
    for scale, decay in ((1.0, 1.0), (0.3, 0.5)):
        keras.utils.set_random_seed(3)
        model = tiny_model(trainable_text_layers=None)
        model.compile(
            optimizer=optimizer(
                model, rate, weight_decay=0.0, text_rate_scale=scale, text_layer_decay=decay
            ),
            loss=losses.losses_by_output(),
        )
        before = [np.array(v) for v in model.trainable_variables]
        model.fit(batch, labels, batch_size=8, verbose=0)
        steps[scale] = [
            np.array(v) - b for v, b in zip(model.trainable_variables, before, strict=True)
        ]
    multipliers = model.optimizer.rate_multipliers
    assert len(set(multipliers.values())) == 3  # embeddings and the two layers
    for variable, plain, layerwise in zip(
        model.trainable_variables, steps[1.0], steps[0.3], strict=True
    ):
        expected = plain * multipliers.get(id(variable), 1.0)
        np.testing.assert_allclose(layerwise, expected, rtol=1e-4, atol=2e-8, err_msg=variable.path)
