import keras
import numpy as np
import pytest

from models.learning_rate import LinearDecay, schedule_callbacks
from models.training_config import TrainingConfig


def test_linear_decay_holds_the_peak_for_the_first_epoch_then_decays_to_the_floor():
    schedule = LinearDecay(peak=1e-3, epochs=3, final_fraction=0.05)
    assert schedule.rate(0, 0) == schedule.rate(0, 999) == 1e-3
    schedule.steps_per_epoch = 10
    assert schedule.rate(1, 0) == pytest.approx(1e-3)
    assert schedule.rate(1, 10) == pytest.approx(1e-3 * (1 - 0.95 / 2))
    assert schedule.rate(2, 10) == pytest.approx(5e-5)
    rates = [schedule.rate(epoch, step) for epoch in (1, 2) for step in range(10)]
    assert all(a > b for a, b in zip(rates[:-1], rates[1:], strict=True))


def test_one_epoch_stays_at_the_peak():
    schedule = LinearDecay(peak=1e-3, epochs=1)
    schedule.steps_per_epoch = 10
    assert schedule.rate(0, 9) == 1e-3


def test_fit_applies_the_schedule_per_step():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.AdamW(learning_rate=0.1), loss="mse")
    seen = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(float(self.model.optimizer.learning_rate))

    x = np.zeros((8, 2), np.float32)
    callbacks = [*schedule_callbacks("linear_decay", 0.1, 3), Record()]
    model.fit(x, x[:, :1], batch_size=2, epochs=3, verbose=0, callbacks=callbacks)
    assert len(seen) == 12
    assert seen[:4] == pytest.approx([0.1] * 4)
    assert seen[4] == pytest.approx(0.1)
    assert seen[-1] == pytest.approx(0.1 * (1 - 0.95 * 7 / 8))
    assert all(a > b for a, b in zip(seen[4:-1], seen[5:], strict=True))


def test_constant_adds_no_callback_and_unknown_schedules_are_refused():
    assert schedule_callbacks("constant", 0.1, 3) == []
    with pytest.raises(ValueError, match="not one of"):
        schedule_callbacks("cosine", 0.1, 3)
    with pytest.raises(ValueError, match="learning_rate_schedule"):
        TrainingConfig(learning_rate_schedule="cosine")
