"""The TFX Trainer's entry point: train the fusion model, export the serving SavedModel.

# TFX Trainer calls run_fn.
"""

import dataclasses
import json
import logging
import os
import time

import keras
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from tfx import v1 as tfx

import schemas
from models import (
    derived_text_versions,
    features,
    layerwise_rates,
    learning_rate,
    losses,
    out_of_scope_calibration,
    served_intent,
    signatures,
    warmup,
)
from models.distribution import distribution_strategy
from models.fusion_model import PRESENCE_KEYS, build_fusion_model
from models.training_config import TrainingConfig

_LABEL_OUTPUTS = {
    features.INTENT_KEY: features.INTENT_LABEL_KEY,
    features.SENTIMENT_KEY: features.SENTIMENT_LABEL_KEY,
}
TRAINING_METRICS_FILE = "training_metrics.json"


def labels_by_output(transformed: dict, text_intent_sources: tuple[str, ...] = ()) -> dict:
    """Each model output's labels from the transformed features; the training-only text
    intent output (with `text_intent_sources`) gets, per source, the intent label where the
    turn has that source, and `features.MISSING_LABEL` (masked in its loss) where it has
    not: (batch, len(text_intent_sources))."""
    labels = {output: transformed[label] for output, label in _LABEL_OUTPUTS.items()}
    if text_intent_sources:
        intent = labels[features.INTENT_KEY]
        missing = tf.constant(features.MISSING_LABEL, intent.dtype)
        labels[features.TEXT_INTENT_AUXILIARY_KEY] = tf.stack(
            [
                tf.where(transformed[PRESENCE_KEYS[source]] > 0, intent, missing)
                for source in text_intent_sources
            ],
            axis=-1,
        )
    return labels


def transformed_dataset(
    file_patterns: list[str],
    tf_transform_output: tft.TFTransformOutput,
    model_inputs: list[str],
    batch_size: int,
    shuffle: bool,
    cache: bool,
    seed: int = 0,
    text_intent_sources: tuple[str, ...] = (),
) -> tf.data.Dataset:
    """Raw examples -> Transform graph -> (model inputs, labels per output) batches.

    With `text_intent_sources`, the labels include the training-only text intent output's
    (`labels_by_output`).
    """
    files = [f for pattern in file_patterns for f in tf.io.gfile.glob(pattern)]
    if not files:
        raise ValueError(f"no example files match {file_patterns}")
    raw_spec = tf_transform_output.raw_feature_spec()
    tft_layer = tf_transform_output.transform_features_layer()

    def split(transformed):
        inputs = {key: transformed[key] for key in model_inputs}
        return inputs, labels_by_output(transformed, text_intent_sources)

    dataset = (
        tf.data.TFRecordDataset(files, compression_type="GZIP")
        .batch(batch_size)
        .map(lambda records: tft_layer(tf.io.parse_example(records, raw_spec)))
        .map(split)
    )
    if cache:
        dataset = dataset.cache()
    if shuffle:
        # Batches are shuffled after caching: cheap, and examples still mix across epochs
        # because the raw files were written in session-hash order.
        dataset = dataset.shuffle(256, seed=seed, reshuffle_each_iteration=True)
    return dataset.prefetch(tf.data.AUTOTUNE)


class _ThroughputLog(keras.callbacks.Callback):
    """Examples per second of each training epoch (the benchmark reads them)."""

    def __init__(self, batch_size: int):
        super().__init__()
        self.batch_size = batch_size
        self.epochs: list[dict] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()
        self._steps = 0

    def on_train_batch_end(self, batch, logs=None):
        self._steps += 1

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self._start
        self.epochs.append(
            {
                "epoch": epoch,
                "seconds": seconds,
                "steps": self._steps,
                "examples_per_second_upper_bound": self._steps * self.batch_size / seconds,
                **{k: float(v) for k, v in (logs or {}).items()},
            }
        )


