"""Compiles the pipeline for Kubeflow Pipelines (KFP v2 / Vertex AI Pipelines).

Thin, like the TFX taxi template's kubeflow_v2_runner.py: resolves locations, calls the one
create_pipeline(...), and lets TFX's KubeflowV2DagRunner write the KFP v2 pipeline spec.
Every component runs in the pipeline image (the repository's Dockerfile), so paths that a
component reads at run time are paths inside that image or URIs the cluster can reach.
"""

import dataclasses
import os
import posixpath

from tfx import v1 as tfx
from tfx.dsl.components.base import executor_spec
from tfx.types import standard_component_specs
from tfx.utils import proto_utils

import schemas
from pipeline import config, kubeflow_example_validator
from pipeline.pipeline import create_pipeline, load_custom_validations

# Where the Dockerfile puts the repository's packages (its WORKDIR).
IMAGE_SOURCE_DIR = "/mmcs"
# The curated schema as ImportSchemaGen reads it inside the image.
IMAGE_SCHEMA_PATH = posixpath.join(IMAGE_SOURCE_DIR, "schemas", schemas.TFDV_SCHEMA_PATH.name)


@dataclasses.dataclass(frozen=True)
class KubeflowSettings:
    """What a compiled Kubeflow pipeline runs, where it reads and where it writes.

    Locations are URIs the cluster can read and write (gs://, s3://) or absolute paths
    inside the image (for a volume mounted into every step).
    """

    image: str
    pipeline_root: str
    log_dir: str
    serving_model_dir: str
    beam_pipeline_args: tuple[str, ...] = tuple(config.BeamConfig().pipeline_args())
    profile: str = "full"
    pipeline_name: str = config.PIPELINE_NAME


def build_pipeline(settings: KubeflowSettings) -> tfx.dsl.Pipeline:
    """The pipeline with these settings; the orchestrator supplies the metadata store."""
    profile = config.PROFILES[settings.profile]
    # Read here, at compile time: the spec carries the validations themselves.
    custom_validations_path = str(schemas.CUSTOM_VALIDATIONS_PATH)
    pipeline = create_pipeline(
        pipeline_name=settings.pipeline_name,
        pipeline_root=settings.pipeline_root,
        log_dir=settings.log_dir,
        schema_path=IMAGE_SCHEMA_PATH,
        custom_validations_path=custom_validations_path,
        serving_model_dir=settings.serving_model_dir,
        beam_pipeline_args=list(settings.beam_pipeline_args),
        training=profile.training,
        blessing=profile.blessing,
        split=profile.split,
        # KFP v2 compiles only TFX's stock resolver strategies: one span per run.
        custom_resolvers=False,
    )
    _pass_custom_validations_as_json(pipeline, custom_validations_path)
    return pipeline


def _pass_custom_validations_as_json(
    pipeline: tfx.dsl.Pipeline, custom_validations_path: str
) -> None:
    """Replaces ExampleValidator's proto placeholder, which KFP v2 cannot encode, with JSON.

    Its executor becomes kubeflow_example_validator.Executor, which parses the JSON back.
    """
    key = standard_component_specs.CUSTOM_VALIDATION_CONFIG_KEY
    for component in pipeline.components:
        if isinstance(component, tfx.components.ExampleValidator):
            if component.exec_properties.get(key) is None:
                continue
            component.exec_properties[key] = proto_utils.proto_to_json(
                load_custom_validations(custom_validations_path)
            )
            component.executor_spec = executor_spec.ExecutorClassSpec(
                kubeflow_example_validator.Executor
            )


def compile_pipeline(settings: KubeflowSettings, output_file: str) -> None:
    """Writes the KFP v2 pipeline spec (JSON, or YAML for a .yaml/.yml name) to output_file."""
    output_dir = os.path.dirname(os.path.abspath(output_file))
    os.makedirs(output_dir, exist_ok=True)
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
            default_image=settings.image
        ),
        output_dir=output_dir,
        output_filename=os.path.basename(output_file),
    )
    runner.run(build_pipeline(settings))
