"""The TF Serving deployment files parse as TF Serving reads them and agree with each other:
one model name, one model path, one set of flags and ports, the benchmarked batching values."""

import re
from pathlib import Path

import pytest
import yaml
from google.protobuf import (
    descriptor_pb2,
    descriptor_pool,
    message_factory,
    text_format,
    wrappers_pb2,  # noqa: F401  (registers the wrapper types)
)
from tensorflow_serving.config import model_server_config_pb2

from serving.model_server import cli as serve_cli
from serving.model_server.batching import BatchingOptions
from serving.model_server.server import METRICS_PATH

DEPLOY = Path(__file__).resolve().parents[2] / "serving" / "deploy"
MODEL_NAME = "mmcs"
IMAGE = "tensorflow/serving:2.16.1"
GRPC_PORT, REST_PORT = 8500, 8501
CONFIG_MOUNT = "/config"


def _serving_proto_classes():
    """BatchingParameters (session_bundle_config.proto) and MonitoringConfig
    (monitoring_config.proto): the tensorflow-serving-api wheel does not ship them, so they
    are declared here with TF Serving's field names and numbers for text-format parsing."""
    pool = descriptor_pool.Default()
    name = "mmcs_tests/tf_serving_deploy_configs.proto"
    try:
        pool.FindFileByName(name)
    except KeyError:
        file = descriptor_pb2.FileDescriptorProto(
            name=name,
            package="mmcs_tests.tensorflow.serving",
            syntax="proto3",
            dependency=["google/protobuf/wrappers.proto"],
        )
        batching = file.message_type.add(name="BatchingParameters")
        for number, field in enumerate(
            ("max_batch_size", "batch_timeout_micros", "max_enqueued_batches", "num_batch_threads"),
            start=1,
        ):
            batching.field.add(
                name=field,
                number=number,
                type=descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE,
                type_name=".google.protobuf.Int64Value",
            )
        batching.field.add(
            name="thread_pool_name",
            number=5,
            type=descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE,
            type_name=".google.protobuf.StringValue",
        )
        batching.field.add(
            name="allowed_batch_sizes",
            number=6,
            type=descriptor_pb2.FieldDescriptorProto.TYPE_INT64,
            label=descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED,
        )
        batching.field.add(
            name="pad_variable_length_inputs",
            number=7,
            type=descriptor_pb2.FieldDescriptorProto.TYPE_BOOL,
        )
        prometheus = file.message_type.add(name="PrometheusConfig")
        prometheus.field.add(name="enable", number=1, type=8)  # bool
        prometheus.field.add(name="path", number=2, type=9)  # string
        monitoring = file.message_type.add(name="MonitoringConfig")
        monitoring.field.add(
            name="prometheus_config",
            number=1,
            type=descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE,
            type_name=".mmcs_tests.tensorflow.serving.PrometheusConfig",
        )
        pool.Add(file)
    factory = message_factory.MessageFactory(pool)
    return tuple(
        factory.GetPrototype(pool.FindMessageTypeByName(f"mmcs_tests.tensorflow.serving.{n}"))
        for n in ("BatchingParameters", "MonitoringConfig")
    )


def _parse(file_name: str, message):
    return text_format.Parse((DEPLOY / file_name).read_text(), message)


def _flags(args: list[str]) -> dict[str, str]:
    flags = {}
    for arg in args:
        match = re.fullmatch(r"--([a-z_]+)=(.*)", arg)
        assert match, f"{arg!r} is not --flag=value"
        flags[match.group(1)] = match.group(2)
    return flags


@pytest.fixture(scope="module")
def model_config():
    return _parse("models.config", model_server_config_pb2.ModelServerConfig())


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def kubernetes():
    documents = list(yaml.safe_load_all((DEPLOY / "kubernetes.yaml").read_text()))
    return {doc["kind"]: doc for doc in documents}


