"""TF Serving's REST API conventions: URL routes, the JSON request formats (row
"instances" and columnar "inputs"), the response encoding and the error statuses.

Reference: https://www.tensorflow.org/tfx/serving/api_rest. Error messages follow TF
Serving's wording where a client may match on it.
"""

import base64
import binascii
import dataclasses
import json
import re

import numpy as np
import tensorflow as tf
from google.protobuf import json_format
from tensorflow.core.protobuf import error_codes_pb2, meta_graph_pb2
from tensorflow_serving.apis import get_model_metadata_pb2, get_model_status_pb2

from serving import json_body

DEFAULT_SIGNATURE = "serving_default"
BINARY_OUTPUT_SUFFIX = "_bytes"  # TF Serving encodes these string outputs as {"b64": ...}
B64_KEY = "b64"

HTTP_OK = 200
HTTP_BAD_REQUEST = 400
HTTP_NOT_FOUND = 404
HTTP_METHOD_NOT_ALLOWED = 405
HTTP_PAYLOAD_TOO_LARGE = 413
HTTP_INTERNAL_ERROR = 500

# TF Serving's mapping of status codes to HTTP (model_servers/http_rest_api_util.cc).
_HTTP_STATUS_OF_TF_ERROR = {
    tf.errors.CANCELLED: 499,
    tf.errors.UNKNOWN: 500,
    tf.errors.INVALID_ARGUMENT: 400,
    tf.errors.DEADLINE_EXCEEDED: 504,
    tf.errors.NOT_FOUND: 404,
    tf.errors.ALREADY_EXISTS: 409,
    tf.errors.PERMISSION_DENIED: 403,
    tf.errors.RESOURCE_EXHAUSTED: 429,
    tf.errors.FAILED_PRECONDITION: 400,
    tf.errors.ABORTED: 409,
    tf.errors.OUT_OF_RANGE: 400,
    tf.errors.UNIMPLEMENTED: 501,
    tf.errors.INTERNAL: 500,
    tf.errors.UNAVAILABLE: 503,
    tf.errors.DATA_LOSS: 500,
    tf.errors.UNAUTHENTICATED: 401,
}

_VERSION = re.compile(r"[0-9]{1,18}")
_MODEL_PATH = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)"
    r"(?:/versions/(?P<version>[^/:]+)|/labels/(?P<label>[^/:]+))?"
    r"(?P<action>/metadata|:predict|:classify|:regress)?$"
)


class RestError(Exception):
    """A request that cannot be served: an HTTP status and TF Serving's error message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def http_status_of_tf_error(error: tf.errors.OpError) -> int:
    return _HTTP_STATUS_OF_TF_ERROR.get(error.error_code, HTTP_INTERNAL_ERROR)


def error_body(message: str) -> bytes:
    return json.dumps({"error": message}).encode("utf-8")


# === Routes ===


@dataclasses.dataclass(frozen=True)
class ModelRoute:
    """A /v1/models/... URL: the model, the version (None: the newest) and the action
    ("status", "metadata", "predict", "classify" or "regress")."""

    model_name: str
    version: int | None
    label: str | None
    action: str

    @property
    def method(self) -> str:
        return "GET" if self.action in ("status", "metadata") else "POST"


def parse_model_route(path: str) -> ModelRoute | None:
    """The route of a request path (query string removed), or None when it is no model URL."""
    match = _MODEL_PATH.match(path)
    if match is None:
        return None
    version = match.group("version")
    if version is not None:
        # ASCII digits only (str.isdigit also takes "²", which int() refuses), and within
        # int64, as TF Serving's versions are.
        if not _VERSION.fullmatch(version):
            raise RestError(HTTP_BAD_REQUEST, f"Invalid version number: {version[:40]}")
        version = int(version)
    action = (match.group("action") or "status").lstrip("/:")
    return ModelRoute(match.group("name"), version, match.group("label"), action)


# === Status and metadata ===


def model_status_json(statuses) -> dict:
    """GetModelStatusResponse in TF Serving's JSON form."""
    response = get_model_status_pb2.GetModelStatusResponse()
    for status in statuses:
        entry = response.model_version_status.add()
        entry.version = status.version
        entry.state = get_model_status_pb2.ModelVersionStatus.State.Value(status.state)
        entry.status.error_code = error_codes_pb2.Code.Value(status.error_code)
        entry.status.error_message = status.error_message
    return _message_json(response)


