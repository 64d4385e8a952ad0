"""The image encoder: a CNN backbone's pooled features, projected to the shared width."""

import keras

from models import features
from models.backbone_encoder import BackboneEncoder


@keras.saving.register_keras_serializable(package="mmcs")
class ImageEncoder(BackboneEncoder):
    """Image encoder over a convolutional backbone, ending in a shared-width projection.

    The backbone maps pre-scaled pixels to either a pooled feature vector or a feature
    map (which is then average-pooled); the features are projected (Dense +
    LayerNormalization) to `projection_dim`.

    Args:
        backbone: a Keras 3 model taking (height, width, 3) images scaled as the
            Transform output is, (x - 127) / 128. None builds EfficientNet-Lite0 with
            its ImageNet weights (`efficientnet_lite0_imagenet(include_top=False,
            pooling="avg", include_preprocessing=False)`: 1280-d features).
        projection_dim: int. Width of the output embedding, shared by all encoders.
        freeze_backbone: bool. Train only the projection. A frozen backbone's
            BatchNormalization layers run in inference mode even while the model
            trains (Keras 3 BatchNormalization normalizes with its moving statistics
            whenever the layer is not trainable), so batch statistics never mix
            examples, and absent images (zero pixels) cannot shift them.
        dtype: dtype policy of the projection layers.

    Inputs: `features.IMAGE_PIXELS_KEY`, float32 (batch, height, width, 3).
    Output: (batch, projection_dim) float32.
    """

    def __init__(
        self,
        backbone=None,
        projection_dim=256,
        freeze_backbone=True,
        dtype=None,
        **kwargs,
    ):
        if backbone is None:
            from models.efficientnet_lite import efficientnet_lite0_imagenet

            backbone = efficientnet_lite0_imagenet(
                include_top=False, pooling="avg", include_preprocessing=False
            )
        feature_rank = len(backbone.output.shape)
        if feature_rank not in (2, 4):
            raise ValueError(
                f"image backbone {backbone.name!r} outputs shape {backbone.output.shape}; "
                "expected pooled features (batch, channels) or a feature map "
                "(batch, height, width, channels)"
            )

        # === Layers ===
        self.backbone = backbone
        self.pooling = (
            keras.layers.GlobalAveragePooling2D(dtype=dtype, name="image_pooling")
            if feature_rank == 4
            else None
        )
        self.projection = keras.layers.Dense(projection_dim, dtype=dtype, name="image_projection")
        self.projection_norm = keras.layers.LayerNormalization(
            dtype=dtype, name="image_projection_norm"
        )

        # === Functional Model ===
        pixels = keras.Input(
            shape=tuple(backbone.input_shape[1:]), dtype="float32", name=features.IMAGE_PIXELS_KEY
        )
        image_features = backbone(pixels)
        if self.pooling is not None:
            image_features = self.pooling(image_features)
        outputs = self.projection_norm(self.projection(image_features))
        super().__init__(
            inputs={features.IMAGE_PIXELS_KEY: pixels}, outputs=outputs, dtype=dtype, **kwargs
        )
        # After Model.__init__, which may set `trainable` on every sub-layer.
        if freeze_backbone:
            backbone.trainable = False

        # === Config ===
        self.projection_dim = projection_dim
        self.freeze_backbone = freeze_backbone

    def get_config(self):
        return self.backbone_config(
            projection_dim=self.projection_dim,
            freeze_backbone=self.freeze_backbone,
        )
