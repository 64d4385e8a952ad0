"""Random transformed features in the fusion model's input layout (`model_input_specs`),
for tests and benchmarks that call the model without running the Transform graph.

Present modalities get random content of random length; absent ones hold what the
Transform output holds for them: zeros and all-zero masks.
"""

import numpy as np

from models import features
from models.fusion_model import AUDIO, IMAGE, PRESENCE_KEYS, TEXT_ENCODER_FEEDS, FusionModelConfig


def random_features(
    config: FusionModelConfig, presence: np.ndarray, vocabulary_size: int, seed: int = 0
) -> dict[str, np.ndarray]:
    """Transformed features for presence rows (batch, len(config.modalities)) in {0, 1};
    token ids are drawn from [1, vocabulary_size)."""
    rng = np.random.default_rng(seed)
    batch_size = len(presence)
    present = dict(zip(config.modalities, np.asarray(presence).T > 0, strict=True))
    batch = {}
    for modality, keys in TEXT_ENCODER_FEEDS.items():
        if modality not in config.modalities:
            continue
        length = config.text_sequence_length
        lengths = rng.integers(2, length + 1, batch_size) * present[modality]
        mask = (np.arange(length) < lengths[:, None]).astype("int64")
        batch[keys[features.TEXT_TOKEN_IDS_KEY]] = (
            rng.integers(1, vocabulary_size, (batch_size, length)) * mask
        )
        batch[keys[features.TEXT_SEGMENT_IDS_KEY]] = np.zeros((batch_size, length), "int64")
        batch[keys[features.TEXT_PADDING_MASK_KEY]] = mask
    if IMAGE in config.modalities:
        shape = (batch_size, config.image_size, config.image_size, 3)
        pixels = rng.uniform(-1.0, 1.0, shape).astype("float32")
        batch[features.IMAGE_PIXELS_KEY] = pixels * present[IMAGE][:, None, None, None]
    if AUDIO in config.modalities:
        frames = config.audio_frames
        lengths = rng.integers(frames // 4, frames + 1, batch_size) * present[AUDIO]
        mask = (np.arange(frames) < lengths[:, None]).astype("int64")
        log_mel = rng.normal(-4.0, 2.0, (batch_size, frames, config.audio_mel_bins))
        batch[features.AUDIO_LOG_MEL_KEY] = (log_mel * mask[..., None]).astype("float32")
        batch[features.AUDIO_FRAME_MASK_KEY] = mask
    for modality in config.modalities:
        batch[PRESENCE_KEYS[modality]] = present[modality].astype("float32")
    return batch