def model_metadata_json(
    model_name: str, version: int, signature_defs: dict[str, meta_graph_pb2.SignatureDef]
) -> dict:
    """GetModelMetadataResponse in TF Serving's JSON form (the signature_def metadata field
    unpacked from its Any, as TF Serving's REST handler writes it)."""
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    for name, signature_def in signature_defs.items():
        signature_map.signature_def[name].CopyFrom(signature_def)
    return {
        "model_spec": {"name": model_name, "signature_name": "", "version": str(version)},
        "metadata": {"signature_def": _message_json(signature_map)},
    }


def _message_json(message) -> dict:
    return json_format.MessageToDict(
        message, including_default_value_fields=True, preserving_proto_field_name=True
    )


# === Predict requests ===


@dataclasses.dataclass
class PredictRequest:
    signature_name: str
    inputs: dict[str, np.ndarray]
    row_format: bool  # "instances" in, "predictions" out; else "inputs" -> "outputs"


def parse_predict_body(
    body: bytes, signature_defs: dict[str, meta_graph_pb2.SignatureDef], callable_names: set
) -> PredictRequest:
    """Parses and checks a :predict body against the signature it names.

    Raises:
        RestError: 400 for malformed JSON, an unknown signature, unknown or missing inputs,
            values of the wrong type or shape, bad base64, mismatched batch sizes.
    """
    try:
        request = json_body.parse_json(body)
    except json_body.JsonBodyError as error:
        raise RestError(HTTP_BAD_REQUEST, f"JSON Parse error: {error}") from None
    if not isinstance(request, dict):
        raise RestError(HTTP_BAD_REQUEST, "JSON Value is not an object: the request body")
    signature_name = request.get("signature_name", DEFAULT_SIGNATURE)
    if not isinstance(signature_name, str):
        raise RestError(HTTP_BAD_REQUEST, "'signature_name' key must be a string")
    signature_name = signature_name or DEFAULT_SIGNATURE
    if signature_name not in signature_defs or signature_name not in callable_names:
        raise RestError(
            HTTP_BAD_REQUEST,
            f'Serving signature name: "{signature_name}" not found in signature def',
        )
    signature = signature_defs[signature_name]
    has_instances, has_inputs = "instances" in request, "inputs" in request
    if has_instances == has_inputs:
        raise RestError(
            HTTP_BAD_REQUEST,
            "Missing 'inputs' or 'instances' key"
            if not has_instances
            else "Not both 'instances' and 'inputs' keys can be specified",
        )
    if has_instances:
        inputs = _rows_to_inputs(request["instances"], signature)
    else:
        inputs = _columns_to_inputs(request["inputs"], signature)
    _check_against_signature(inputs, signature)
    return PredictRequest(signature_name, inputs, row_format=has_instances)


def _is_named_inputs(value) -> bool:
    return isinstance(value, dict) and set(value) != {B64_KEY}


