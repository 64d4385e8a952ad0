"""The exported serving module: raw inputs -> TF Transform graph -> fusion model -> answers.

Three signatures (# TF Serving and the TFX Evaluator call these):
  serving_default     raw named inputs (text, image bytes, audio bytes, the audio's
                      transcript, the picture's text; any may be empty) for REST
                      clients; returns
                      intent, intent_probabilities, confidence, out_of_scope,
                      sentiment, sentiment_probabilities.
  serving_tf_example  serialized tf.Example (raw features) for the Evaluator and batch
                      inference; same outputs.
  transform_features  serialized tf.Example -> transformed features, for TFMA.
"""

import keras
import tensorflow as tf
import tensorflow_transform as tft

import schemas
from models import features

SERVING_DEFAULT = "serving_default"
SERVING_TF_EXAMPLE = "serving_tf_example"
TRANSFORM_FEATURES = "transform_features"

# Output names of the serving signatures (the REST response fields).
INTENT_OUTPUT = "intent"
INTENT_PROBABILITIES_OUTPUT = "intent_probabilities"
CONFIDENCE_OUTPUT = "confidence"
OUT_OF_SCOPE_OUTPUT = "out_of_scope"
SENTIMENT_OUTPUT = "sentiment"
SENTIMENT_PROBABILITIES_OUTPUT = "sentiment_probabilities"


def _optional_bytes(values: tf.Tensor) -> tf.SparseTensor:
    """[batch] strings, "" meaning absent -> the [batch, 1] sparse form of the raw spec."""
    present = tf.strings.length(values) > 0
    rows = tf.where(present)
    indices = tf.concat([rows, tf.zeros_like(rows)], axis=1)
    batch = tf.shape(values, out_type=tf.int64)[0]
    return tf.SparseTensor(indices, tf.gather_nd(values, rows), tf.stack([batch, 1]))


def raw_features_from_request(inputs: dict) -> dict:
    """The raw features the Transform graph reads, from the REST inputs
    (`features.SERVING_INPUT_KEYS` -> [batch] strings).

    Presence is derived in the graph from the content itself, so the has_* flags are not
    needed; outputs that depend on raw features not fed here (labels, ids) are dropped.
    The transcript is what `models.speech_recognition` hears in the audio, and the image
    text what `models.image_text_recognition` reads in the picture: the caller runs them
    (the stock TF Serving binary cannot); "" leaves the model the audio or picture alone.
    """
    return {key: _optional_bytes(inputs[key]) for key in features.SERVING_INPUT_KEYS}


def intent_answer(intent_probabilities, out_of_scope_index: int, threshold):
    """[batch, intents] probabilities -> (answered intent index, confidence, out_of_scope).

    The confidence is the probability of the best in-scope intent. A turn is out of scope
    when that confidence is below the threshold (calibrated on the eval split:
    models/out_of_scope_calibration.py); its answer is then the out_of_scope class,
    otherwise the best in-scope intent.
    """
    oos = out_of_scope_index
    in_scope = tf.concat(
        [intent_probabilities[:, :oos], intent_probabilities[:, oos + 1 :]], axis=-1
    )
    best = tf.argmax(in_scope, axis=-1)
    confidence = tf.reduce_max(in_scope, axis=-1)
    out_of_scope = confidence < threshold
    best_intent = tf.where(best >= oos, best + 1, best)
    intent_index = tf.where(out_of_scope, tf.constant(oos, tf.int64), best_intent)
    return intent_index, confidence, out_of_scope


class ServingModule(tf.Module):
    """Holds the Keras 3 model and the Transform layer; exports the three signatures."""

    def __init__(
        self,
        model: keras.Model,
        tf_transform_output: tft.TFTransformOutput,
        out_of_scope_threshold: float,
    ):
        super().__init__()
        self.model = model
        self.tft_layer = tf_transform_output.transform_features_layer()
        # Labels are optional features: parsing works for unlabelled examples too.
        self._raw_spec = tf_transform_output.raw_feature_spec()
        self._model_inputs = sorted(model.input)
        self.out_of_scope_threshold = tf.Variable(out_of_scope_threshold, trainable=False)
        self.intent_names = tf.constant(schemas.intent_labels())
        self.sentiment_names = tf.constant(schemas.sentiment_labels())
        self.out_of_scope_index = schemas.intent_labels().index(features.OUT_OF_SCOPE_INTENT)

    def _answer(self, transformed: dict) -> dict:
        inputs = {key: transformed[key] for key in self._model_inputs}
        outputs = self.model(inputs, training=False)
        intent_probabilities = tf.nn.softmax(outputs["intent"], axis=-1)
        sentiment_probabilities = tf.nn.softmax(outputs["sentiment"], axis=-1)
        intent_index, confidence, out_of_scope = intent_answer(
            intent_probabilities, self.out_of_scope_index, self.out_of_scope_threshold
        )
        return {
            INTENT_OUTPUT: tf.gather(self.intent_names, intent_index),
            INTENT_PROBABILITIES_OUTPUT: intent_probabilities,
            CONFIDENCE_OUTPUT: confidence,
            OUT_OF_SCOPE_OUTPUT: out_of_scope,
            SENTIMENT_OUTPUT: tf.gather(
                self.sentiment_names, tf.argmax(sentiment_probabilities, axis=-1)
            ),
            SENTIMENT_PROBABILITIES_OUTPUT: sentiment_probabilities,
        }

    @tf.function(
        input_signature=[
            tf.TensorSpec([None], tf.string, name=features.TEXT_KEY),
            tf.TensorSpec([None], tf.string, name=features.IMAGE_KEY),
            tf.TensorSpec([None], tf.string, name=features.AUDIO_KEY),
            tf.TensorSpec([None], tf.string, name=features.TRANSCRIPT_KEY),
            tf.TensorSpec([None], tf.string, name=features.IMAGE_TEXT_KEY),
        ]
    )
    def serve_raw(self, text, image, audio, transcript, image_text):
        inputs = dict(
            zip(
                features.SERVING_INPUT_KEYS,
                (text, image, audio, transcript, image_text),
                strict=True,
            )
        )
        return self._answer(self.tft_layer(raw_features_from_request(inputs)))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve_tf_example(self, examples):
        raw = tf.io.parse_example(examples, self._raw_spec)
        return self._answer(self.tft_layer(raw))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def transform_features(self, examples):
        raw = tf.io.parse_example(examples, self._raw_spec)
        return self.tft_layer(raw)

    def signatures(self) -> dict:
        """The concrete functions to pass to tf.saved_model.save."""
        return {
            SERVING_DEFAULT: self.serve_raw.get_concrete_function(),
            SERVING_TF_EXAMPLE: self.serve_tf_example.get_concrete_function(),
            TRANSFORM_FEATURES: self.transform_features.get_concrete_function(),
        }
