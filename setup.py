"""mmcs: multimodal customer service on TFX."""

from setuptools import find_packages, setup

setup(
    name="mmcs",
    version="0.1.0",
    description="Multimodal customer-service ML system on TFX: logs to a served fusion model.",
    python_requires=">=3.10,<3.11",
    # The repository's top level (pipeline/, components/, models/, schemas/, corpus/)
    # is the package layout, as in the TFX taxi template.
    packages=find_packages(
        include=["pipeline*", "components*", "models*", "schemas*", "corpus*", "serving*"]
    ),
    package_data={
        "schemas": ["*.json", "*.pbtxt", "*.txt"],
        "corpus": ["*.json", "*.yaml"],
        "serving.chat": ["*.yaml", "static/*"],
    },
    # Exact versions live in requirements.lock (installed by `make setup`); these are the
    # direct dependencies, pinned to the TFX 1.16 set that installs on Python 3.10.
    install_requires=[
        "tfx==1.16.0",
        "tensorflow==2.16.2",
        "tensorflow-transform==1.16.0",
        "tensorflow-data-validation==1.16.1",
        "tensorflow-model-analysis==0.47.1",
        "tensorflow-text==2.16.1",
        "tensorflow-io==0.37.0",
        "apache-beam==2.74.0",
        "keras-hub==0.25.1",
        "dill==0.4.1",
        "jsonschema==4.26.0",
        "pillow==12.3.0",
        "soundfile==0.14.0",
        "scipy==1.12.0",
    ],
    entry_points={"console_scripts": ["mmcs=pipeline.cli:main"]},
)
