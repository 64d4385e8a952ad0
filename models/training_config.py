"""Trainer settings, read from the TFX Trainer's custom_config."""

import dataclasses

from models.fusion_model import TEXT, TEXT_ENCODER_FEEDS, FusionModelConfig
from models.learning_rate import SCHEDULES
from models.served_intent import MIX_SCOPES, TYPED_TEXT

# tf.distribute strategies the Trainer can build the model under (models/distribution.py).
DISTRIBUTIONS = ("default", "mirrored", "multi_worker_mirrored")


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    """How to train and export.

    Attributes:
      model: the fusion model's sizes and switches.
      epochs: passes over the training split.
      batch_size: examples per step.
      learning_rate: AdamW peak learning rate.
      learning_rate_schedule: "linear_decay" (the peak for the first epoch, then down to
        5 % of it by the end, per step; models/learning_rate.py) or "constant".
      weight_decay: AdamW weight decay.
      text_learning_rate_scale: the text backbone's rate as a share of the learning rate
        (its top transformer layer's; 1.0: the same rate as every other layer).
      text_layer_rate_decay: each lower transformer layer of the text backbone trains at
        this share of the rate of the layer above it (layer-wise decay; 1.0: none). See
        models/layerwise_rates.py.
      text_intent_loss_weight: above 0, an auxiliary intent head on the typed text's
        embedding alone (before fusion) is trained beside the fused heads, and its loss,
        over the labelled turns that have typed text, is added with this weight. It is a
        training-time signal for the text encoder only: the exported model does not
        have the head. 0: no such head.
      text_intent_sources: which of the text encoder's inputs the auxiliary head reads:
        "text" (typed text), "transcript" (the voice message's transcript), "image_text"
        (the text read in the picture). One head, shared, is applied to the encoder's
        embedding of each source a turn has, and its loss is the mean over those
        (turn, source) pairs that are labelled.
      text_intent_serving_weight: above 0 (at most 1), the exported model answers a turn
        that has typed text with this share of the auxiliary head's typed-text intent
        probabilities mixed into the fused head's (models/served_intent.py); turns
        without typed text keep the fused head's. Needs the head on typed text. 0: the
        exported model leaves the head out.
      text_intent_serving_scope: which turns with typed text get that mix: "typed_text"
        (every one) or "text_only" (those with no other input: no picture, voice
        message, transcript or text read in a picture).
      ema_momentum: above 0, the exported weights are an exponential moving average of
        the training weights (Polyak averaging): after each step the average moves
        (1 - ema_momentum) of the way to the new weights. The validation metrics logged
        during training read the averaged weights. 0: the last step's weights. See
        models/layerwise_rates.py.
      label_smoothing: above 0, every head's training target keeps 1 - label_smoothing
        on the labelled class and spreads label_smoothing evenly over all classes
        (models/losses.py). 0: one-hot targets.
      out_of_scope_false_rejection: the share of in-scope eval turns the calibrated
        out-of-scope threshold may flag (models/out_of_scope_calibration.py).
      out_of_scope_threshold: the threshold used when the eval split has too few labelled
        in-scope turns to calibrate on, or when out_of_scope_fixed_threshold is set: a
        turn whose best in-scope intent has a lower probability is out of scope.
      out_of_scope_fixed_threshold: use out_of_scope_threshold as is, without calibrating.
      cache_transformed: keep transformed examples in memory after the first epoch
        (decoding pictures and audio once); turn off for corpora larger than memory.
      warmup_requests: how many eval examples become TF Serving warm-up requests.
      distribution: the tf.distribute strategy the model is built and trained under:
        "default" (no distribution), "mirrored" (every local GPU, or the CPU) or
        "multi_worker_mirrored" (the workers listed in TF_CONFIG; one Trainer process per
        worker, see models/distribution.py).
      fail_after_steps: when above 0, training raises TrainingInterrupted after this many
        steps: a deterministic crash, to rehearse resuming an interrupted pipeline run.
    """

    model: FusionModelConfig = FusionModelConfig()
    epochs: int = 3
    batch_size: int = 16
    learning_rate: float = 3e-4
    learning_rate_schedule: str = "linear_decay"
    weight_decay: float = 1e-4
    text_learning_rate_scale: float = 1.0
    text_layer_rate_decay: float = 1.0
    text_intent_loss_weight: float = 0.0
    text_intent_sources: tuple[str, ...] = (TEXT,)
    text_intent_serving_weight: float = 0.0
    text_intent_serving_scope: str = TYPED_TEXT
    ema_momentum: float = 0.0
    label_smoothing: float = 0.0
    out_of_scope_false_rejection: float = 0.05
    out_of_scope_threshold: float = 0.3
    out_of_scope_fixed_threshold: bool = False
    cache_transformed: bool = True
    warmup_requests: int = 8
    distribution: str = "default"
    fail_after_steps: int = 0

    @classmethod
    def from_custom_config(cls, custom_config: dict | None) -> "TrainingConfig":
        """Builds the config from the Trainer's custom_config (a JSON-able dict)."""
        values = dict(custom_config or {})
        model_values = dict(values.pop("model", {}))
        for key in ("modalities", "audio_conv_filters"):
            if key in model_values:
                model_values[key] = tuple(model_values[key])
        if "text_intent_sources" in values:
            values["text_intent_sources"] = tuple(values["text_intent_sources"])
        unknown = set(values) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown training settings {sorted(unknown)}")
        return cls(model=FusionModelConfig(**model_values), **values)

    def __post_init__(self):
        if self.distribution not in DISTRIBUTIONS:
            raise ValueError(
                f"distribution {self.distribution!r} is not one of {list(DISTRIBUTIONS)}"
            )
        if self.learning_rate_schedule not in SCHEDULES:
            raise ValueError(
                f"learning_rate_schedule {self.learning_rate_schedule!r} is not one of "
                f"{list(SCHEDULES)}"
            )

        if self.text_learning_rate_scale <= 0:
            raise ValueError(
                f"text_learning_rate_scale must be > 0, got {self.text_learning_rate_scale}"
            )
        if not 0 < self.text_layer_rate_decay <= 1:
            raise ValueError(
                f"text_layer_rate_decay must be in (0, 1], got {self.text_layer_rate_decay}"
            )

        if not 0 <= self.ema_momentum < 1:
            raise ValueError(f"ema_momentum must be in [0, 1), got {self.ema_momentum}")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")

        if self.text_intent_loss_weight < 0:
            raise ValueError(
                f"text_intent_loss_weight must be >= 0, got {self.text_intent_loss_weight}"
            )
        sources = self.text_intent_sources
        if not sources or len(set(sources)) != len(sources):
            raise ValueError(f"text_intent_sources must be distinct and not empty, got {sources}")
        unknown = [source for source in sources if source not in TEXT_ENCODER_FEEDS]
        if unknown:
            raise ValueError(
                f"text_intent_sources {unknown} are not read by the text encoder: choose from "
                f"{list(TEXT_ENCODER_FEEDS)}"
            )
        if not 0 <= self.text_intent_serving_weight <= 1:
            raise ValueError(
                "text_intent_serving_weight must be in [0, 1], got "
                f"{self.text_intent_serving_weight}"
            )
        if self.text_intent_serving_scope not in MIX_SCOPES:
            raise ValueError(
                f"text_intent_serving_scope {self.text_intent_serving_scope!r} is not one of "
                f"{list(MIX_SCOPES)}"
            )
        if self.text_intent_serving_weight and TEXT not in self.auxiliary_intent_sources:
            raise ValueError(
                "text_intent_serving_weight needs the auxiliary head on typed text "
                "(text_intent_loss_weight above 0, 'text' among text_intent_sources)"
            )
        for source in self.auxiliary_intent_sources:
            if source not in self.model.modalities:
                raise ValueError(
                    f"text_intent_loss_weight needs the {source!r} modality, the model has "
                    f"{list(self.model.modalities)}"
                )

    @property
    def text_intent_head(self) -> bool:
        """Whether training adds the auxiliary text intent head."""
        return self.text_intent_loss_weight > 0

    @property
    def auxiliary_intent_sources(self) -> tuple[str, ...]:
        """The text encoder inputs the auxiliary head reads; () without the head."""
        return self.text_intent_sources if self.text_intent_head else ()

    def to_custom_config(self) -> dict:
        """The JSON-able form, for the Trainer's custom_config."""
        values = dataclasses.asdict(self)
        values["text_intent_sources"] = list(self.text_intent_sources)
        values["model"] = {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in values["model"].items()
        }
        return values
