"""The TF Transform `preprocessing_fn`: one graph for training, evaluation and serving.

The same traced graph turns raw features into model inputs in the Transform component
(training and evaluation examples) and inside the serving signatures (through
`TFTransformOutput.transform_features_layer()`), so the two can never drift apart.

Raw features arrive as the curated schema makes them (`schemas/schema.pbtxt` has no
shapes, so every feature is a `tf.SparseTensor`, one value at most per row); dense
`[batch]` or `[batch, 1]` tensors and ragged ones are read the same way. Each output
depends only on its own raw feature(s), so when the serving signature does not feed
`intent` and `sentiment`, TF Transform prunes the label outputs and nothing else. A
label key missing from `inputs` altogether gives `features.MISSING_LABEL` rows.

A modality is present when its value is non-empty (text: not only whitespace); the
`has_*` flags are not read, so serving clients need to send only the content.

The tokenizer and the label tables are created with `tft.make_and_track_object`, which
needs TF Transform's TF2 tracing (`force_tf_compat_v1=False`, the Transform component's
default). The graph holds core TensorFlow and TF Text ops only (TF Serving's stock
binary runs no tensorflow-io ops); `tests/models/test_preprocessing.py` checks the
exported graph in a process without tensorflow-io or tensorflow-transform.
"""

import os
import tempfile

import tensorflow as tf
import tensorflow_transform as tft
from tensorflow_transform.graph_context import TFGraphContext

import schemas
from models import audio_features, features, image_preprocessing, text_preprocessing

# Label outputs: (raw label key, the contract's label names in class-index order).
_LABEL_SOURCES = {
    features.INTENT_LABEL_KEY: (features.INTENT_KEY, schemas.intent_labels),
    features.SENTIMENT_LABEL_KEY: (features.SENTIMENT_KEY, schemas.sentiment_labels),
}
# Raw string features passed through for slicing in TFMA.
_PASSTHROUGH_KEYS = (features.TURN_ID_KEY, features.CHANNEL_KEY)


def label_names(label_key: str) -> tuple[str, ...]:
    """Return the class names of a transformed label key, index i = class i.

    The order is the data contract's (`schemas.intent_labels()`,
    `schemas.sentiment_labels()`), fixed, never learned from data. The same list is
    written into the transform graph's assets: `TFTransformOutput.
    vocabulary_file_by_name(label_key)` is its path there, one name per line.
    """
    _, labels = _LABEL_SOURCES[label_key]
    return labels()


# === Raw feature access ===


def _batch_size(value) -> tf.Tensor:
    """Return the number of rows of a raw feature tensor of any kind."""
    if isinstance(value, tf.SparseTensor):
        return value.dense_shape[0]
    if isinstance(value, tf.RaggedTensor):
        return value.nrows()
    return tf.shape(value, out_type=tf.int64)[0]


def _first_value(value, default) -> tf.Tensor:
    """Return [batch]: each row's first value, `default` where the row has none.

    Args:
        value: a raw feature as TF Transform feeds it: `tf.SparseTensor` [batch, n]
            (VarLenFeature), dense [batch, 1] or [batch] (FixedLenFeature), or ragged.
        default: value of rows without one.
    """
    if isinstance(value, tf.SparseTensor):
        is_first = tf.equal(value.indices[:, 1], 0)
        rows = tf.boolean_mask(value.indices[:, 0], is_first)
        # A batch without any value has dense_shape [batch, 0]: rebuild it as [batch, 1].
        first = tf.SparseTensor(
            indices=tf.stack([rows, tf.zeros_like(rows)], axis=1),
            values=tf.boolean_mask(value.values, is_first),
            dense_shape=tf.stack([value.dense_shape[0], tf.constant(1, tf.int64)]),
        )
        return tf.sparse.to_dense(first, default_value=default)[:, 0]
    if isinstance(value, tf.RaggedTensor):
        return value[:, :1].to_tensor(default_value=default, shape=[None, 1])[:, 0]
    if value.shape.rank == 2:
        return value[:, 0]
    return value


def _raw_strings(inputs, key, batch_size) -> tf.Tensor:
    """Return string [batch] of a raw bytes feature, b"" where absent (or not in inputs)."""
    if key not in inputs:
        return tf.fill(tf.reshape(batch_size, [1]), "")
    return _first_value(inputs[key], default="")


# === Labels ===


def _label_vocabulary_file(label_key: str) -> str:
    """Write the label names, one per line, where the transform graph's assets come from.

    The file lands in TF Transform's temporary directory (a fresh local one outside
    a Transform run); the SavedModel copies it into its assets as `label_key`.
    """
    directory = TFGraphContext.get_or_create_temp_dir() or tempfile.mkdtemp()
    path = os.path.join(directory, label_key)
    with tf.io.gfile.GFile(path, "w") as f:
        f.write("".join(f"{name}\n" for name in label_names(label_key)))
    return path


def _make_label_table(label_key: str) -> tf.lookup.StaticHashTable:
    """Build the label name -> class index table (unknown or absent -> MISSING_LABEL)."""
    initializer = tf.lookup.TextFileInitializer(
        _label_vocabulary_file(label_key),
        key_dtype=tf.string,
        key_index=tf.lookup.TextFileIndex.WHOLE_LINE,
        value_dtype=tf.int64,
        value_index=tf.lookup.TextFileIndex.LINE_NUMBER,
    )
    return tf.lookup.StaticHashTable(initializer, default_value=features.MISSING_LABEL)


