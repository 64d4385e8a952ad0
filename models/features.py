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

# === Audio ===
# 16 kHz mono PCM16 WAV bytes, whatever the format and rate of the attachment.
AUDIO_KEY = "audio"
HAS_AUDIO_KEY = "has_audio"
AUDIO_DURATION_KEY = "audio_duration_s"
AUDIO_SAMPLE_RATE = 16_000

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
