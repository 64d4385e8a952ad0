"""Learning-rate schedules the Trainer applies as Keras callbacks, per step."""

import keras

# TrainingConfig.learning_rate_schedule values.
SCHEDULES = ("constant", "linear_decay")


class LinearDecay(keras.callbacks.Callback):
    """The peak rate for the first epoch, then a linear decay per step to
    `final_fraction` of it at the end of the last epoch.

    The examples are read from files, so how many steps an epoch has is only known once
    the first one has ended: that epoch runs at the peak rate and its step count sets the
    decay of the later ones. With one epoch the rate stays at the peak.
    """

    def __init__(self, peak: float, epochs: int, final_fraction: float = 0.05):
        super().__init__()
        if not 0.0 <= final_fraction <= 1.0:
            raise ValueError(f"final_fraction must be in [0, 1], got {final_fraction}")
        self.peak = peak
        self.epochs = epochs
        self.final_fraction = final_fraction
        self.steps_per_epoch: int | None = None
        self._epoch = 0
        self._step = 0

    def rate(self, epoch: int, step: int) -> float:
        """The learning rate of step `step` (0-based) of epoch `epoch` (0-based)."""
        if epoch == 0 or not self.steps_per_epoch or self.epochs < 2:
            return self.peak
        decay_steps = (self.epochs - 1) * self.steps_per_epoch
        done = min((epoch - 1) * self.steps_per_epoch + step, decay_steps)
        return self.peak * (1.0 - (1.0 - self.final_fraction) * done / decay_steps)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._step = 0

    def on_train_batch_begin(self, batch, logs=None):
        self.model.optimizer.learning_rate = self.rate(self._epoch, self._step)
        self._step += 1

    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            self.steps_per_epoch = self._step


def schedule_callbacks(name: str, peak: float, epochs: int) -> list[keras.callbacks.Callback]:
    """The callbacks that apply schedule `name` (one of SCHEDULES)."""
    if name == "constant":
        return []
    if name == "linear_decay":
        return [LinearDecay(peak, epochs)]
    raise ValueError(f"learning-rate schedule {name!r} is not one of {list(SCHEDULES)}")
