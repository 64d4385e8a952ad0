"""The audio encoder: strided convolutions and an LSTM over log-mel frames, then a projection."""

import math

import keras

from models import features


@keras.saving.register_keras_serializable(package="mmcs")
class AudioEncoder(keras.Model):
    """Log-mel encoder: a strided Conv1D front-end, an LSTM stack, a shared-width projection.

    Padded frames (frame mask 0) are zeroed before the convolutions, so their values
    never reach the output. Each Conv1D halves the frame rate (two of them turn 400
    frames of 20 ms into 100 of 80 ms, which keeps the LSTM short on a CPU) and is
    followed by a per-frame LayerNormalization, which needs no batch statistics (a
    batch mixes clips with absent audio). The frame mask is downsampled alongside
    (a step is real if any of its frames is) and masks every LSTM layer; the last
    layer's final state (both directions' when bidirectional) is projected (Dense +
    LayerNormalization) to `projection_dim`.

    Args:
        num_frames: int. Frames per clip (`features.AUDIO_FRAMES`).
        num_mel_bins: int. Mel bins per frame (`features.AUDIO_MEL_BINS`).
        projection_dim: int. Width of the output embedding, shared by all encoders.
        conv_filters: tuple of ints. Filters of each stride-2 Conv1D.
        conv_kernel_size: int. Kernel size of the Conv1D layers, in frames.
        lstm_units: int. Units of each LSTM (per direction).
        num_lstm_layers: int. Stacked LSTM layers.
        bidirectional: bool. Run each LSTM layer in both directions.
        dropout: float. Dropout between the LSTM layers and before the projection.
        dtype: dtype policy of the layers.

    Inputs: a dict with `features.AUDIO_LOG_MEL_KEY`, float32 (batch, num_frames,
    num_mel_bins), and `features.AUDIO_FRAME_MASK_KEY`, int64 (batch, num_frames).
    Output: (batch, projection_dim) float32.
    """

    def __init__(
        self,
        num_frames,
        num_mel_bins,
        projection_dim,
        conv_filters=(64, 128),
        conv_kernel_size=5,
        lstm_units=128,
        num_lstm_layers=1,
        bidirectional=True,
        dropout=0.0,
        dtype=None,
        **kwargs,
    ):
        conv_filters = tuple(conv_filters)
        downsampling = 2 ** len(conv_filters)

        # === Layers ===
        self.conv_layers = [
            keras.layers.Conv1D(
                filters,
                conv_kernel_size,
                strides=2,
                padding="same",
                dtype=dtype,
                name=f"audio_conv_{index}",
            )
            for index, filters in enumerate(conv_filters)
        ]
        self.conv_norms = [
            keras.layers.LayerNormalization(dtype=dtype, name=f"audio_conv_norm_{index}")
            for index in range(len(conv_filters))
        ]
        self.mask_pooling = keras.layers.MaxPooling1D(
            pool_size=downsampling,
            strides=downsampling,
            padding="same",
            dtype=dtype,
            name="audio_mask_pooling",
        )
        self.lstm_layers = []
        for index in range(num_lstm_layers):
            lstm = keras.layers.LSTM(
                lstm_units,
                return_sequences=index < num_lstm_layers - 1,
                dtype=dtype,
                name=f"audio_lstm_{index}",
            )
            if bidirectional:
                lstm = keras.layers.Bidirectional(
                    lstm, dtype=dtype, name=f"audio_bidirectional_lstm_{index}"
                )
            self.lstm_layers.append(lstm)
        self.lstm_dropout = keras.layers.Dropout(dropout, dtype=dtype, name="audio_lstm_dropout")
        self.projection = keras.layers.Dense(projection_dim, dtype=dtype, name="audio_projection")
        self.projection_norm = keras.layers.LayerNormalization(
            dtype=dtype, name="audio_projection_norm"
        )

        # === Functional Model ===
        log_mel = keras.Input(
            shape=(num_frames, num_mel_bins), dtype="float32", name=features.AUDIO_LOG_MEL_KEY
        )
        frame_mask = keras.Input(
            shape=(num_frames,), dtype="int64", name=features.AUDIO_FRAME_MASK_KEY
        )
        frame_weights = keras.ops.expand_dims(keras.ops.cast(frame_mask, "float32"), -1)
        x = log_mel * frame_weights
        for conv, norm in zip(self.conv_layers, self.conv_norms, strict=True):
            x = keras.activations.gelu(norm(conv(x)))
        step_mask = keras.ops.squeeze(self.mask_pooling(frame_weights), -1) > 0.5
        # Absent audio has no real frame; keep the first step so that every LSTM sees
        # a non-empty sequence (cuDNN kernels reject zero lengths). The fusion layer
        # masks such clips by the presence flag.
        first_step = keras.ops.arange(math.ceil(num_frames / downsampling)) == 0
        step_mask = keras.ops.logical_or(step_mask, first_step)
        for index, lstm in enumerate(self.lstm_layers):
            if index > 0:
                x = self.lstm_dropout(x)
            x = lstm(x, mask=step_mask)
        x = self.lstm_dropout(x)
        outputs = self.projection_norm(self.projection(x))
        super().__init__(
            inputs={features.AUDIO_LOG_MEL_KEY: log_mel, features.AUDIO_FRAME_MASK_KEY: frame_mask},
            outputs=outputs,
            dtype=dtype,
            **kwargs,
        )

        # === Config ===
        self.num_frames = num_frames
        self.num_mel_bins = num_mel_bins
        self.projection_dim = projection_dim
        self.conv_filters = conv_filters
        self.conv_kernel_size = conv_kernel_size
        self.lstm_units = lstm_units
        self.num_lstm_layers = num_lstm_layers
        self.bidirectional = bidirectional
        self.dropout = dropout

    def get_config(self):
        # Not chained to super(): a functional model's config is its layer graph,
        # which this constructor does not take.
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
            "num_frames": self.num_frames,
            "num_mel_bins": self.num_mel_bins,
            "projection_dim": self.projection_dim,
            "conv_filters": list(self.conv_filters),
            "conv_kernel_size": self.conv_kernel_size,
            "lstm_units": self.lstm_units,
            "num_lstm_layers": self.num_lstm_layers,
            "bidirectional": self.bidirectional,
            "dropout": self.dropout,
        }
