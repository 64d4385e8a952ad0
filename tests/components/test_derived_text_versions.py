"""LogExampleGen's execution properties name the recognizers that write the derived texts,
so that TFX does not reuse examples written by other recognizers or settings."""

import pytest

from components.log_example_gen import executor, spec
from components.log_example_gen.component import LogExampleGen
from models import derived_text_versions, image_text_recognition, speech_recognition


def test_the_component_carries_both_recognizers_versions(tmp_path):
    component = LogExampleGen(input_base=str(tmp_path))
    versions = component.exec_properties[spec.DERIVED_TEXT_KEY]
    assert versions == derived_text_versions.installed()
    assert speech_recognition.recognizer_version() in versions
    assert image_text_recognition.reader_version() in versions
    assert f"beam{speech_recognition.BEAM_SIZE}-prompt" in versions
    assert "not-installed" not in versions


def test_a_new_prompt_changes_the_execution_properties(tmp_path, monkeypatch):
    before = LogExampleGen(input_base=str(tmp_path)).exec_properties[spec.DERIVED_TEXT_KEY]
    monkeypatch.setattr(speech_recognition, "BANKING_PROMPT", "Customer of a shop:")
    after = LogExampleGen(input_base=str(tmp_path)).exec_properties[spec.DERIVED_TEXT_KEY]
    assert before != after
    monkeypatch.setattr(image_text_recognition, "CLEANING_VERSION", 99)
    assert "clean99" in derived_text_versions.installed()


def test_the_executor_refuses_other_recognizers_than_compiled_with():
    executor._check_derived_text_versions(derived_text_versions.installed())
    executor._check_derived_text_versions(None)  # compiled before the property existed
    with pytest.raises(ValueError, match="compiled with the recognizers"):
        executor._check_derived_text_versions("speech=whisper-tiny;image_text=rapidocr-0")


def test_versions_are_written_read_and_checked_against_a_model(tmp_path):
    assert derived_text_versions.read(str(tmp_path)) is None
    derived_text_versions.write(str(tmp_path / "examples"), "speech=a;image_text=b")
    assert derived_text_versions.read(str(tmp_path / "examples")) == "speech=a;image_text=b"

    model = tmp_path / "model"
    derived_text_versions.check_model(str(model))  # exported before versions were recorded
    assets = str(model / derived_text_versions.SAVED_MODEL_ASSETS)
    derived_text_versions.write(assets, derived_text_versions.installed())
    derived_text_versions.check_model(str(model))
    derived_text_versions.write(assets, "speech=whisper-base-greedy;image_text=rapidocr-0")
    with pytest.raises(ValueError, match="whisper-base-greedy"):
        derived_text_versions.check_model(str(model))