def test_model_config_serves_the_latest_version_of_mmcs(model_config):
    (config,) = model_config.model_config_list.config
    assert config.name == MODEL_NAME
    assert config.base_path == f"/models/{MODEL_NAME}"
    assert config.model_platform == "tensorflow"
    assert config.model_version_policy.WhichOneof("policy_choice") == "latest"
    assert config.model_version_policy.latest.num_versions == 1


def test_batching_parameters_are_the_benchmarked_ones():
    batching_class, _ = _serving_proto_classes()
    parameters = _parse("batching_parameters.txt", batching_class())
    chosen = BatchingOptions()
    assert parameters.max_batch_size.value == chosen.max_batch_size
    assert parameters.batch_timeout_micros.value == chosen.batch_timeout_micros
    assert parameters.num_batch_threads.value >= 1
    assert parameters.max_enqueued_batches.value >= 1


def test_monitoring_exposes_prometheus_where_the_model_server_does():
    _, monitoring_class = _serving_proto_classes()
    monitoring = _parse("monitoring.config", monitoring_class())
    assert monitoring.prometheus_config.enable
    assert monitoring.prometheus_config.path == METRICS_PATH == "/monitoring/prometheus/metrics"


def test_text_proto_parsing_rejects_unknown_fields():
    batching_class, _ = _serving_proto_classes()
    with pytest.raises(text_format.ParseError):
        text_format.Parse("max_batch_sise { value: 4 }", batching_class())


def _check_flags(flags: dict, model_config) -> None:
    (config,) = model_config.model_config_list.config
    assert flags["port"] == str(GRPC_PORT)
    assert flags["rest_api_port"] == str(REST_PORT) == str(serve_cli.DEFAULT_PORT)
    assert flags["enable_batching"] == "true"
    assert int(flags["model_config_file_poll_wait_seconds"]) > 0
    for flag, file_name in (
        ("model_config_file", "models.config"),
        ("batching_parameters_file", "batching_parameters.txt"),
        ("monitoring_config_file", "monitoring.config"),
    ):
        assert flags[flag] == f"{CONFIG_MOUNT}/{file_name}"
        assert (DEPLOY / file_name).is_file()
    assert config.base_path.startswith("/models/")


def test_docker_compose_runs_tf_serving_with_the_config_files(compose, model_config):
    (service,) = compose["services"].values()
    assert service["image"] == IMAGE
    assert service["entrypoint"] == ["tensorflow_model_server"]
    _check_flags(_flags(service["command"]), model_config)
    assert sorted(service["ports"]) == [f"{GRPC_PORT}:{GRPC_PORT}", f"{REST_PORT}:{REST_PORT}"]
    mounts = {volume["target"]: volume for volume in service["volumes"]}
    (config,) = model_config.model_config_list.config
    assert mounts[config.base_path]["read_only"]
    assert mounts[CONFIG_MOUNT]["source"] == "."  # this folder, next to the compose file


def test_kubernetes_deployment_and_service_agree(kubernetes, model_config):
    assert set(kubernetes) == {"Deployment", "Service"}
    deployment, service = kubernetes["Deployment"], kubernetes["Service"]
    pod = deployment["spec"]["template"]
    assert (
        deployment["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    )
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    (container,) = pod["spec"]["containers"]
    assert container["image"] == IMAGE
    _check_flags(_flags(container["args"]), model_config)
    assert {p["containerPort"] for p in container["ports"]} == {GRPC_PORT, REST_PORT}
    assert {p["targetPort"] for p in service["spec"]["ports"]} == {GRPC_PORT, REST_PORT}
    probe = container["readinessProbe"]["httpGet"]
    assert probe == {"path": f"/v1/models/{MODEL_NAME}", "port": REST_PORT}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    (config,) = model_config.model_config_list.config
    assert "persistentVolumeClaim" in volumes[mounts[config.base_path]]
    assert "configMap" in volumes[mounts[CONFIG_MOUNT]]
    annotations = pod["metadata"]["annotations"]
    assert annotations["prometheus.io/path"] == METRICS_PATH
    assert annotations["prometheus.io/port"] == str(REST_PORT)
