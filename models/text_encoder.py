"""The text encoder: a BERT backbone, masked mean pooling, a projection to the shared width."""

import keras

from models import features
from models.backbone_encoder import BackboneEncoder
from models.minilm import mean_pooled_embeddings


def _freeze_all_but_last(backbone, trainable_transformer_layers):
    """Freeze the embeddings and every transformer layer but the last N.

    The backbone's [CLS] pooler (`pooled_dense`) is always frozen: the encoder pools
    `sequence_output` itself, so that layer would get no gradient.
    """
    backbone.pooled_dense.trainable = False
    if trainable_transformer_layers is None:
        return
    num_frozen = max(len(backbone.transformer_layers) - trainable_transformer_layers, 0)
    embedding_layers = (
        backbone.token_embedding,
        backbone.position_embedding,
        backbone.segment_embedding,
        backbone.embeddings_layer_norm,
    )
    for layer in (*embedding_layers, *backbone.transformer_layers[:num_frozen]):
        layer.trainable = False


def _use_exact_gelu(backbone):
    """Switch every transformer layer's feed-forward activation to exact (erf) GELU.

    KerasHub's `BertBackbone` hard-codes tanh-approximated GELU and does not keep the
    activation in its config; BERT checkpoints were trained with the exact one. The
    functional graph calls the Dense layer on every pass, so this takes effect at once.
    """
    for layer in backbone.transformer_layers:
        layer.activation = keras.activations.gelu
        layer._feedforward_intermediate_dense.activation = keras.activations.gelu


@keras.saving.register_keras_serializable(package="mmcs")
class TextEncoder(BackboneEncoder):
    """Sentence encoder over a KerasHub BERT backbone, ending in a shared-width projection.

    The backbone's `sequence_output` is averaged over the real tokens (the padding mask),
    L2-normalized as sentence-transformers does (`models.minilm.mean_pooled_embeddings`),
    then projected (Dense + LayerNormalization) to `projection_dim`. A turn without text
    has an all-zero padding mask: its embedding is finite but meaningless, and the
    fusion layer masks it by the presence flag.

    Args:
        backbone: a `keras_hub.models.BertBackbone`, e.g. `models.minilm.minilm_backbone()`.
        projection_dim: int. Width of the output embedding, shared by all encoders.
        trainable_transformer_layers: int or None. Fine-tune only the last N transformer
            layers; the embeddings and the earlier layers are frozen. 0 freezes the whole
            backbone, None fine-tunes all of it.
        exact_gelu: bool. Switch the backbone's feed-forward activation to exact GELU
            (what BERT checkpoints were trained with). Kept in the config, so a model
            re-created from its config or a `.keras` file computes the same function.
        dtype: dtype policy of the projection layers.

    Inputs: a dict with `features.TEXT_TOKEN_IDS_KEY`, `TEXT_SEGMENT_IDS_KEY` and
    `TEXT_PADDING_MASK_KEY`, each int64 (batch, sequence length).
    Output: (batch, projection_dim) float32.
    """

    def __init__(
        self,
        backbone,
        projection_dim,
        trainable_transformer_layers=None,
        exact_gelu=False,
        dtype=None,
        **kwargs,
    ):
        # === Layers ===
        self.backbone = backbone
        self.projection = keras.layers.Dense(projection_dim, dtype=dtype, name="text_projection")
        self.projection_norm = keras.layers.LayerNormalization(
            dtype=dtype, name="text_projection_norm"
        )

        # === Functional Model ===
        token_ids = keras.Input(shape=(None,), dtype="int64", name=features.TEXT_TOKEN_IDS_KEY)
        segment_ids = keras.Input(shape=(None,), dtype="int64", name=features.TEXT_SEGMENT_IDS_KEY)
        padding_mask = keras.Input(
            shape=(None,), dtype="int64", name=features.TEXT_PADDING_MASK_KEY
        )
        # KerasHub backbones declare int32 inputs; the transformed features are int64.
        sequence_output = backbone(
            {
                "token_ids": keras.ops.cast(token_ids, "int32"),
                "segment_ids": keras.ops.cast(segment_ids, "int32"),
                "padding_mask": keras.ops.cast(padding_mask, "int32"),
            }
        )["sequence_output"]
        pooled = mean_pooled_embeddings(sequence_output, padding_mask)
        outputs = self.projection_norm(self.projection(pooled))
        super().__init__(
            inputs={
                features.TEXT_TOKEN_IDS_KEY: token_ids,
                features.TEXT_SEGMENT_IDS_KEY: segment_ids,
                features.TEXT_PADDING_MASK_KEY: padding_mask,
            },
            outputs=outputs,
            dtype=dtype,
            **kwargs,
        )
        # After Model.__init__, which may set `trainable` on every sub-layer.
        _freeze_all_but_last(backbone, trainable_transformer_layers)
        if exact_gelu:
            _use_exact_gelu(backbone)

        # === Config ===
        self.projection_dim = projection_dim
        self.trainable_transformer_layers = trainable_transformer_layers
        self.exact_gelu = exact_gelu

    def get_config(self):
        return self.backbone_config(
            projection_dim=self.projection_dim,
            trainable_transformer_layers=self.trainable_transformer_layers,
            exact_gelu=self.exact_gelu,
        )
