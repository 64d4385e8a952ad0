"""ValidationGate's keys, output artifact type and ComponentSpec."""

from tfx import types
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter

ANOMALIES_KEY = "anomalies"
RESULT_KEY = "result"
REPORT_FILE = "anomalies_report.txt"


class DataValidationResult(types.Artifact):
    """The gate's verdict on one ExampleValidator output, with a readable report."""

    TYPE_NAME = "mmcs.DataValidationResult"


class ValidationGateSpec(types.ComponentSpec):
    """ExampleAnomalies in; a passed validation result out (or a failed execution)."""

    PARAMETERS = {}
    INPUTS = {ANOMALIES_KEY: ChannelParameter(type=standard_artifacts.ExampleAnomalies)}
    OUTPUTS = {RESULT_KEY: ChannelParameter(type=DataValidationResult)}
