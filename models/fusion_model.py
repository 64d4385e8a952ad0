"""The fusion model builder: plain sizes in, a Keras 3 model over the transformed features out.

`build_fusion_model` is pure: every size comes from a `FusionModelConfig`; the only
things it loads are the pretrained backbones, and only when none are passed in.
"""

import dataclasses

import keras

import schemas
from models import features
from models.audio_encoder import AudioEncoder
from models.fusion import ATTENTION, FUSION_KINDS, LATE_COMBINATIONS, LATE_LOGITS, ModalityFusion
from models.image_encoder import ImageEncoder
from models.text_encoder import TextEncoder

# Modalities by their raw feature key, in the order the fusion layer sees them.
TEXT = features.TEXT_KEY
IMAGE = features.IMAGE_KEY
AUDIO = features.AUDIO_KEY
# The speech transcript and the text read in the picture are modalities of their own (own
# slot in the fusion, own presence and modality dropout), read by the text encoder: the
# same BERT and projection weights as the typed text.
TRANSCRIPT = features.TRANSCRIPT_KEY
IMAGE_TEXT = features.IMAGE_TEXT_KEY
MODALITIES = (TEXT, IMAGE, AUDIO, TRANSCRIPT, IMAGE_TEXT)
# Modalities read by the text encoder -> text encoder input key -> the feature fed to it.
TEXT_ENCODER_FEEDS = {
    TEXT: {key: key for key in features.TEXT_TOKEN_KEYS},
    **features.DERIVED_TEXT_TOKEN_KEYS,
}

PRESENCE_KEYS = {
    TEXT: features.TEXT_PRESENT_KEY,
    IMAGE: features.IMAGE_PRESENT_KEY,
    AUDIO: features.AUDIO_PRESENT_KEY,
    TRANSCRIPT: features.TRANSCRIPT_PRESENT_KEY,
    IMAGE_TEXT: features.IMAGE_TEXT_PRESENT_KEY,
}


