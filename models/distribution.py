"""The tf.distribute strategy the Trainer builds and fits the Keras 3 model under.

Keras 3 on the TensorFlow backend takes part in tf.distribute: variables created inside
`strategy.scope()` (the model's and the optimizer's, so build and compile both go there)
are distributed variables, and `Model.fit` distributes the tf.data input and runs each
step on every replica. (`keras.distribution` is the backend-neutral API for JAX; the
TensorFlow backend uses tf.distribute.)

- "default": no distribution, one device.
- "mirrored": MirroredStrategy, synchronous data parallelism over this machine's GPUs
  (on a CPU-only machine: one replica on the CPU).
- "multi_worker_mirrored": MultiWorkerMirroredStrategy over the machines listed in the
  TF_CONFIG environment variable, e.g. on worker 0 of two:
    TF_CONFIG='{"cluster": {"worker": ["trainer-0:12345", "trainer-1:12345"]},
                "task": {"type": "worker", "index": 0}}'
  Every worker runs the same Trainer code (e.g. Vertex AI / Kubeflow training jobs with
  one replica pool); worker 0 is the chief and writes the model. Without TF_CONFIG it is a
  single-worker cluster on this machine.
"""

import tensorflow as tf

from models.training_config import DISTRIBUTIONS


def distribution_strategy(name: str) -> tf.distribute.Strategy:
    """The strategy a TrainingConfig.distribution names."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker_mirrored":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"distribution {name!r} is not one of {list(DISTRIBUTIONS)}")
