"""Per-variable learning rates: a lower rate for the pretrained text backbone than for the
layers trained from scratch, decaying layer by layer towards the embeddings.

Fine-tuning all of MiniLM at the rate the new layers need (3e-4) cost text accuracy
(docs/model.md); BERT fine-tuning recipes use 2e-5 to 1e-4 for the backbone, lower for
earlier layers ("layer-wise learning-rate decay"). The Trainer's schedule sets the base
rate per step (models/learning_rate.py); this optimizer multiplies it per variable.
"""

import keras

from models.text_encoder import TextEncoder


def text_backbone_rate_multipliers(
    model: keras.Model, scale: float, layer_decay: float
) -> dict[int, float]:
    """Rate multipliers of the text backbone's variables, keyed by `id(variable)`.

    Transformer layer i of n gets `scale * layer_decay ** (n - 1 - i)` (the top layer
    `scale`), the embeddings `scale * layer_decay ** n`. Every other variable (the
    projections, the image and audio encoders, fusion and heads) keeps the base rate.
    A model without a text encoder gets no multipliers.
    """
    if scale <= 0 or not 0 < layer_decay <= 1:
        raise ValueError(
            f"the text rate scale must be > 0 and the layer decay in (0, 1], "
            f"got {scale} and {layer_decay}"
        )
    encoders = [layer for layer in model.layers if isinstance(layer, TextEncoder)]
    multipliers = {}
    for encoder in encoders:
        backbone = encoder.backbone
        layers = backbone.transformer_layers
        for variable in backbone.weights:
            multipliers[id(variable)] = scale * layer_decay ** len(layers)
        for index, layer in enumerate(layers):
            for variable in layer.weights:
                multipliers[id(variable)] = scale * layer_decay ** (len(layers) - 1 - index)
    return multipliers


@keras.saving.register_keras_serializable(package="mmcs")
class LayerwiseAdamW(keras.optimizers.AdamW):
    """AdamW whose step for each variable uses the base learning rate times that
    variable's multiplier (1.0 for a variable without one).

    Multipliers are bound to the variable objects (`id(variable)`, from
    `text_backbone_rate_multipliers`), so they apply to the model they were computed on;
    `get_config` keeps only the base optimizer's settings. Weight decay is applied at the
    base rate (1e-4 times it per step: negligible next to the gradient step).
    """

    def __init__(self, rate_multipliers: dict[int, float], **kwargs):
        super().__init__(**kwargs)
        self.rate_multipliers = dict(rate_multipliers)
        self._variable_multipliers: list[float] = []

    def build(self, var_list):
        super().build(var_list)
        # In variable-index order: update_step looks a variable up the way Adam finds
        # its moments (the backends pass the underlying tf.Variable, not the Keras one).
        self._variable_multipliers = [self.rate_multipliers.get(id(v), 1.0) for v in var_list]

    def multiplier(self, variable) -> float:
        """The rate multiplier of a variable the optimizer was built on."""
        return self._variable_multipliers[self._get_variable_index(variable)]

    def update_step(self, gradient, variable, learning_rate):
        scaled = learning_rate * self.multiplier(variable)
        return super().update_step(gradient, variable, scaled)


def optimizer(
    model: keras.Model,
    learning_rate: float,
    weight_decay: float,
    text_rate_scale: float = 1.0,
    text_layer_decay: float = 1.0,
    ema_momentum: float = 0.0,
) -> keras.optimizers.Optimizer:
    """The Trainer's optimizer: plain AdamW when every variable trains at the base rate,
    LayerwiseAdamW when the text backbone's rates differ.

    With `ema_momentum` above 0 the optimizer also keeps an exponential moving average of
    the trainable weights (Keras' `use_ema`), which `fit` writes into the model when it
    ends; `keras.callbacks.SwapEMAWeights` evaluates on the average during training.
    """
    averaging = {"use_ema": True, "ema_momentum": ema_momentum} if ema_momentum > 0 else {}
    if text_rate_scale == 1.0 and text_layer_decay == 1.0:
        return keras.optimizers.AdamW(
            learning_rate=learning_rate, weight_decay=weight_decay, **averaging
        )
    return LayerwiseAdamW(
        text_backbone_rate_multipliers(model, text_rate_scale, text_layer_decay),
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        **averaging,
    )
