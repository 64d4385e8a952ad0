"""TF Serving warm-up requests (assets.extra/tf_serving_warmup_requests) from real turns."""

import os

import tensorflow as tf
from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

from models import features

WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
_REQUEST_INPUTS = features.SERVING_INPUT_KEYS


def _bytes_value(example: tf.train.Example, key: str) -> bytes:
    values = example.features.feature[key].bytes_list.value
    return values[0] if values else b""


def _combination(example: tf.train.Example) -> tuple[bool, ...]:
    return tuple(bool(_bytes_value(example, key)) for key in features.MODALITY_COMBINATION_ORDER)


def warmup_examples(file_patterns: list[str], count: int) -> list[tf.train.Example]:
    """Up to `count` raw examples, one per modality combination first, then in file order."""
    files = sorted(f for pattern in file_patterns for f in tf.io.gfile.glob(pattern))
    chosen, seen, rest = [], set(), []
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP").take(2000):
        example = tf.train.Example.FromString(record.numpy())
        combination = _combination(example)
        if combination not in seen:
            seen.add(combination)
            chosen.append(example)
        elif len(rest) < count:
            rest.append(example)
    return (chosen + rest)[:count]


def predict_request(values: dict[str, bytes]) -> predict_pb2.PredictRequest:
    """A serving_default PredictRequest for one turn (`features.SERVING_INPUT_KEYS` ->
    bytes; empty bytes = modality absent)."""
    request = predict_pb2.PredictRequest(
        model_spec=model_pb2.ModelSpec(signature_name="serving_default")
    )
    for key in _REQUEST_INPUTS:
        request.inputs[key].CopyFrom(tf.make_tensor_proto([values[key]], dtype=tf.string))
    return request


def write_warmup_requests(serving_model_dir: str, file_patterns: list[str], count: int) -> int:
    """Writes the warm-up file TF Serving replays on load; returns the number of requests."""
    examples = warmup_examples(file_patterns, count)
    path = os.path.join(serving_model_dir, WARMUP_FILE)
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.TFRecordWriter(path) as writer:
        for example in examples:
            request = predict_request({k: _bytes_value(example, k) for k in _REQUEST_INPUTS})
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request)
            )
            writer.write(log.SerializeToString())
    return len(examples)
