"""`KnowledgeBase`: the support team's reply templates, one per intent, checked on load."""

import dataclasses
import os

import yaml

import schemas

DEFAULT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "knowledge_base.yaml")
# Why a conversation went to a person; each has its own message in the file.
HANDOFF_REASONS = ("customer_request", "negative_sentiment", "unclear")
_MESSAGES = ("clarify", "after_handoff", "model_unavailable")


class KnowledgeBaseError(ValueError):
    """The knowledge base file is missing, unreadable or incomplete."""


@dataclasses.dataclass(frozen=True)
class IntentEntry:
    """What the service says about one intent."""

    topic: str  # finishes "is your question about ...?"
    reply: str


@dataclasses.dataclass(frozen=True)
class KnowledgeBase:
    """Replies for every intent label plus the dialogue policy's own messages."""

    intents: dict[str, IntentEntry]
    clarify: str
    handoff: dict[str, str]
    after_handoff: str
    model_unavailable: str
    path: str = ""

    def reply(self, intent: str) -> str:
        return self.intents[intent].reply

    def clarifying_question(self, intent: str) -> str:
        """The clarifying question naming the best guess's topic."""
        return self.clarify.replace("{topic}", self.intents[intent].topic)


def _text(value, where: str, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise KnowledgeBaseError(f"{path}: {where} must be a non-empty string, got {value!r}")
    return " ".join(value.split())


def load(path: str = DEFAULT_PATH) -> KnowledgeBase:
    """Reads and checks a knowledge base file (YAML; JSON is YAML too).

    Raises:
      KnowledgeBaseError: naming the file and the entry when anything is missing or wrong.
    """
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except OSError as error:
        raise KnowledgeBaseError(f"cannot read knowledge base {path}: {error}") from error
    except yaml.YAMLError as error:
        raise KnowledgeBaseError(f"{path} is not valid YAML/JSON: {error}") from error
    if not isinstance(data, dict):
        raise KnowledgeBaseError(f"{path}: expected a mapping with 'messages' and 'intents'")
    messages = data.get("messages")
    intents = data.get("intents")
    if not isinstance(messages, dict):
        raise KnowledgeBaseError(f"{path}: 'messages' must be a mapping")
    if not isinstance(intents, dict):
        raise KnowledgeBaseError(f"{path}: 'intents' must be a mapping of intent -> entry")

    labels = schemas.intent_labels()
    missing = [label for label in labels if label not in intents]
    unknown = sorted(str(name) for name in intents if name not in labels)
    if missing or unknown:
        raise KnowledgeBaseError(
            f"{path}: the intents must be exactly the {len(labels)} labels of "
            f"schemas/raw_turn.schema.json; missing: {missing or 'none'}, "
            f"unknown: {unknown or 'none'}"
        )
    entries = {}
    for label in labels:
        entry = intents[label]
        if not isinstance(entry, dict):
            raise KnowledgeBaseError(f"{path}: intents.{label} must have 'topic' and 'reply'")
        entries[label] = IntentEntry(
            topic=_text(entry.get("topic"), f"intents.{label}.topic", path),
            reply=_text(entry.get("reply"), f"intents.{label}.reply", path),
        )

    handoff = messages.get("handoff")
    if not isinstance(handoff, dict):
        raise KnowledgeBaseError(
            f"{path}: messages.handoff must map each of {HANDOFF_REASONS} to a message"
        )
    texts = {name: _text(messages.get(name), f"messages.{name}", path) for name in _MESSAGES}
    if "{topic}" not in texts["clarify"]:
        raise KnowledgeBaseError(f"{path}: messages.clarify must contain {{topic}}")
    return KnowledgeBase(
        intents=entries,
        handoff={
            reason: _text(handoff.get(reason), f"messages.handoff.{reason}", path)
            for reason in HANDOFF_REASONS
        },
        path=path,
        **texts,
    )