@dataclasses.dataclass(frozen=True)
class FusionModelConfig:
    """Every size and switch of the fusion model; the defaults are the CPU training setup.

    Attributes:
        fusion: how modalities are combined, one of `models.fusion.FUSION_KINDS`.
        modalities: the enabled modalities, a non-empty subset of `MODALITIES`; a
            model has inputs and an encoder only for these (single-modality ablations).
        projection_dim: width every encoder projects to.
        hidden_dim: width of the fusion MLPs and transformer feed-forward layer.
        dropout: dropout in the fusion layer.
        modality_dropout: rate of dropping a present modality per example in training.
        late_combination: late fusion averages "logits" or "probabilities".
        attention_heads: heads of the fusion attention (must divide projection_dim).
        attention_layers: transformer layers of the attention fusion.
        trainable_text_layers: fine-tune the last N BERT layers (None: all of them).
        text_exact_gelu: run the BERT feed-forward with exact GELU, as BERT
            checkpoints were trained (KerasHub's BertBackbone uses the tanh one).
        freeze_image_backbone: train only the image projection.
        audio_conv_filters: filters of the audio encoder's stride-2 Conv1D layers.
        audio_conv_kernel_size: their kernel size, in frames.
        audio_lstm_units: units of each audio LSTM (per direction).
        audio_lstm_layers: stacked audio LSTM layers.
        audio_bidirectional: bidirectional audio LSTMs.
        audio_dropout: dropout inside the audio encoder.
        text_sequence_length: tokens per turn (the Transform output's length).
        image_size: image height and width in pixels.
        audio_frames: log-mel frames per clip.
        audio_mel_bins: mel bins per frame.
        num_intents: intent classes (the contract's intents, out_of_scope included).
        num_sentiments: sentiment classes.
        seed: seed of the modality dropout.
    """

    fusion: str = ATTENTION
    modalities: tuple[str, ...] = MODALITIES
    projection_dim: int = 256
    hidden_dim: int = 256
    dropout: float = 0.1
    modality_dropout: float = 0.2
    late_combination: str = LATE_LOGITS
    attention_heads: int = 4
    attention_layers: int = 1
    trainable_text_layers: int | None = 2
    text_exact_gelu: bool = True
    freeze_image_backbone: bool = True
    audio_conv_filters: tuple[int, ...] = (64, 128)
    audio_conv_kernel_size: int = 5
    audio_lstm_units: int = 128
    audio_lstm_layers: int = 1
    audio_bidirectional: bool = True
    audio_dropout: float = 0.1
    text_sequence_length: int = features.TEXT_SEQUENCE_LENGTH
    image_size: int = features.IMAGE_SIZE
    audio_frames: int = features.AUDIO_FRAMES
    audio_mel_bins: int = features.AUDIO_MEL_BINS
    num_intents: int = dataclasses.field(default_factory=lambda: len(schemas.intent_labels()))
    num_sentiments: int = dataclasses.field(default_factory=lambda: len(schemas.sentiment_labels()))
    seed: int | None = None

    def __post_init__(self):
        if self.fusion not in FUSION_KINDS:
            raise ValueError(f"fusion must be one of {FUSION_KINDS}, got {self.fusion!r}")
        if self.late_combination not in LATE_COMBINATIONS:
            raise ValueError(
                f"late_combination must be one of {LATE_COMBINATIONS}, "
                f"got {self.late_combination!r}"
            )
        unknown = set(self.modalities) - set(MODALITIES)
        if not self.modalities or unknown or len(set(self.modalities)) != len(self.modalities):
            raise ValueError(
                f"modalities must be distinct values of {MODALITIES}, got {self.modalities!r}"
            )
        if self.fusion == ATTENTION and self.projection_dim % self.attention_heads:
            raise ValueError(
                f"attention_heads ({self.attention_heads}) must divide "
                f"projection_dim ({self.projection_dim})"
            )
        for name in ("dropout", "modality_dropout", "audio_dropout"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")


def model_input_specs(config: FusionModelConfig) -> dict[str, tuple[tuple[int, ...], str]]:
    """The model's inputs: feature key -> (shape without the batch axis, dtype)."""
    specs = {}
    for modality, feed in TEXT_ENCODER_FEEDS.items():
        if modality in config.modalities:
            for key in feed.values():
                specs[key] = ((config.text_sequence_length,), "int64")
    if IMAGE in config.modalities:
        specs[features.IMAGE_PIXELS_KEY] = ((config.image_size, config.image_size, 3), "float32")
    if AUDIO in config.modalities:
        specs[features.AUDIO_LOG_MEL_KEY] = (
            (config.audio_frames, config.audio_mel_bins),
            "float32",
        )
        specs[features.AUDIO_FRAME_MASK_KEY] = ((config.audio_frames,), "int64")
    for modality in config.modalities:
        specs[PRESENCE_KEYS[modality]] = ((), "float32")
    return specs


def _text_encoder(config, backbone):
    if backbone is None:
        from models.minilm import minilm_backbone

        backbone = minilm_backbone(exact_gelu=config.text_exact_gelu)
    return TextEncoder(
        backbone,
        projection_dim=config.projection_dim,
        trainable_transformer_layers=config.trainable_text_layers,
        exact_gelu=config.text_exact_gelu,
        name="text_encoder",
    )


def _image_encoder(config, backbone):
    # None: ImageEncoder loads EfficientNet-Lite0 with its ImageNet weights.
    encoder = ImageEncoder(
        backbone,
        projection_dim=config.projection_dim,
        freeze_backbone=config.freeze_image_backbone,
        name="image_encoder",
    )
    expected = (config.image_size, config.image_size, 3)
    if tuple(encoder.backbone.input_shape[1:]) != expected:
        raise ValueError(
            f"image backbone {encoder.backbone.name!r} takes "
            f"{tuple(encoder.backbone.input_shape[1:])}, the config's images are {expected}"
        )
    return encoder


def _audio_encoder(config):
    return AudioEncoder(
        num_frames=config.audio_frames,
        num_mel_bins=config.audio_mel_bins,
        projection_dim=config.projection_dim,
        conv_filters=config.audio_conv_filters,
        conv_kernel_size=config.audio_conv_kernel_size,
        lstm_units=config.audio_lstm_units,
        num_lstm_layers=config.audio_lstm_layers,
        bidirectional=config.audio_bidirectional,
        dropout=config.audio_dropout,
        name="audio_encoder",
    )


def build_fusion_model(
    config: FusionModelConfig,
    text_backbone=None,
    image_backbone=None,
    text_intent_sources: tuple[str, ...] = (),
) -> keras.Model:
    """Build the multimodal intent and sentiment model.

    Args:
        config: sizes and switches.
        text_backbone: a `keras_hub.models.BertBackbone`; None loads all-MiniLM-L6-v2
            (`models.minilm.minilm_backbone`). Unused without the text, transcript and
            image text modalities; one encoder reads all that are enabled.
        image_backbone: a Keras 3 model over (image_size, image_size, 3) pixels scaled
            (x - 127) / 128; None loads EfficientNet-Lite0 with ImageNet weights.
            Unused without the image modality.
        text_intent_sources: text encoder inputs (`TEXT_ENCODER_FEEDS` keys, each also a
            modality of the model); when given, the model has the training-only output
            `features.TEXT_INTENT_AUXILIARY_KEY`: intent logits from one dense head
            applied to the text encoder's embedding of each source alone, before fusion.
            `without_auxiliary_outputs` drops it again for serving.

    Returns:
        A functional `keras.Model` whose inputs are a dict keyed by the transformed
        feature keys of the enabled modalities and their presence flags
        (`model_input_specs`), and whose outputs are a dict of logits:
        `features.INTENT_KEY` (batch, num_intents) and `features.SENTIMENT_KEY`
        (batch, num_sentiments), and with `text_intent_sources`
        `features.TEXT_INTENT_AUXILIARY_KEY` (batch, len(text_intent_sources), num_intents).
    """
    for source in text_intent_sources:
        if source not in TEXT_ENCODER_FEEDS or source not in config.modalities:
            raise ValueError(
                f"text_intent_sources need the text encoder's {source!r} modality, the model "
                f"has {config.modalities}"
            )
    inputs = {
        key: keras.Input(shape=shape, dtype=dtype, name=key)
        for key, (shape, dtype) in model_input_specs(config).items()
    }

    text_encoder = None
    if any(modality in config.modalities for modality in TEXT_ENCODER_FEEDS):
        text_encoder = _text_encoder(config, text_backbone)
    encoders = {
        IMAGE: lambda: _image_encoder(config, image_backbone),
        AUDIO: lambda: _audio_encoder(config),
        **{modality: lambda: text_encoder for modality in TEXT_ENCODER_FEEDS},
    }
    embeddings = []
    for modality in config.modalities:
        encoder = encoders[modality]()
        if modality in TEXT_ENCODER_FEEDS:
            feed = {key: inputs[TEXT_ENCODER_FEEDS[modality][key]] for key in encoder.input}
        else:
            feed = {key: inputs[key] for key in encoder.input}
        embeddings.append(encoder(feed))
    presence = keras.ops.stack(
        [inputs[PRESENCE_KEYS[modality]] for modality in config.modalities], axis=-1
    )

    fusion = ModalityFusion(
        fusion_kind=config.fusion,
        num_modalities=len(config.modalities),
        num_intents=config.num_intents,
        num_sentiments=config.num_sentiments,
        hidden_dim=config.hidden_dim,
        dropout=config.dropout,
        modality_dropout=config.modality_dropout,
        late_combination=config.late_combination,
        num_attention_heads=config.attention_heads,
        num_attention_layers=config.attention_layers,
        seed=config.seed,
        name="fusion",
    )
    outputs = fusion(embeddings, presence)
    if text_intent_sources:
        source_embeddings = keras.ops.stack(
            [embeddings[config.modalities.index(source)] for source in text_intent_sources],
            axis=1,
        )
        outputs = {
            **outputs,
            features.TEXT_INTENT_AUXILIARY_KEY: keras.layers.Dense(
                config.num_intents, name="text_intent_head"
            )(source_embeddings),
        }
    return keras.Model(inputs, outputs, name=f"mmcs_{config.fusion}_fusion")


def without_auxiliary_outputs(model: keras.Model) -> keras.Model:
    """The model with only the served outputs (intent and sentiment logits): the same
    layers and weights, without the training-only text intent head."""
    if features.TEXT_INTENT_AUXILIARY_KEY not in model.output:
        return model
    served = {key: model.output[key] for key in (features.INTENT_KEY, features.SENTIMENT_KEY)}
    return keras.Model(model.input, served, name=model.name)
