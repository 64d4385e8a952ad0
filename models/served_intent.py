"""The intent the exported model answers with: the fused head's, optionally mixed with the
typed-text head's on turns that have typed text (TrainingConfig.text_intent_serving_weight),
or only on those whose sole input is typed text (TrainingConfig.text_intent_serving_scope).

The auxiliary text intent head (TrainingConfig.text_intent_loss_weight) is trained on the
text encoder's embedding of the typed text alone, the task the BANKING77 reference is
scored on. With a serving weight w above 0, a turn with typed text is answered with
(1 - w) * softmax(fused logits) + w * softmax(text head logits); a turn without typed text
keeps the fused head's probabilities. The served output stays named and shaped as before
(`features.INTENT_KEY`, (batch, num_intents)): it holds the log of the mixed
probabilities, so the softmax every consumer applies (the signatures, the out-of-scope
calibration) gives the mixed probabilities back. Only core TensorFlow ops are added
(softmax, log, maximum, multiply, add), so the graph still loads in stock TF Serving.
"""

import keras

from models import features
from models.fusion_model import PRESENCE_KEYS, TEXT, without_auxiliary_outputs

# Which turns with typed text get the mix (TrainingConfig.text_intent_serving_scope):
# every one, or only those with no other input.
TYPED_TEXT, TEXT_ONLY = "typed_text", "text_only"
MIX_SCOPES = (TYPED_TEXT, TEXT_ONLY)

# Probabilities are floored here before the log, so a class both heads rule out keeps a
# finite logit (the softmax of the floored logs differs from the mix by at most this).
PROBABILITY_FLOOR = 1e-12


@keras.saving.register_keras_serializable(package="mmcs")
class TextHeadMix(keras.layers.Layer):
    """log((1 - w * gate) * softmax(fused) + w * gate * softmax(text)), where gate is 1 on
    a turn with typed text (and, in the "text_only" scope, no other input), else 0.

    Inputs: fused intent logits (batch, intents), the typed-text head's logits
    (batch, intents), the typed-text presence flag (batch,) in {0, 1}, and, with the
    "text_only" scope, the presence flags of the other inputs, each (batch,): a turn
    that has any of them keeps the fused probabilities (its share is 0)."""

    def __init__(self, weight: float, **kwargs):
        super().__init__(**kwargs)
        if not 0 < weight <= 1:
            raise ValueError(f"the text head's serving weight must be in (0, 1], got {weight}")
        self.weight = float(weight)

    def call(self, fused_logits, text_logits, text_present, other_present=()):
        gate = keras.ops.cast(text_present, "float32")
        for present in other_present:
            gate = gate * (1.0 - keras.ops.cast(present, "float32"))
        share = self.weight * keras.ops.expand_dims(gate, -1)
        mixed = (1.0 - share) * keras.ops.softmax(fused_logits, axis=-1) + share * (
            keras.ops.softmax(text_logits, axis=-1)
        )
        return keras.ops.log(keras.ops.maximum(mixed, PROBABILITY_FLOOR))

    def get_config(self):
        return {**super().get_config(), "weight": self.weight}


def served_model(
    model: keras.Model,
    text_intent_sources: tuple[str, ...],
    text_weight: float = 0.0,
    scope: str = TYPED_TEXT,
) -> keras.Model:
    """The model with only the served outputs (intent and sentiment): the same layers and
    weights, the training-only text intent head left out, or, with `text_weight` above 0,
    read only to mix its typed-text probabilities into the intent (module docstring).

    Args:
        model: a `build_fusion_model` model; with `text_weight` it must have the auxiliary
            head with `TEXT` among `text_intent_sources`.
        text_intent_sources: the sources the auxiliary head reads, in its output's order.
        text_weight: the typed-text head's share of the served intent probabilities.
        scope: `TYPED_TEXT` mixes on every turn with typed text, `TEXT_ONLY` only on
            turns where no other input of the model is present.
    """
    if scope not in MIX_SCOPES:
        raise ValueError(f"the mix scope {scope!r} is not one of {list(MIX_SCOPES)}")
    if text_weight == 0:
        return without_auxiliary_outputs(model)
    outputs = model.output
    if features.TEXT_INTENT_AUXILIARY_KEY not in outputs or TEXT not in text_intent_sources:
        raise ValueError(
            "a text head serving weight needs the model's auxiliary intent head on typed text"
        )
    text_logits = outputs[features.TEXT_INTENT_AUXILIARY_KEY][:, text_intent_sources.index(TEXT), :]
    presence = {
        modality: model.input[key] for modality, key in PRESENCE_KEYS.items() if key in model.input
    }
    others = [] if scope == TYPED_TEXT else [presence[m] for m in presence if m != TEXT]
    intent = TextHeadMix(text_weight, name="text_head_mix")(
        outputs[features.INTENT_KEY], text_logits, presence[TEXT], others
    )
    served = {features.INTENT_KEY: intent, features.SENTIMENT_KEY: outputs[features.SENTIMENT_KEY]}
    return keras.Model(model.input, served, name=model.name)