def _label_indices(inputs, label_key, batch_size) -> tf.Tensor:
    """Return int64 [batch]: class index of each row's label, MISSING_LABEL without one.

    Unknown label names also map to MISSING_LABEL; the ExampleValidator's schema check
    (the contract's string domains) has stopped such data before Transform runs.
    """
    raw_key, _ = _LABEL_SOURCES[label_key]
    table = tft.make_and_track_object(
        lambda: _make_label_table(label_key), name=f"{label_key}_table"
    )
    tft.annotate_asset(label_key, label_key)
    return tf.ensure_shape(table.lookup(_raw_strings(inputs, raw_key, batch_size)), [None])


# === Slicing ===


def _modality_combination(present: dict[str, tf.Tensor]) -> tf.Tensor:
    """Return string [batch] such as "image+text" (see features.MODALITY_COMBINATION_KEY)."""
    order = features.MODALITY_COMBINATION_ORDER
    flags = tf.stack([present[key] for key in order], axis=1)
    names = tf.broadcast_to(tf.constant(order), tf.shape(flags))
    joined = tf.strings.reduce_join(
        tf.ragged.boolean_mask(names, flags), axis=1, separator=features.MODALITY_SEPARATOR
    )
    return tf.where(tf.reduce_any(flags, axis=1), joined, features.NO_MODALITY)


# === Entry point ===


# TFX Transform calls this (module_file + preprocessing_fn), and its graph is reused by
# the Trainer's serving signatures through TFTransformOutput.transform_features_layer().
def preprocessing_fn(inputs):
    """Turn raw turn features into the model's inputs, labels and slicing features.

    Args:
        inputs: dict of raw features keyed by `features` raw keys.

    Returns:
        Dict of the transformed keys of `features` (shapes and dtypes noted there):
        text token ids / segment ids / padding mask, the same three for the speech
        transcript and for the text read in the picture, image pixels, audio log-mel
        and frame mask, the five presence flags, the two labels, and for slicing the
        turn id, channel and modality combination.
    """
    batch_size = _batch_size(next(iter(inputs.values())))
    outputs = {}

    # Presence is read from the content itself, not the has_* flags: the serving
    # signature needs only the content, and an empty value never counts as present.
    texts = _raw_strings(inputs, features.TEXT_KEY, batch_size)
    images = _raw_strings(inputs, features.IMAGE_KEY, batch_size)
    audio = _raw_strings(inputs, features.AUDIO_KEY, batch_size)
    derived_texts = {
        key: _raw_strings(inputs, key, batch_size) for key in features.DERIVED_TEXT_TOKEN_KEYS
    }
    present = {
        features.TEXT_KEY: text_preprocessing.text_present(texts),
        features.IMAGE_KEY: image_preprocessing.image_present(images),
        features.AUDIO_KEY: audio_features.audio_present(audio),
    }
    for key, strings in derived_texts.items():
        present[key] = text_preprocessing.text_present(strings)

    vocabulary = text_preprocessing.text_vocabulary_path()
    tokenizer = tft.make_and_track_object(
        lambda: text_preprocessing.make_text_tokenizer(vocabulary), name="text_tokenizer"
    )
    special_ids = text_preprocessing.special_token_ids(vocabulary)
    outputs.update(
        text_preprocessing.tokenize_text(
            texts,
            present[features.TEXT_KEY],
            tokenizer,
            special_ids,
            truncation=features.TEXT_TRUNCATION[features.TEXT_KEY],
        )
    )
    # The transcript and the picture's text are read by the same tokenizer, each into its
    # own three features.
    for key, strings in derived_texts.items():
        tokens = text_preprocessing.tokenize_text(
            strings, present[key], tokenizer, special_ids, truncation=features.TEXT_TRUNCATION[key]
        )
        for text_key, derived_key in features.DERIVED_TEXT_TOKEN_KEYS[key].items():
            outputs[derived_key] = tokens[text_key]
    outputs[features.IMAGE_PIXELS_KEY] = image_preprocessing.image_pixels(
        images, present[features.IMAGE_KEY]
    )
    outputs.update(audio_features.audio_log_mel(audio, present[features.AUDIO_KEY]))

    for raw_key, present_key in (
        (features.TEXT_KEY, features.TEXT_PRESENT_KEY),
        (features.IMAGE_KEY, features.IMAGE_PRESENT_KEY),
        (features.AUDIO_KEY, features.AUDIO_PRESENT_KEY),
        (features.TRANSCRIPT_KEY, features.TRANSCRIPT_PRESENT_KEY),
        (features.IMAGE_TEXT_KEY, features.IMAGE_TEXT_PRESENT_KEY),
    ):
        outputs[present_key] = tf.cast(present[raw_key], tf.float32)
    outputs[features.MODALITY_COMBINATION_KEY] = _modality_combination(present)

    for label_key, weight_key in features.LABEL_WEIGHT_KEYS.items():
        outputs[label_key] = _label_indices(inputs, label_key, batch_size)
        # TFMA weighs each head's metrics with these, so unlabelled turns count for nothing.
        outputs[weight_key] = tf.cast(outputs[label_key] != features.MISSING_LABEL, tf.float32)
    for key in _PASSTHROUGH_KEYS:
        outputs[key] = _raw_strings(inputs, key, batch_size)
    return outputs
