"""WordPiece tokenization of the turn text, as the pretrained text encoder expects it.

The text encoder is all-MiniLM-L6-v2 (`models.minilm`), an uncased BERT: the text is
lowercased, NFD-normalized with accents stripped, split on whitespace and punctuation,
then cut into WordPiece tokens of the checkpoint's own `vocab.txt`. Each turn becomes
`[CLS] tokens [SEP]`, truncated to `features.TEXT_SEQUENCE_LENGTH` (the tokens, never
the two markers) and padded with `[PAD]`, which is what KerasHub's `BertTokenizer` +
`BertTextClassifierPreprocessor` (and Hugging Face's `BertTokenizer`) produce.

A text longer than the sequence keeps its first tokens (`"head"`, what those
preprocessors do) or its first quarter and its last three quarters (`"head_tail"`, the
best of the truncations Sun et al. 2019 compared for BERT classification): a customer
who writes at length tends to tell the story first and ask the question last. Which one
each text input gets is `features.TEXT_TRUNCATION`: the head, as head+tail did not raise
the typed test queries on the text path (docs/model.md).

Only core TensorFlow and TF Text ops, so that the stock TF Serving binary runs them.
"""

import tensorflow as tf
import tensorflow_text as tf_text

from models import features, minilm

CLS_TOKEN = "[CLS]"
SEP_TOKEN = "[SEP]"
PAD_TOKEN = "[PAD]"
UNKNOWN_TOKEN = "[UNK]"

TRUNCATIONS = ("head", "head_tail")
# Of the tokens a "head_tail" truncation keeps, the share taken from the head (Sun et al.
# 2019 kept 128 of 510 BERT tokens from the head, the rest from the tail).
HEAD_SHARE = 0.25


def text_vocabulary_path() -> str:
    """Return the WordPiece vocabulary of the pretrained text encoder."""
    return minilm.minilm_vocabulary_path()


def special_token_ids(vocabulary_path: str) -> dict[str, int]:
    """Return the ids of `[CLS]`, `[SEP]` and `[PAD]` (their line numbers in the file).

    Raises:
        ValueError: the vocabulary lacks one of them.
    """
    wanted = (CLS_TOKEN, SEP_TOKEN, PAD_TOKEN)
    ids = {}
    with tf.io.gfile.GFile(vocabulary_path) as f:
        for index, line in enumerate(f):
            token = line.rstrip("\n")
            if token in wanted and token not in ids:
                ids[token] = index
    missing = [token for token in wanted if token not in ids]
    if missing:
        raise ValueError(f"vocabulary {vocabulary_path} has no {', '.join(missing)} token")
    return ids


def make_text_tokenizer(vocabulary_path: str) -> tf_text.BertTokenizer:
    """Build the uncased BERT WordPiece tokenizer over `vocabulary_path` (int64 ids).

    The tokenizer is a `tf.Module` that owns the vocabulary table and tracks the file
    as a SavedModel asset; create it outside the traced function (in a
    `preprocessing_fn`, through `tft.make_and_track_object`).
    """
    return tf_text.BertTokenizer(
        vocabulary_path,
        token_out_type=tf.int64,
        unknown_token=UNKNOWN_TOKEN,
        lower_case=True,
    )


def text_present(texts: tf.Tensor) -> tf.Tensor:
    """Return bool [batch]: the text has something besides whitespace."""
    return tf.strings.length(tf.strings.strip(texts)) > 0


def truncate(wordpieces: tf.RaggedTensor, max_tokens: int, truncation: str) -> tf.RaggedTensor:
    """Keep at most `max_tokens` of each row of `wordpieces` [batch, (tokens)], in order.

    `"head"` keeps a longer row's first `max_tokens`; `"head_tail"` its first
    `round(HEAD_SHARE * max_tokens)` and its last ones. A row that fits is kept whole.

    Raises:
        ValueError: `truncation` is not one of `TRUNCATIONS`, or `max_tokens` < 1.
    """
    if truncation not in TRUNCATIONS:
        raise ValueError(f"truncation must be one of {TRUNCATIONS}, got {truncation!r}")
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
    if truncation == "head":
        return wordpieces[:, :max_tokens]
    head = round(HEAD_SHARE * max_tokens)
    lengths = wordpieces.row_lengths()
    positions = tf.ragged.range(lengths)
    # A token is kept if it is in the head or among the last max_tokens - head; for a
    # row of at most max_tokens the two ranges cover it.
    tail_start = tf.expand_dims(lengths - (max_tokens - head), 1)
    keep = tf.logical_or(positions < head, positions >= tail_start)
    return tf.ragged.boolean_mask(wordpieces, keep)


def tokenize_text(
    texts: tf.Tensor,
    present: tf.Tensor,
    tokenizer: tf_text.BertTokenizer,
    special_ids: dict[str, int],
    sequence_length: int = features.TEXT_SEQUENCE_LENGTH,
    truncation: str = "head",
) -> dict[str, tf.Tensor]:
    """Tokenize a batch of texts into the text encoder's three inputs.

    Args:
        texts: string [batch], UTF-8; rows without text may hold anything (b"").
        present: bool [batch]; a row that is not present becomes all padding.
        tokenizer: from `make_text_tokenizer`.
        special_ids: from `special_token_ids` of the same vocabulary.
        sequence_length: length of every output row, the two markers included.
        truncation: which tokens a longer text keeps, one of `TRUNCATIONS`.

    Returns:
        int64 [batch, sequence_length] tensors under `features.TEXT_TOKEN_IDS_KEY`,
        `TEXT_SEGMENT_IDS_KEY` (all zeros: one segment) and `TEXT_PADDING_MASK_KEY`
        (1 = real token, 0 = padding).
    """
    # [batch, words, wordpieces] -> [batch, wordpieces]
    wordpieces = tokenizer.tokenize(texts).merge_dims(-2, -1)
    wordpieces = truncate(wordpieces, sequence_length - 2, truncation)
    token_ids, segment_ids = tf_text.combine_segments(
        [wordpieces],
        start_of_sequence_id=special_ids[CLS_TOKEN],
        end_of_segment_id=special_ids[SEP_TOKEN],
    )
    token_ids, padding_mask = tf_text.pad_model_inputs(
        token_ids, max_seq_length=sequence_length, pad_value=special_ids[PAD_TOKEN]
    )
    segment_ids, _ = tf_text.pad_model_inputs(segment_ids, max_seq_length=sequence_length)
    # A turn without text is all padding, not "[CLS] [SEP]": the model sees no token.
    keep = tf.cast(present, tf.int64)[:, tf.newaxis]
    pad_id = tf.constant(special_ids[PAD_TOKEN], tf.int64)
    return {
        features.TEXT_TOKEN_IDS_KEY: token_ids * keep + pad_id * (1 - keep),
        features.TEXT_SEGMENT_IDS_KEY: segment_ids * keep,
        features.TEXT_PADDING_MASK_KEY: padding_mask * keep,
    }
