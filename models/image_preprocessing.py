"""Decoding and resizing of the turn image, as the pretrained image encoder expects it.

The image encoder is EfficientNet-Lite0 (`models.efficientnet_lite`): RGB at
`features.IMAGE_SIZE` square, scaled to (x - 127) / 128 by the same
`efficientnet_lite.preprocess_input` the encoder module defines (the model is then
built with `include_preprocessing=False`).

Resize: aspect-preserving, then centred on a square canvas of zeros (the scaled value
of mid-grey, the same as a missing image). The pictures are mostly phone screenshots,
receipts and notifications (tall or wide, full of text); a plain resize would squash
their glyphs by up to 2x in one direction, while padding keeps the letter shapes that
carry the intent. Downscaling is antialiased (area-like), so the small print of large
photos does not alias.

Ingestion writes PNG or JPEG bytes; `tf.io.decode_image` also reads GIF (first frame)
and BMP, and fails the batch on anything else. Only core TensorFlow ops, so that the
stock TF Serving binary runs them.
"""

import tensorflow as tf

from models import efficientnet_lite, features


def image_present(images: tf.Tensor) -> tf.Tensor:
    """Return bool [batch]: the encoded image is not empty."""
    return tf.strings.length(images) > 0


def decode_image(encoded: tf.Tensor, image_size: int = features.IMAGE_SIZE) -> tf.Tensor:
    """Decode one encoded image into scaled float32 [image_size, image_size, 3].

    Args:
        encoded: scalar string, PNG/JPEG (GIF/BMP) bytes; grey or RGBA become RGB
            (alpha is dropped).
        image_size: side of the square output.

    Returns:
        The picture resized to fit inside the square with its aspect ratio kept,
        scaled with `efficientnet_lite.preprocess_input`, centred, zero elsewhere.
    """
    pixels = tf.io.decode_image(encoded, channels=3, expand_animations=False)
    resized = tf.image.resize(
        pixels, (image_size, image_size), preserve_aspect_ratio=True, antialias=True
    )
    # Bilinear/area interpolation can overshoot [0, 255] slightly near sharp edges.
    scaled = efficientnet_lite.preprocess_input(tf.clip_by_value(resized, 0.0, 255.0))
    height, width = tf.shape(scaled)[0], tf.shape(scaled)[1]
    padded = tf.image.pad_to_bounding_box(
        scaled, (image_size - height) // 2, (image_size - width) // 2, image_size, image_size
    )
    return tf.ensure_shape(padded, (image_size, image_size, 3))


def image_pixels(
    images: tf.Tensor, present: tf.Tensor, image_size: int = features.IMAGE_SIZE
) -> tf.Tensor:
    """Decode a batch of encoded images; rows without an image are zeros.

    Args:
        images: string [batch] of encoded images (b"" where absent).
        present: bool [batch]; only these rows are decoded.
        image_size: side of the square output.

    Returns:
        float32 [batch, image_size, image_size, 3].
    """
    blank = tf.zeros((image_size, image_size, 3), tf.float32)

    def decode_row(row):
        encoded, row_present = row
        return tf.cond(row_present, lambda: decode_image(encoded, image_size), lambda: blank)

    return tf.map_fn(
        decode_row,
        (images, present),
        fn_output_signature=tf.TensorSpec((image_size, image_size, 3), tf.float32),
    )