class TrainingInterrupted(RuntimeError):
    """Training stopped on purpose (TrainingConfig.fail_after_steps)."""


class _FailAfterSteps(keras.callbacks.Callback):
    """Raises after a number of training steps: a reproducible crash of the Trainer."""

    def __init__(self, steps: int):
        super().__init__()
        self.steps = steps
        self._done = 0

    def on_train_batch_end(self, batch, logs=None):
        self._done += 1
        if self._done >= self.steps:
            raise TrainingInterrupted(
                f"training stopped after {self._done} steps (fail_after_steps={self.steps})"
            )


def training_callbacks(config: TrainingConfig) -> list[keras.callbacks.Callback]:
    """The callbacks the settings ask for: the learning-rate schedule, evaluation on the
    averaged weights (ema_momentum; fit leaves those in the model, so validation reads
    what is exported) and the deliberate crash."""
    callbacks = list(
        learning_rate.schedule_callbacks(
            config.learning_rate_schedule, config.learning_rate, config.epochs
        )
    )
    if config.ema_momentum > 0:
        callbacks.append(keras.callbacks.SwapEMAWeights())
    if config.fail_after_steps > 0:
        callbacks.append(_FailAfterSteps(config.fail_after_steps))
    return callbacks


def train(fn_args: tfx.components.FnArgs, config: TrainingConfig) -> keras.Model:
    """Builds and fits the model under the configured distribution strategy; TensorBoard
    logs go to the Trainer's run directory. Returns the model with its served outputs
    (the training-only text intent head left out, or mixed into the intent on typed
    text: models/served_intent.py)."""
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    seed = config.model.seed or 0
    keras.utils.set_random_seed(seed)
    strategy = distribution_strategy(config.distribution)
    logging.info(
        "training under %s with %d replica(s)",
        type(strategy).__name__,
        strategy.num_replicas_in_sync,
    )
    # Variables made in the scope (the model's in build, the optimizer's in compile) are
    # the strategy's distributed variables.
    with strategy.scope():
        model = build_fusion_model(
            config.model, text_intent_sources=config.auxiliary_intent_sources
        )
        model.compile(
            optimizer=layerwise_rates.optimizer(
                model,
                learning_rate=config.learning_rate,
                weight_decay=config.weight_decay,
                text_rate_scale=config.text_learning_rate_scale,
                text_layer_decay=config.text_layer_rate_decay,
                ema_momentum=config.ema_momentum,
            ),
            loss=losses.losses_by_output(config.text_intent_head, config.label_smoothing),
            loss_weights=losses.loss_weights_by_output(config.text_intent_loss_weight),
            metrics=losses.metrics_by_output(config.text_intent_head),
        )
    model_inputs = sorted(model.input)
    train_data = transformed_dataset(
        fn_args.train_files,
        tf_transform_output,
        model_inputs,
        config.batch_size,
        shuffle=True,
        seed=seed,
        cache=config.cache_transformed,
        text_intent_sources=config.auxiliary_intent_sources,
    )
    eval_data = transformed_dataset(
        fn_args.eval_files,
        tf_transform_output,
        model_inputs,
        config.batch_size,
        shuffle=False,
        cache=config.cache_transformed,
        text_intent_sources=config.auxiliary_intent_sources,
    )
    throughput = _ThroughputLog(config.batch_size)
    callbacks = [
        keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir, update_freq="epoch"),
        throughput,
        *training_callbacks(config),
    ]
    model.fit(
        train_data,
        validation_data=eval_data,
        epochs=config.epochs,
        callbacks=callbacks,
        verbose=2,
    )
    tf.io.gfile.makedirs(fn_args.model_run_dir)
    with tf.io.gfile.GFile(os.path.join(fn_args.model_run_dir, TRAINING_METRICS_FILE), "w") as f:
        json.dump({"config": config.to_custom_config(), "epochs": throughput.epochs}, f, indent=2)
    return served_intent.served_model(
        model,
        config.auxiliary_intent_sources,
        config.text_intent_serving_weight,
        config.text_intent_serving_scope,
    )


