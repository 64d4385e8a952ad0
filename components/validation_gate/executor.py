"""ValidationGate's executor: reads every split's anomalies and fails on any."""

import os

import tensorflow as tf
from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils

from components.validation_gate import anomalies_report, spec

# The file name ExampleValidator writes in each split folder.
_ANOMALIES_FILE = "SchemaDiff.pb"


class DataAnomaliesError(RuntimeError):
    """The data failed validation; the message is the readable report."""


def load_anomalies(anomalies: types.Artifact) -> dict:
    """The Anomalies proto of every split of an ExampleAnomalies artifact."""
    result = {}
    for split in artifact_utils.decode_split_names(anomalies.split_names):
        split_uri = artifact_utils.get_split_uri([anomalies], split)
        with tf.io.gfile.GFile(os.path.join(split_uri, _ANOMALIES_FILE), "rb") as handle:
            result[split] = anomalies_pb2.Anomalies.FromString(handle.read())
    return result


class Executor(base_executor.BaseExecutor):
    """Writes the report; raises DataAnomaliesError when any split has anomalies."""

    def Do(
        self,
        input_dict: dict[str, list[types.Artifact]],
        output_dict: dict[str, list[types.Artifact]],
        exec_properties: dict,
    ) -> None:
        del exec_properties
        anomalies = artifact_utils.get_single_instance(input_dict[spec.ANOMALIES_KEY])
        result = artifact_utils.get_single_instance(output_dict[spec.RESULT_KEY])
        by_split = load_anomalies(anomalies)
        if not by_split:
            raise DataAnomaliesError(f"no anomalies splits in {anomalies.uri}")
        report = anomalies_report.format_anomalies(by_split)
        tf.io.gfile.makedirs(result.uri)
        with tf.io.gfile.GFile(os.path.join(result.uri, spec.REPORT_FILE), "w") as report_file:
            report_file.write(report + "\n")
        failed = sorted(s for s, a in by_split.items() if anomalies_report.has_anomalies(a))
        result.set_int_custom_property("passed", int(not failed))
        if failed:
            raise DataAnomaliesError(
                f"data validation failed for split(s) {', '.join(failed)}; "
                f"the pipeline stops before any training.\n{report}"
            )
