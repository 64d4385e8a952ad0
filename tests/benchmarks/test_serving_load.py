"""The serving load benchmark refuses a model that lacks inputs its request sends."""

import pytest

from benchmarks import serving_load
from models import features

REQUEST = {
    features.TEXT_KEY: b"my card has not arrived",
    features.IMAGE_KEY: b"",
    features.AUDIO_KEY: b"",
    features.TRANSCRIPT_KEY: b"",
    features.IMAGE_TEXT_KEY: b"",
}


def test_a_model_with_every_input_is_accepted():
    serving_load.check_request_inputs("base/1", set(REQUEST) | {"extra"}, REQUEST)


def test_a_model_that_predates_an_input_is_refused_with_its_name():
    accepted = set(REQUEST) - {features.IMAGE_TEXT_KEY}
    with pytest.raises(serving_load.ModelInputsError) as raised:
        serving_load.check_request_inputs("base/1795989822", accepted, REQUEST)
    message = str(raised.value)
    assert features.IMAGE_TEXT_KEY in message
    assert "base/1795989822" in message
    assert features.TRANSCRIPT_KEY not in message
