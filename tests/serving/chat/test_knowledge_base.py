"""The shipped knowledge base is complete and loads; a bad file is a clear startup error."""

import copy
import json

import pytest
import yaml

import schemas
from serving.chat import knowledge_base
from serving.chat.knowledge_base import KnowledgeBaseError


@pytest.fixture(scope="module")
def shipped() -> dict:
    with open(knowledge_base.DEFAULT_PATH, encoding="utf-8") as f:
        return yaml.safe_load(f)


def test_the_shipped_file_has_a_reply_for_every_intent_and_out_of_scope(shipped):
    assert set(shipped["intents"]) == set(schemas.intent_labels())
    kb = knowledge_base.load()
    assert len(kb.intents) == 78
    for label in schemas.intent_labels():
        entry = kb.intents[label]
        assert len(entry.reply.split()) >= 12, f"{label}: reply too short to help"
        assert entry.topic and "{" not in entry.reply
        assert kb.clarifying_question(label).count(entry.topic) == 1
    # Replies are specific to their intent, not one template.
    assert len({entry.reply for entry in kb.intents.values()}) == 78
    assert set(kb.handoff) == set(knowledge_base.HANDOFF_REASONS)
    assert "take over" in kb.after_handoff


def _write(tmp_path, data, name="kb.yaml") -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data) if name.endswith(".yaml") else json.dumps(data))
    return str(path)


def test_a_json_file_loads_too(tmp_path, shipped):
    changed = copy.deepcopy(shipped)
    changed["intents"]["card_arrival"]["reply"] = "Your card is on its way, promise."
    kb = knowledge_base.load(_write(tmp_path, changed, "kb.json"))
    assert kb.reply("card_arrival") == "Your card is on its way, promise."


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["intents"].pop("card_arrival"), "missing: ['card_arrival']"),
        (
            lambda d: d["intents"].__setitem__("card_arival", d["intents"]["age_limit"]),
            "card_arival",
        ),
        (lambda d: d["intents"]["age_limit"].__setitem__("reply", ""), "intents.age_limit.reply"),
        (lambda d: d["intents"].__setitem__("age_limit", "just text"), "intents.age_limit"),
        (lambda d: d["messages"]["handoff"].pop("unclear"), "messages.handoff.unclear"),
        (lambda d: d["messages"].__setitem__("clarify", "What do you mean?"), "{topic}"),
        (lambda d: d.pop("messages"), "'messages'"),
    ],
)
def test_a_bad_file_names_what_is_wrong(tmp_path, shipped, mutate, expected):
    data = copy.deepcopy(shipped)
    mutate(data)
    with pytest.raises(KnowledgeBaseError, match=None) as caught:
        knowledge_base.load(_write(tmp_path, data))
    assert expected in str(caught.value)


def test_unreadable_files_are_knowledge_base_errors(tmp_path):
    with pytest.raises(KnowledgeBaseError, match="cannot read"):
        knowledge_base.load(str(tmp_path / "absent.yaml"))
    broken = tmp_path / "broken.yaml"
    broken.write_text("intents: [unclosed\n")
    with pytest.raises(KnowledgeBaseError, match="not valid YAML"):
        knowledge_base.load(str(broken))
