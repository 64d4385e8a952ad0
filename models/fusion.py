"""Modality fusion: per-modality embeddings + presence flags -> intent and sentiment logits."""

import keras
import keras_hub

from models import features

EARLY = "early"
LATE = "late"
ATTENTION = "attention"
FUSION_KINDS = (EARLY, LATE, ATTENTION)

# How late fusion combines the per-modality heads.
LATE_LOGITS = "logits"
LATE_PROBABILITIES = "probabilities"
LATE_COMBINATIONS = (LATE_LOGITS, LATE_PROBABILITIES)

# Floor of averaged probabilities before the log (late fusion by probabilities).
_PROBABILITY_FLOOR = 1e-7


@keras.saving.register_keras_serializable(package="mmcs")
class ModalityFusion(keras.layers.Layer):
    """Fuses per-modality embeddings, any subset of them present, into classifier logits.

    An absent modality never contributes: its embedding is replaced by zeros with
    `where` (so even NaNs could not leak) and, depending on the kind, it is

    - `"early"`: concatenated as zeros together with the presence flags (so the MLP
      can tell "absent" from "an embedding that happens to be zero"), then an MLP
      and the two heads;
    - `"late"`: given weight 0. Each modality has its own MLP and heads; their logits
      (or probabilities) are averaged with weights presence / number present. With no
      modality present the logits are all zero (uniform probabilities);
    - `"attention"`: masked as a key. A learned query token is prepended to the
      modality tokens (embedding + learned modality-type embedding) and a stack of
      transformer encoder layers runs over them with a padding mask; the query
      token's output goes through an MLP and the two heads. The query token is never
      masked, so a turn with no modality present still has a defined output.

    Modality dropout (training only): each present modality of each example is
    dropped with probability `modality_dropout`, but never all of them: when every
    present modality would be dropped, one of them chosen at random is kept. This
    teaches the model to answer from any subset it will meet at serving time.

    Args:
        fusion_kind: one of `FUSION_KINDS`.
        num_modalities: int. Number of embeddings passed to `call`.
        num_intents: int. Width of the intent logits.
        num_sentiments: int. Width of the sentiment logits.
        hidden_dim: int. Width of the MLPs (and the transformer's feed-forward layer).
        dropout: float. Dropout on the embeddings and in the MLPs.
        modality_dropout: float in [0, 1]. Rate of dropping a present modality.
        late_combination: one of `LATE_COMBINATIONS` (late fusion only): average
            logits, or average probabilities (returned as their log, still logits).
        num_attention_heads: int. Heads of the attention layers (attention fusion).
        num_attention_layers: int. Transformer layers (attention fusion).
        seed: int or None. Seed of the modality dropout.

    Call arguments:
        embeddings: list of `num_modalities` float tensors (batch, width), all the
            same width.
        presence: float tensor (batch, num_modalities), 1.0 where the modality is present.
        training: bool. Modality dropout and dropout are active only when True.

    Returns:
        Dict of logits: `features.INTENT_KEY` (batch, num_intents) and
        `features.SENTIMENT_KEY` (batch, num_sentiments).
    """

    def __init__(
        self,
        fusion_kind,
        num_modalities,
        num_intents,
        num_sentiments,
        hidden_dim,
        dropout=0.0,
        modality_dropout=0.0,
        late_combination=LATE_LOGITS,
        num_attention_heads=4,
        num_attention_layers=1,
        seed=None,
        **kwargs,
    ):
        if fusion_kind not in FUSION_KINDS:
            raise ValueError(f"fusion_kind must be one of {FUSION_KINDS}, got {fusion_kind!r}")
        if late_combination not in LATE_COMBINATIONS:
            raise ValueError(
                f"late_combination must be one of {LATE_COMBINATIONS}, got {late_combination!r}"
            )
        if not 0.0 <= modality_dropout <= 1.0:
            raise ValueError(f"modality_dropout must be in [0, 1], got {modality_dropout}")
        if num_modalities < 1:
            raise ValueError(f"num_modalities must be at least 1, got {num_modalities}")
        super().__init__(**kwargs)

        # === Layers ===
        self.embedding_dropout = keras.layers.Dropout(
            dropout, dtype=self.dtype_policy, name="embedding_dropout"
        )
        self.hidden_dropout = keras.layers.Dropout(
            dropout, dtype=self.dtype_policy, name="hidden_dropout"
        )
        # One MLP and pair of heads per modality for late fusion, one shared otherwise.
        num_branches = num_modalities if fusion_kind == LATE else 1
        self.hidden_layers = [
            keras.layers.Dense(
                hidden_dim, activation="gelu", dtype=self.dtype_policy, name=f"hidden_{i}"
            )
            for i in range(num_branches)
        ]
        self.intent_heads = [
            keras.layers.Dense(num_intents, dtype=self.dtype_policy, name=f"intent_head_{i}")
            for i in range(num_branches)
        ]
        self.sentiment_heads = [
            keras.layers.Dense(num_sentiments, dtype=self.dtype_policy, name=f"sentiment_head_{i}")
            for i in range(num_branches)
        ]
        self.transformer_layers = []
        if fusion_kind == ATTENTION:
            self.transformer_layers = [
                keras_hub.layers.TransformerEncoder(
                    intermediate_dim=hidden_dim,
                    num_heads=num_attention_heads,
                    dropout=dropout,
                    activation="gelu",
                    dtype=self.dtype_policy,
                    name=f"fusion_transformer_{i}",
                )
                for i in range(num_attention_layers)
            ]
        self.seed_generator = keras.random.SeedGenerator(seed)

        # === Config ===
        self.fusion_kind = fusion_kind
        self.num_modalities = num_modalities
        self.num_intents = num_intents
        self.num_sentiments = num_sentiments
        self.hidden_dim = hidden_dim
        self.dropout = dropout
        self.modality_dropout = modality_dropout
        self.late_combination = late_combination
        self.num_attention_heads = num_attention_heads
        self.num_attention_layers = num_attention_layers
        self.seed = seed

    def build(self, embeddings_shape, presence_shape):
        if len(embeddings_shape) != self.num_modalities:
            raise ValueError(
                f"ModalityFusion expects {self.num_modalities} embeddings, "
                f"got {len(embeddings_shape)}"
            )
        widths = {shape[-1] for shape in embeddings_shape}
        if len(widths) != 1:
            raise ValueError(f"all modality embeddings must have one width, got {widths}")
        width = widths.pop()
        if self.fusion_kind == EARLY:
            trunk_input_width = self.num_modalities * (width + 1)
        else:
            trunk_input_width = width
        if self.fusion_kind == ATTENTION:
            self.query_token = self.add_weight(
                shape=(width,), initializer="random_normal", name="query_token"
            )
            self.modality_type_embeddings = self.add_weight(
                shape=(self.num_modalities, width),
                initializer="random_normal",
                name="modality_type_embeddings",
            )
            for layer in self.transformer_layers:
                layer.build((None, self.num_modalities + 1, width))
        for hidden, intent_head, sentiment_head in zip(
            self.hidden_layers, self.intent_heads, self.sentiment_heads, strict=True
        ):
            hidden.build((None, trunk_input_width))
            intent_head.build((None, self.hidden_dim))
            sentiment_head.build((None, self.hidden_dim))

    def drop_modalities(self, presence):
        """Drop present modalities at random, keeping at least one per example.

        Args:
            presence: float (batch, num_modalities), 1.0 where present.

        Returns:
            The new presence, float (batch, num_modalities): a subset of `presence`,
            with at least one modality wherever `presence` has one.
        """
        present = keras.ops.cast(presence > 0, self.compute_dtype)
        shape = keras.ops.shape(present)
        keep = keras.random.uniform(shape, seed=self.seed_generator) >= self.modality_dropout
        kept = present * keras.ops.cast(keep, self.compute_dtype)
        # One present modality chosen at random, for the examples that lost them all.
        scores = keras.ops.where(
            present > 0, keras.random.uniform(shape, seed=self.seed_generator), -1.0
        )
        rescued = (
            keras.ops.one_hot(
                keras.ops.argmax(scores, axis=-1), self.num_modalities, dtype=self.compute_dtype
            )
            * present
        )
        none_kept = keras.ops.sum(kept, axis=-1, keepdims=True) == 0
        return keras.ops.where(none_kept, rescued, kept)

    def call(self, embeddings, presence, training=None):
        presence = keras.ops.cast(presence, self.compute_dtype)
        if training and self.modality_dropout > 0:
            presence = self.drop_modalities(presence)
        present = presence > 0
        masked = [
            keras.ops.where(
                present[:, index : index + 1],
                self.embedding_dropout(embedding, training=training),
                keras.ops.zeros_like(embedding),
            )
            for index, embedding in enumerate(embeddings)
        ]
        if self.fusion_kind == LATE:
            return self._late_fusion(masked, present, training)
        if self.fusion_kind == EARLY:
            fused = keras.ops.concatenate([*masked, keras.ops.cast(present, masked[0].dtype)], -1)
        else:
            fused = self._attend(masked, present, training)
        return self._heads(0, fused, training)

    def _heads(self, branch, inputs, training):
        """One branch's MLP and heads: {intent: logits, sentiment: logits}."""
        hidden = self.hidden_dropout(self.hidden_layers[branch](inputs), training=training)
        return {
            features.INTENT_KEY: self.intent_heads[branch](hidden),
            features.SENTIMENT_KEY: self.sentiment_heads[branch](hidden),
        }

    def _attend(self, masked, present, training):
        """The query token's output after attending over the present modalities."""
        tokens = keras.ops.stack(masked, axis=1) + self.modality_type_embeddings
        batch_size = keras.ops.shape(tokens)[0]
        query = keras.ops.broadcast_to(
            keras.ops.reshape(self.query_token, (1, 1, -1)),
            (batch_size, 1, keras.ops.shape(tokens)[-1]),
        )
        sequence = keras.ops.concatenate([keras.ops.cast(query, tokens.dtype), tokens], axis=1)
        padding_mask = keras.ops.concatenate(
            [keras.ops.ones((batch_size, 1), dtype="bool"), present], axis=1
        )
        for layer in self.transformer_layers:
            sequence = layer(sequence, padding_mask=padding_mask, training=training)
        return sequence[:, 0]

    def _late_fusion(self, masked, present, training):
        """Presence-weighted average of the per-modality heads."""
        outputs = [self._heads(i, embedding, training) for i, embedding in enumerate(masked)]
        weights = keras.ops.cast(present, masked[0].dtype)
        weights = weights / keras.ops.maximum(keras.ops.sum(weights, axis=-1, keepdims=True), 1.0)
        weights = keras.ops.expand_dims(weights, -1)
        combined = {}
        for key in (features.INTENT_KEY, features.SENTIMENT_KEY):
            logits = keras.ops.stack([output[key] for output in outputs], axis=1)
            # `where`, not a product: an absent branch's values never enter the sum.
            logits = keras.ops.where(keras.ops.expand_dims(present, -1), logits, 0.0)
            if self.late_combination == LATE_LOGITS:
                combined[key] = keras.ops.sum(weights * logits, axis=1)
                continue
            probabilities = keras.ops.sum(weights * keras.ops.softmax(logits, axis=-1), axis=1)
            # No modality present: the weights sum to 0; fall back to uniform.
            num_classes = keras.ops.shape(logits)[-1]
            probabilities += (1.0 - keras.ops.sum(weights, axis=1)) / keras.ops.cast(
                num_classes, probabilities.dtype
            )
            combined[key] = keras.ops.log(keras.ops.maximum(probabilities, _PROBABILITY_FLOOR))
        return combined

    def compute_output_spec(self, embeddings, presence, training=None):
        batch_size = embeddings[0].shape[0]
        return {
            features.INTENT_KEY: keras.KerasTensor(
                (batch_size, self.num_intents), dtype=self.compute_dtype
            ),
            features.SENTIMENT_KEY: keras.KerasTensor(
                (batch_size, self.num_sentiments), dtype=self.compute_dtype
            ),
        }

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "fusion_kind": self.fusion_kind,
                "num_modalities": self.num_modalities,
                "num_intents": self.num_intents,
                "num_sentiments": self.num_sentiments,
                "hidden_dim": self.hidden_dim,
                "dropout": self.dropout,
                "modality_dropout": self.modality_dropout,
                "late_combination": self.late_combination,
                "num_attention_heads": self.num_attention_heads,
                "num_attention_layers": self.num_attention_layers,
                "seed": self.seed,
            }
        )
        return config
