"""The base of encoders that wrap a pretrained backbone: config with the backbone inside."""

import keras


class BackboneEncoder(keras.Model):
    """A functional encoder built around `self.backbone`, serialized with it.

    Subclasses build their functional graph in `__init__`, set `self.backbone`, and return
    `self.backbone_config(<their own constructor arguments>)` from `get_config()`.
    """

    def backbone_config(self, **arguments) -> dict:
        """The config: the common Keras fields, the serialized backbone and `arguments`."""
        # Not chained to super(): a functional model's config is its layer graph, which
        # the subclasses' constructors do not take.
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
            "backbone": keras.layers.serialize(self.backbone),
            **arguments,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["backbone"] = keras.layers.deserialize(
            config["backbone"], custom_objects=custom_objects
        )
        return cls(**config)
