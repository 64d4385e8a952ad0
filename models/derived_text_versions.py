"""Which recognizers wrote the derived texts (transcripts, picture texts) a model learned.

The transcript of a voice clip and the text read in a picture are computed outside the
SavedModel, at ingestion and again in front of serving (docs/model.md). Both sides must
run the same recognizers with the same settings, or the model meets other texts than it
was trained on. So the versions travel with the data:

- LogExampleGen carries them as an execution property (TFX's cache key) and writes them
  next to the examples (`VERSIONS_FILE`);
- the Trainer copies that file into the SavedModel's `assets.extra/`;
- `mmcs predict`, and `mmcs chat-server --model-base`, refuse a model whose versions
  differ from the installed recognizers.
"""

import os

import tensorflow as tf

VERSIONS_FILE = "derived_text_recognizers.txt"
# Where a SavedModel keeps it (TF Serving ignores the folder but for its warm-up file).
SAVED_MODEL_ASSETS = "assets.extra"


def installed() -> str:
    """The installed speech recognizer's and OCR reader's versions and settings, e.g.
    "speech=whisper-base-1.0.0-1.0.0-int8-beam5-prompt<hash>;image_text=rapidocr-1.4.4-clean1"."""
    from models import image_text_recognition, speech_recognition

    return (
        f"speech={speech_recognition.recognizer_version()};"
        f"image_text={image_text_recognition.reader_version()}"
    )


def write(folder: str, versions: str) -> None:
    tf.io.gfile.makedirs(folder)
    with tf.io.gfile.GFile(os.path.join(folder, VERSIONS_FILE), "w") as f:
        f.write(versions + "\n")


def read(folder: str) -> str | None:
    """The versions written in `folder`, or None where none were (older artifacts)."""
    path = os.path.join(folder, VERSIONS_FILE)
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        return f.read().strip()


def check_model(saved_model_dir: str) -> None:
    """Raises ValueError when the model learned texts of other recognizers than installed.

    Models exported before the versions were recorded are accepted as they are.
    """
    trained = read(os.path.join(saved_model_dir, SAVED_MODEL_ASSETS))
    here = installed()
    if trained is not None and trained != here:
        raise ValueError(
            f"{saved_model_dir} was trained on transcripts and picture texts of {trained!r}, "
            f"but this machine's recognizers are {here!r}: its answers on voice and picture "
            "turns would be worse than measured. Install the recognizer packages the model "
            "was trained with (requirements.lock of that run), or retrain it"
        )
