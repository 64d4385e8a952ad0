"""The single home of every feature key and label value set, grouped by modality.

The raw keys are the fields of the raw log format (schemas/raw_turn.schema.json) as
written into tf.Examples by the log ExampleGen (components/log_example_gen). Nothing
outside this module spells a feature name as a string literal.
"""

# === Identity and context ===
TURN_ID_KEY = "turn_id"
SESSION_ID_KEY = "session_id"
TURN_INDEX_KEY = "turn_index"
# Seconds since the Unix epoch (UTC); the raw log carries an RFC 3339 string.
TIMESTAMP_KEY = "timestamp"
CHANNEL_KEY = "channel"
LANGUAGE_KEY = "language"

# Value sets (channels, intents, sentiments) are the data contract's: see schemas/.
DEFAULT_LANGUAGE = "en"

# === Text ===
TEXT_KEY = "text"
HAS_TEXT_KEY = "has_text"

# === Image ===
# Encoded PNG or JPEG bytes (other formats are transcoded to PNG at ingestion, because
# tf.io.decode_image in the serving graph reads PNG, JPEG, GIF and BMP only).
IMAGE_KEY = "image"
HAS_IMAGE_KEY = "has_image"
# The words written in the picture, as text recognition (models/image_text_recognition.py)
# reads them: derived at ingestion, and by whoever calls the model in front of serving; ""
# or absent when there is no picture or no text in it. Not a field of the raw log.
IMAGE_TEXT_KEY = "image_text"

# === Audio ===
# 16 kHz mono PCM16 WAV bytes, whatever the format and rate of the attachment.
AUDIO_KEY = "audio"
HAS_AUDIO_KEY = "has_audio"
AUDIO_DURATION_KEY = "audio_duration_s"
AUDIO_SAMPLE_RATE = 16_000
# What is said in the audio, as speech recognition (models/speech_recognition.py) hears
# it: derived at ingestion, and by whoever calls the model in front of serving; "" or
# absent when there is no audio or nothing is said. Not a field of the raw log.
TRANSCRIPT_KEY = "transcript"

# === Labels (optional: unlabelled production turns carry neither) ===
INTENT_KEY = "intent"
SENTIMENT_KEY = "sentiment"
OUT_OF_SCOPE_INTENT = "out_of_scope"

# === Groups ===
MODALITY_PRESENCE_KEYS = {
    TEXT_KEY: HAS_TEXT_KEY,
    IMAGE_KEY: HAS_IMAGE_KEY,
    AUDIO_KEY: HAS_AUDIO_KEY,
}
LABEL_KEYS = (INTENT_KEY, SENTIMENT_KEY)
# Keys of the raw log record that reference attachment files.
ATTACHMENT_KEYS = (IMAGE_KEY, AUDIO_KEY)
# Every feature of the ingested tf.Examples (the curated TFDV schema's features).
RAW_FEATURE_KEYS = (
    TURN_ID_KEY,
    SESSION_ID_KEY,
    TURN_INDEX_KEY,
    TIMESTAMP_KEY,
    CHANNEL_KEY,
    LANGUAGE_KEY,
    TEXT_KEY,
    HAS_TEXT_KEY,
    IMAGE_KEY,
    HAS_IMAGE_KEY,
    IMAGE_TEXT_KEY,
    AUDIO_KEY,
    HAS_AUDIO_KEY,
    AUDIO_DURATION_KEY,
    TRANSCRIPT_KEY,
    INTENT_KEY,
    SENTIMENT_KEY,
)

# The named inputs of the serving_default signature (REST clients send all five, "" for
# an absent one), in this order.
SERVING_INPUT_KEYS = (TEXT_KEY, IMAGE_KEY, AUDIO_KEY, TRANSCRIPT_KEY, IMAGE_TEXT_KEY)

