"""The Trainer's distribution strategy comes from TrainingConfig, and the Keras 3 model
trains inside it; the deliberate crash setting stops training where it says."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from models import trainer
from models.distribution import distribution_strategy
from models.training_config import TrainingConfig


def _tiny_model() -> keras.Model:
    inputs = keras.Input(shape=(4,), name="x")
    outputs = keras.layers.Dense(3, name="intent")(inputs)
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer=keras.optimizers.AdamW(learning_rate=0.1),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def _data(batches: int = 4) -> tf.data.Dataset:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8 * batches, 4)).astype("float32")
    y = rng.integers(0, 3, size=(8 * batches,))
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(8)


def test_strategy_is_built_from_the_config():
    config = TrainingConfig.from_custom_config(
        TrainingConfig(distribution="mirrored").to_custom_config()
    )
    assert config.distribution == "mirrored"
    strategy = distribution_strategy(config.distribution)
    assert isinstance(strategy, tf.distribute.MirroredStrategy)
    # This CPU machine: one replica; a machine with GPUs gets one per GPU.
    assert strategy.num_replicas_in_sync == max(1, len(tf.config.list_logical_devices("GPU")))
    assert distribution_strategy("default") is tf.distribute.get_strategy()


def test_unknown_distribution_is_refused():
    with pytest.raises(ValueError, match="distribution 'tpu'"):
        TrainingConfig(distribution="tpu")
    with pytest.raises(ValueError, match="distribution 'tpu'"):
        TrainingConfig.from_custom_config({"distribution": "tpu"})


def test_a_keras_3_model_trains_a_step_inside_mirrored_strategy():
    strategy = distribution_strategy("mirrored")
    with strategy.scope():
        model = _tiny_model()
    kernel = model.get_layer("intent").kernel
    # Created in the scope: the strategy's mirrored variable, not a plain one.
    assert isinstance(kernel.value, tf.distribute.DistributedValues)
    before = kernel.numpy().copy()
    history = model.fit(_data(), epochs=1, steps_per_epoch=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert not np.allclose(before, kernel.numpy())


def test_fail_after_steps_stops_training_there():
    model = _tiny_model()
    with pytest.raises(trainer.TrainingInterrupted, match="after 2 steps"):
        model.fit(_data(4), epochs=1, callbacks=[trainer._FailAfterSteps(2)], verbose=0)
