"""ModelClient over TF Serving's REST API: one turn, or one turn per n-best transcript."""

import pytest

import schemas
from models import features
from models.speech_recognition import Hypothesis
from serving.chat.model_client import ModelClient, ModelUnavailable
from tests.serving.chat.fake_model import FakeModelServer, prediction


@pytest.fixture(scope="module")
def fake():
    with FakeModelServer() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh(fake):
    fake.reset()


def test_one_transcript_is_one_instance_and_the_models_answer(fake):
    fake.script["i lost my card"] = prediction("lost_or_stolen_card", 0.8)
    output = ModelClient(fake.url).predict("", None, b"RIFF", "i lost my card")
    assert output.intent == "lost_or_stolen_card"
    assert len(fake.batches[-1]) == 1
    # A single hypothesis is the same as none.
    ModelClient(fake.url).predict("", None, b"RIFF", "i lost my card", "", [Hypothesis("x", 1)])
    assert [i[features.TRANSCRIPT_KEY] for i in fake.batches[-1]] == ["i lost my card"]


def test_n_best_transcripts_are_one_request_and_a_reranked_answer(fake):
    fake.script["my transistor failed"] = prediction("card_not_working", 0.6)
    fake.script["my transfer failed"] = prediction("failed_transfer", 0.9)
    fake.script["my transfer failed."] = prediction("failed_transfer", 0.9)
    hypotheses = [
        Hypothesis("my transistor failed", 0.4),
        Hypothesis("my transfer failed", 0.35),
        Hypothesis("my transfer failed.", 0.25),
    ]
    output = ModelClient(fake.url).predict(
        "", None, b"RIFF", "my transistor failed", "", hypotheses
    )
    assert len(fake.batches) == 1
    assert [i[features.TRANSCRIPT_KEY] for i in fake.batches[-1]] == [h.text for h in hypotheses]
    # failed_transfer: 0.6 x 0.9 + 0.4 x (0.4 / 77) against card_not_working's 0.4 x 0.6 + ...
    assert output.intent == "failed_transfer"
    assert output.intent_probabilities[
        schemas.intent_labels().index("failed_transfer")
    ] == pytest.approx(0.6 * 0.9 + 0.4 * 0.4 / 77, abs=1e-5)
    assert output.confidence == 0.6  # the best transcript's
    assert not output.out_of_scope


def test_the_first_instance_carries_the_transcript_ingestion_writes(fake):
    # Where the beam's first hypothesis is not the transcript (about 1 clip in 650).
    ModelClient(fake.url).predict(
        "", None, b"RIFF", "served", "", [Hypothesis("other", 0.6), Hypothesis("third", 0.4)]
    )
    assert [i[features.TRANSCRIPT_KEY] for i in fake.batches[-1]] == ["served", "third"]


def test_fewer_answers_than_n_best_transcripts_is_unavailable(fake):
    hypotheses = [Hypothesis("a", 0.5), Hypothesis("b", 0.5)]
    fake.max_rows = 1
    with pytest.raises(ModelUnavailable, match="expected 2 predictions"):
        ModelClient(fake.url).predict("", None, b"RIFF", "a", "", hypotheses)