# === Transformed features (outputs of models/preprocessing.py, inputs of the model) ===
TEXT_SEQUENCE_LENGTH = 40
# Which wordpieces a text longer than the sequence keeps (text_preprocessing.truncate),
# per text input: its first ("head", what KerasHub's and Hugging Face's BERT
# preprocessors do). "head_tail" (first quarter, last three quarters) was measured on
# the text path and not adopted (docs/model.md, 2026-12-07).
TEXT_TRUNCATION = {TEXT_KEY: "head", TRANSCRIPT_KEY: "head", IMAGE_TEXT_KEY: "head"}
TEXT_TOKEN_IDS_KEY = "text_token_ids"  # int64 [batch, TEXT_SEQUENCE_LENGTH]
TEXT_SEGMENT_IDS_KEY = "text_segment_ids"  # int64 [batch, TEXT_SEQUENCE_LENGTH]
TEXT_PADDING_MASK_KEY = "text_padding_mask"  # int64 [batch, TEXT_SEQUENCE_LENGTH], 1 = token
TEXT_TOKEN_KEYS = (TEXT_TOKEN_IDS_KEY, TEXT_SEGMENT_IDS_KEY, TEXT_PADDING_MASK_KEY)
# The transcript, tokenized like the text (same vocabulary and length).
TRANSCRIPT_TOKEN_IDS_KEY = "transcript_token_ids"
TRANSCRIPT_SEGMENT_IDS_KEY = "transcript_segment_ids"
TRANSCRIPT_PADDING_MASK_KEY = "transcript_padding_mask"
# Each text token feature -> the transcript's feature of the same kind.
TRANSCRIPT_TOKEN_KEYS = {
    TEXT_TOKEN_IDS_KEY: TRANSCRIPT_TOKEN_IDS_KEY,
    TEXT_SEGMENT_IDS_KEY: TRANSCRIPT_SEGMENT_IDS_KEY,
    TEXT_PADDING_MASK_KEY: TRANSCRIPT_PADDING_MASK_KEY,
}
# The text read in the picture, likewise.
IMAGE_TEXT_TOKEN_IDS_KEY = "image_text_token_ids"
IMAGE_TEXT_SEGMENT_IDS_KEY = "image_text_segment_ids"
IMAGE_TEXT_PADDING_MASK_KEY = "image_text_padding_mask"
IMAGE_TEXT_TOKEN_KEYS = {
    TEXT_TOKEN_IDS_KEY: IMAGE_TEXT_TOKEN_IDS_KEY,
    TEXT_SEGMENT_IDS_KEY: IMAGE_TEXT_SEGMENT_IDS_KEY,
    TEXT_PADDING_MASK_KEY: IMAGE_TEXT_PADDING_MASK_KEY,
}
# Texts derived from attachments (raw key) -> their token features (by text token key).
DERIVED_TEXT_TOKEN_KEYS = {
    TRANSCRIPT_KEY: TRANSCRIPT_TOKEN_KEYS,
    IMAGE_TEXT_KEY: IMAGE_TEXT_TOKEN_KEYS,
}

IMAGE_SIZE = 224
IMAGE_PIXELS_KEY = "image_pixels"  # float32 [batch, IMAGE_SIZE, IMAGE_SIZE, 3], (x - 127) / 128

# Log-mel frames: 25 ms windows every 20 ms over at most AUDIO_MAX_SECONDS.
AUDIO_MAX_SECONDS = 8.0
AUDIO_FRAME_STEP_SECONDS = 0.02
AUDIO_FRAME_LENGTH_SECONDS = 0.025
AUDIO_MEL_BINS = 64
AUDIO_FRAMES = int(AUDIO_MAX_SECONDS / AUDIO_FRAME_STEP_SECONDS)  # 400
AUDIO_LOG_MEL_KEY = "audio_log_mel"  # float32 [batch, AUDIO_FRAMES, AUDIO_MEL_BINS]
AUDIO_FRAME_MASK_KEY = "audio_frame_mask"  # int64 [batch, AUDIO_FRAMES], 1 = real frame

# Presence of each modality as the model sees it: float32 [batch], 1.0 = present.
TEXT_PRESENT_KEY = "text_present"
IMAGE_PRESENT_KEY = "image_present"
AUDIO_PRESENT_KEY = "audio_present"
TRANSCRIPT_PRESENT_KEY = "transcript_present"
IMAGE_TEXT_PRESENT_KEY = "image_text_present"

# Labels as class indices in the contract's order (schemas.intent_labels(),
# schemas.sentiment_labels()); -1 where the label is absent (masked in the loss).
INTENT_LABEL_KEY = "intent_label"  # int64 [batch]
SENTIMENT_LABEL_KEY = "sentiment_label"  # int64 [batch]
MISSING_LABEL = -1
# 1.0 where the head's label is present, 0.0 otherwise: float32 [batch] (TFMA example weights).
INTENT_WEIGHT_KEY = "intent_weight"
SENTIMENT_WEIGHT_KEY = "sentiment_weight"
LABEL_WEIGHT_KEYS = {INTENT_LABEL_KEY: INTENT_WEIGHT_KEY, SENTIMENT_LABEL_KEY: SENTIMENT_WEIGHT_KEY}

# Training-only model output (TrainingConfig.text_intent_loss_weight): intent logits of the
# typed text alone, from an auxiliary head on the text encoder's embedding of it. Never
# exported: the served model has the fused intent and sentiment outputs only.
TEXT_INTENT_AUXILIARY_KEY = "text_intent"

# Which modalities a turn has, for slicing (TFMA): string [batch], the raw keys of the
# present modalities in MODALITY_COMBINATION_ORDER joined by MODALITY_SEPARATOR
# ("image+text", "audio", "image+audio+text"), NO_MODALITY when a turn has none.
MODALITY_COMBINATION_KEY = "modalities"
MODALITY_COMBINATION_ORDER = (IMAGE_KEY, AUDIO_KEY, TEXT_KEY)
MODALITY_SEPARATOR = "+"
NO_MODALITY = "none"