def calibrate_out_of_scope(
    model: keras.Model, fn_args: tfx.components.FnArgs, config: TrainingConfig
) -> out_of_scope_calibration.OutOfScopeCalibration:
    """Chooses the out-of-scope threshold on the eval split (or keeps a fixed one)."""
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    eval_data = transformed_dataset(
        fn_args.eval_files,
        tf_transform_output,
        sorted(model.input),
        config.batch_size,
        shuffle=False,
        cache=False,
    )
    probabilities, labels = [], []
    for inputs, batch_labels in eval_data:
        logits = model(inputs, training=False)["intent"]
        probabilities.append(tf.nn.softmax(logits, axis=-1).numpy())
        labels.append(batch_labels["intent"].numpy().reshape(-1))
    result = out_of_scope_calibration.calibrate(
        np.concatenate(probabilities),
        np.concatenate(labels),
        schemas.intent_labels().index(features.OUT_OF_SCOPE_INTENT),
        false_rejection_rate=config.out_of_scope_false_rejection,
        fallback_threshold=config.out_of_scope_threshold,
    )
    if config.out_of_scope_fixed_threshold:
        result = dataclasses.replace(
            result, threshold=config.out_of_scope_threshold, calibrated=False
        )
    logging.info("out-of-scope threshold: %s", result)
    return result


def export_serving_model(
    model: keras.Model,
    fn_args: tfx.components.FnArgs,
    config: TrainingConfig,
    out_of_scope_threshold: float,
) -> None:
    """Saves the serving SavedModel (three signatures) and its TF Serving warm-up file."""
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    module = signatures.ServingModule(model, tf_transform_output, out_of_scope_threshold)
    tf.saved_model.save(module, fn_args.serving_model_dir, signatures=module.signatures())
    warmup.write_warmup_requests(
        fn_args.serving_model_dir, fn_args.eval_files, config.warmup_requests
    )
    _record_derived_text_versions(fn_args)
    logging.info("exported the serving model to %s", fn_args.serving_model_dir)


def _record_derived_text_versions(fn_args: tfx.components.FnArgs) -> None:
    """Copies which recognizers wrote the training examples' transcripts and picture texts
    (LogExampleGen writes them beside the splits) into the SavedModel's assets.extra, so
    the serving front ends can check they run the same (models/derived_text_versions.py)."""
    # train_files are "<examples>/Split-train/*": the examples artifact is two levels up.
    examples = os.path.dirname(os.path.dirname(fn_args.train_files[0]))
    versions = derived_text_versions.read(examples)
    if versions is None:
        logging.warning("%s records no recognizer versions; the model will not", examples)
        return
    assets = os.path.join(fn_args.serving_model_dir, derived_text_versions.SAVED_MODEL_ASSETS)
    derived_text_versions.write(assets, versions)


def _record_calibration(
    fn_args: tfx.components.FnArgs, calibration: out_of_scope_calibration.OutOfScopeCalibration
) -> None:
    """Adds the out-of-scope calibration to the run's training_metrics.json."""
    path = os.path.join(fn_args.model_run_dir, TRAINING_METRICS_FILE)
    with tf.io.gfile.GFile(path) as f:
        metrics = json.load(f)
    metrics["out_of_scope"] = calibration.as_dict()
    with tf.io.gfile.GFile(path, "w") as f:
        json.dump(metrics, f, indent=2)


# TFX Trainer calls this.
def run_fn(fn_args: tfx.components.FnArgs) -> None:
    """Trains on the transformed train split, calibrates the out-of-scope threshold on the
    eval split, and exports the serving model."""
    config = TrainingConfig.from_custom_config(fn_args.custom_config)
    model = train(fn_args, config)
    calibration = calibrate_out_of_scope(model, fn_args, config)
    _record_calibration(fn_args, calibration)
    export_serving_model(model, fn_args, config, calibration.threshold)
