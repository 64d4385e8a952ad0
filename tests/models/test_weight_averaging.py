"""Weight averaging (TrainingConfig.ema_momentum): the weights fit leaves in the model are
the exponential moving average of the training trajectory, validation reads them, and the
setting reaches both the plain and the layer-wise optimizer."""

import keras
import numpy as np
import pytest

from models import trainer
from models.distribution import distribution_strategy
from models.layerwise_rates import LayerwiseAdamW, optimizer
from models.training_config import TrainingConfig
from tests.models.test_fusion_model import tiny_model

BATCHES, EPOCHS = 4, 3


def _config(**settings) -> TrainingConfig:
    # The Trainer's linear decay from this peak over the epochs.
    return TrainingConfig(learning_rate=0.3, epochs=EPOCHS, **settings)


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4 * BATCHES, 3)).astype("float32")
    return x, (x @ np.array([[1.0], [-2.0], [0.5]], "float32") + 1.0)


def _fit(config: TrainingConfig, layerwise: bool = False, validation: bool = False):
    """Trains a small regression with the Trainer's optimizer and callbacks, under the
    config's distribution strategy; returns the model, the raw weights after every step
    and the fit history."""
    keras.utils.set_random_seed(7)
    with distribution_strategy(config.distribution).scope():
        model = _compiled(config, layerwise)
    trajectory = []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: trajectory.append(
            [np.array(v) for v in model.trainable_variables]
        )
    )
    x, y = _data()
    history = model.fit(
        x,
        y,
        batch_size=4,
        epochs=config.epochs,
        shuffle=False,
        validation_data=(x, y) if validation else None,
        callbacks=[record, *trainer.training_callbacks(config)],
        verbose=0,
    )
    return model, trajectory, history


def _compiled(config: TrainingConfig, layerwise: bool) -> keras.Model:
    first = keras.layers.Dense(2, name="first")
    model = keras.Sequential([keras.Input((3,)), first, keras.layers.Dense(1, name="second")])
    if layerwise:
        # The optimizer the Trainer builds when the text rates differ (its multipliers
        # come from a fusion model's text backbone; here one layer trains at half rate).
        averaging = {"use_ema": True, "ema_momentum": config.ema_momentum}
        opt = LayerwiseAdamW(
            {id(first.kernel): 0.5},
            learning_rate=config.learning_rate,
            weight_decay=0.0,
            **(averaging if config.ema_momentum else {}),
        )
    else:
        opt = optimizer(
            model, config.learning_rate, weight_decay=0.0, ema_momentum=config.ema_momentum
        )
    model.compile(optimizer=opt, loss="mse")
    return model


def _moving_average(trajectory: list, momentum: float) -> list:
    # Keras starts the average at the first step's weights.
    average = trajectory[0]
    for weights in trajectory[1:]:
        average = [momentum * a + (1 - momentum) * w for a, w in zip(average, weights, strict=True)]
    return average


@pytest.mark.parametrize("layerwise", [False, True])
def test_fit_leaves_the_moving_average_of_the_trajectory_in_the_model(layerwise):
    raw_model, raw_trajectory, _ = _fit(_config(), layerwise)
    averaged, trajectory, _ = _fit(_config(ema_momentum=0.6), layerwise)
    assert len(trajectory) == BATCHES * EPOCHS
    # Averaging does not change the training steps themselves...
    for step, raw in zip(trajectory, raw_trajectory, strict=True):
        for a, b in zip(step, raw, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-6)
    # ...only which weights the model keeps: the average, not the last step's.
    expected = _moving_average(trajectory, 0.6)
    final = [np.array(v) for v in averaged.trainable_variables]
    for weights, average in zip(final, expected, strict=True):
        np.testing.assert_allclose(weights, average, rtol=1e-5, atol=1e-6)
    last = [np.array(v) for v in raw_model.trainable_variables]
    assert not all(np.allclose(a, b) for a, b in zip(final, last, strict=True))


@pytest.mark.parametrize("distribution", ["default", "mirrored"])
def test_validation_reads_the_averaged_weights_and_training_continues_from_the_raw_ones(
    distribution,
):
    config = _config(ema_momentum=0.6, distribution=distribution)
    model, trajectory, history = _fit(config, validation=True)
    _, unvalidated, _ = _fit(config)
    raw_model, _, _ = _fit(_config(distribution=distribution))
    # Swapping the average in for validation and back out leaves the training steps as
    # they were without validation.
    for step, other in zip(trajectory, unvalidated, strict=True):
        for a, b in zip(step, other, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # The last epoch's validation loss is the exported (averaged) model's loss.
    x, y = _data()
    exported_loss = model.evaluate(x, y, batch_size=4, verbose=0)
    assert history.history["val_loss"][-1] == pytest.approx(exported_loss, rel=1e-4)
    raw_loss = raw_model.evaluate(x, y, batch_size=4, verbose=0)
    assert exported_loss != pytest.approx(raw_loss, rel=1e-2)


def test_the_trainer_optimizer_averages_only_when_asked():
    model = tiny_model()
    assert not optimizer(model, 1e-3, weight_decay=1e-4).use_ema
    plain = optimizer(model, 1e-3, weight_decay=1e-4, ema_momentum=0.999)
    assert (plain.use_ema, plain.ema_momentum) == (True, 0.999)
    layerwise = optimizer(
        model, 1e-3, 1e-4, text_rate_scale=0.3, text_layer_decay=0.9, ema_momentum=0.99
    )
    assert isinstance(layerwise, LayerwiseAdamW)
    assert (layerwise.use_ema, layerwise.ema_momentum) == (True, 0.99)
    assert not any(
        isinstance(c, keras.callbacks.SwapEMAWeights)
        for c in trainer.training_callbacks(TrainingConfig())
    )


def test_the_momentum_is_checked_and_survives_the_custom_config():
    for bad in (-0.1, 1.0, 1.5):
        with pytest.raises(ValueError, match="ema_momentum must be in"):
            TrainingConfig(ema_momentum=bad)
    config = TrainingConfig(ema_momentum=0.999)
    assert TrainingConfig.from_custom_config(config.to_custom_config()) == config