def _rows_to_inputs(instances, signature) -> dict[str, np.ndarray]:
    if not isinstance(instances, list):
        raise RestError(HTTP_BAD_REQUEST, "'instances' is not of type array")
    if not instances:
        raise RestError(HTTP_BAD_REQUEST, "'instances' is an empty array")
    if not _is_named_inputs(instances[0]):
        # A plain value per instance: only for a signature with one input.
        if len(signature.inputs) != 1:
            raise RestError(
                HTTP_BAD_REQUEST,
                f"instances must be JSON objects naming the inputs "
                f"{_names(signature.inputs)} of this signature",
            )
        (key,) = signature.inputs
        instances = [{key: value} for value in instances]
    keys = set(instances[0]) if isinstance(instances[0], dict) else set()
    for index, instance in enumerate(instances):
        if not _is_named_inputs(instance):
            raise RestError(
                HTTP_BAD_REQUEST,
                f"Failed to process element: {index} of 'instances' list. "
                "JSON Value is not an object of named inputs",
            )
        for key in keys - set(instance):
            raise RestError(
                HTTP_BAD_REQUEST,
                f"Failed to process element: {index} of 'instances' list. "
                f"JSON object: does not have named input: {key}",
            )
        for key in set(instance) - keys:
            raise RestError(
                HTTP_BAD_REQUEST,
                f"Failed to process element: {index} of 'instances' list. "
                f"JSON object: has an input not in the first element: {key}",
            )
    _check_names(keys, signature)
    inputs = {}
    for key in keys:
        spec = signature.inputs[key]
        rows = [
            _to_array(instance[key], spec, f"element: {index} key: {key} of 'instances' list")
            for index, instance in enumerate(instances)
        ]
        shapes = {row.shape for row in rows}
        if len(shapes) > 1:
            raise RestError(
                HTTP_BAD_REQUEST,
                f"The shapes of input '{key}' differ between instances: {sorted(shapes)}",
            )
        inputs[key] = np.stack(rows)
    return inputs


def _columns_to_inputs(columns, signature) -> dict[str, np.ndarray]:
    if not _is_named_inputs(columns):
        if len(signature.inputs) != 1:
            raise RestError(
                HTTP_BAD_REQUEST,
                f"'inputs' must be a JSON object naming the inputs "
                f"{_names(signature.inputs)} of this signature",
            )
        (key,) = signature.inputs
        columns = {key: columns}
    _check_names(set(columns), signature)
    return {
        key: _to_array(value, signature.inputs[key], f"key: {key} of 'inputs'")
        for key, value in columns.items()
    }


def _names(keys) -> str:
    return "{" + ",".join(sorted(keys)) + "}"


def _check_names(keys: set, signature) -> None:
    expected = set(signature.inputs)
    if keys != expected:
        raise RestError(
            HTTP_BAD_REQUEST,
            f"input size does not match signature: {len(keys)}!={len(expected)} "
            f"len({_names(keys)}) != len({_names(expected)}). "
            f"Sent extra: {_names(keys - expected)}. "
            f"Missing but required: {_names(expected - keys)}.",
        )


def _shape_of(value, where: str) -> tuple:
    if not isinstance(value, list):
        return ()
    if not value:
        return (0,)
    inner = _shape_of(value[0], where)
    for item in value[1:]:
        if _shape_of(item, where) != inner:
            raise RestError(
                HTTP_BAD_REQUEST, f"Failed to process {where}. Error: the array is ragged"
            )
    return (len(value), *inner)


def _flatten(value) -> list:
    if isinstance(value, list):
        return [leaf for item in value for leaf in _flatten(item)]
    return [value]


def _json_type(value) -> str:
    return {
        bool: "Bool",
        int: "Number",
        float: "Number",
        str: "String",
        dict: "Object",
        type(None): "Null",
    }.get(type(value), type(value).__name__)


def _leaf_converter(dtype: tf.DType, where: str):
    def type_error(value):
        shown = json.dumps(value)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        return RestError(
            HTTP_BAD_REQUEST,
            f"Failed to process {where}. Error: JSON Value: {shown} Type: {_json_type(value)} "
            f"is not of expected type: {dtype.name}",
        )

    if dtype == tf.string:

        def convert(value):
            if isinstance(value, str):
                return value.encode("utf-8")
            if isinstance(value, dict) and set(value) == {B64_KEY}:
                encoded = value[B64_KEY]
                if not isinstance(encoded, str):
                    raise type_error(value)
                try:
                    padded = encoded + "=" * (-len(encoded) % 4)
                    return base64.b64decode(padded.encode("ascii"), validate=True)
                except (binascii.Error, UnicodeEncodeError, ValueError):
                    raise RestError(
                        HTTP_BAD_REQUEST,
                        f"Failed to process {where}. Error: Unable to base64 decode",
                    ) from None
            raise type_error(value)

        return convert
    if dtype == tf.bool:

        def convert(value):
            if isinstance(value, bool):
                return value
            raise type_error(value)

        return convert
    if dtype.is_integer:

        def convert(value):
            is_int = isinstance(value, int) and not isinstance(value, bool)
            if is_int and dtype.min <= value <= dtype.max:
                return value
            raise type_error(value)

        return convert
    if dtype.is_floating:

        def convert(value):
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return value
            raise type_error(value)

        return convert
    raise RestError(HTTP_BAD_REQUEST, f"Failed to process {where}. Unsupported dtype {dtype.name}")


def _to_array(value, spec: meta_graph_pb2.TensorInfo, where: str) -> np.ndarray:
    dtype = tf.as_dtype(spec.dtype)
    shape = _shape_of(value, where)
    convert = _leaf_converter(dtype, where)
    leaves = [convert(leaf) for leaf in _flatten(value)]
    if dtype == tf.string:
        array = np.empty(len(leaves), dtype=object)
        array[:] = leaves
        return array.reshape(shape)
    return np.array(leaves, dtype=dtype.as_numpy_dtype).reshape(shape)


def _check_against_signature(inputs: dict[str, np.ndarray], signature) -> None:
    batch_sizes = {}
    for key, array in inputs.items():
        shape = signature.inputs[key].tensor_shape
        if shape.unknown_rank:
            continue
        dims = [dim.size for dim in shape.dim]
        if array.ndim != len(dims) or any(
            want not in (-1, got) for want, got in zip(dims, array.shape, strict=True)
        ):
            raise RestError(
                HTTP_BAD_REQUEST,
                f"input '{key}' has shape {list(array.shape)}, the signature expects "
                f"{['None' if d == -1 else d for d in dims]}",
            )
        if dims and dims[0] == -1:
            batch_sizes[key] = array.shape[0]
    if len(set(batch_sizes.values())) > 1:
        sizes = ", ".join(f"{key}: {size}" for key, size in sorted(batch_sizes.items()))
        raise RestError(
            HTTP_BAD_REQUEST, f"Input tensors have mismatched batch sizes (0-th dimension): {sizes}"
        )


# === Predict responses ===


def predict_response(outputs: dict[str, np.ndarray], row_format: bool) -> dict:
    """The outputs as TF Serving writes them: {"predictions": [...]} for row requests,
    {"outputs": ...} for columnar ones; a single output gives plain values."""
    values = {key: _json_values(key, value) for key, value in outputs.items()}
    single = len(values) == 1
    if not row_format:
        return {"outputs": next(iter(values.values())) if single else values}
    batch_sizes = {
        key: np.shape(value)[0] if np.ndim(value) else None for key, value in outputs.items()
    }
    if len(set(batch_sizes.values())) != 1 or None in batch_sizes.values():
        raise RestError(
            HTTP_BAD_REQUEST,
            "Output tensors have inconsistent batch sizes for the row format "
            f"({batch_sizes}); use the columnar 'inputs' format",
        )
    rows = next(iter(batch_sizes.values()))
    if single:
        return {"predictions": next(iter(values.values()))}
    return {"predictions": [{key: value[i] for key, value in values.items()} for i in range(rows)]}


def _json_values(name: str, array: np.ndarray):
    array = np.asarray(array)
    if array.dtype == object or array.dtype.kind == "S":
        binary = name.endswith(BINARY_OUTPUT_SUFFIX)
        return _map_nested(array.tolist(), lambda v: _string_json(v, binary))
    if array.dtype == np.float32:
        # The shortest decimal that reads back as the same float32 (not float64 noise).
        return _map_nested(array.tolist(), lambda v: float(str(np.float32(v))))
    return array.tolist()


def _string_json(value: bytes, binary: bool):
    if not binary:
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            pass  # not text: base64 below rather than an invalid JSON string
    return {B64_KEY: base64.b64encode(value).decode("ascii")}


def _map_nested(value, function):
    if isinstance(value, list):
        return [_map_nested(item, function) for item in value]
    return function(value)
