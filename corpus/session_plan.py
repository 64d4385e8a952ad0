"""Plans a corpus: which texts form which sessions, and each turn's modalities.

Planning is pure and deterministic for a seed; rendering the planned pictures and speech
happens afterwards (corpus/generator.py), each turn from its own seed, so turns can be
rendered in parallel and still come out identical.
"""

import dataclasses
import datetime
import random

from corpus.sources import LabelledText
from models import features

# Channel mix of sessions, and per channel how turns carry their content.
CHANNEL_WEIGHTS = {"chat": 0.45, "app": 0.30, "voice": 0.25}
# Share of banking turns with an evidence picture, per channel.
IMAGE_SHARE = {"chat": 0.30, "app": 0.45, "voice": 0.0}
# Of the turns with a picture: text replaced by a vague line, or no text at all.
VAGUE_TEXT_SHARE = 0.40
IMAGE_ONLY_SHARE = 0.10
# Voice channel: every turn is audio; a call-centre transcript comes with some of them.
VOICE_TRANSCRIPT_SHARE = 0.30
# App channel: voice notes (audio only, or with the picture and a short typed line).
APP_VOICE_NOTE_SHARE = 0.25
# Out-of-scope turns in chat or app sometimes come with an unrelated photo.
OOS_PHOTO_SHARE = 0.15
# Turns without a language field (the contract's default, en, applies).
NO_LANGUAGE_SHARE = 0.10
MAX_TURNS_PER_SESSION = 4
# The channel of a typed copy (CorpusConfig.typed_copies): the customer follows up in chat.
TYPED_COPY_CHANNEL = "chat"
# Mix of turn contents when --size is given: banking queries, sentiment remarks, OOS.
CONTENT_SHARES = {"banking": 0.78, "sentiment": 0.15, "out_of_scope": 0.07}

# Lines that point at an attachment without saying what it is about: only the picture
# (or the voice) tells the intent.
VAGUE_TEXTS = (
    "see attached",
    "see screenshot",
    "what is this?",
    "can you explain this",
    "this happened again",
    "look at this",
    "why??",
    "help please",
    "what does this mean",
    "it's showing this",
    "this one",
    "again...",
    "screenshot attached",
    "is this right?",
    "can someone look at this",
    "I got this",
    "hi, please check",
    "???",
)

_EPOCH = datetime.datetime(2026, 10, 1, tzinfo=datetime.timezone.utc)
_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


@dataclasses.dataclass(frozen=True)
class PlannedTurn:
    """One customer turn before rendering."""

    turn_id: str
    session_id: str
    turn_index: int
    timestamp: str
    channel: str
    language: str | None
    text: str | None
    intent: str | None
    sentiment: str | None
    image: str | None  # "evidence" (a picture for the intent), "photo" (unrelated), None
    spoken_text: str | None  # what the audio says, None for no audio
    speaker_index: int
    render_seed: int

    @property
    def modalities(self) -> str:
        """The modality combination, e.g. "text+image", "image+vague_text", "audio"."""
        parts = []
        if self.text is not None:
            parts.append("vague_text" if self.text in VAGUE_TEXTS else "text")
        if self.image is not None:
            parts.append("image")
        if self.spoken_text is not None:
            parts.append("audio")
        order = {"image": 0, "audio": 1, "text": 2, "vague_text": 2}
        return "+".join(sorted(parts, key=lambda p: order[p]))


def select_contents(
    banking: list[LabelledText],
    sentiment: list[LabelledText],
    out_of_scope: list[LabelledText],
    size: int | None,
    rng: random.Random,
) -> list[LabelledText]:
    """The texts of the corpus, shuffled: all banking rows, or about `size` turns."""
    if size is None:
        n_banking = len(banking)
        ratio = CONTENT_SHARES["sentiment"] / CONTENT_SHARES["banking"]
        n_sentiment = min(len(sentiment), round(n_banking * ratio))
        n_oos = len(out_of_scope)
    else:
        if size < 10:
            raise ValueError(f"--size must be at least 10 turns, got {size}")
        n_sentiment = min(len(sentiment), round(size * CONTENT_SHARES["sentiment"]))
        n_oos = min(len(out_of_scope), round(size * CONTENT_SHARES["out_of_scope"]))
        n_banking = min(len(banking), size - n_sentiment - n_oos)
    chosen = (
        rng.sample(banking, n_banking)
        + rng.sample(sentiment, n_sentiment)
        + rng.sample(out_of_scope, n_oos)
    )
    rng.shuffle(chosen)
    return chosen


def _plan_turn(
    content: LabelledText, channel: str, rng: random.Random
) -> tuple[str | None, str | None, str | None]:
    """(text, image kind, spoken text) of one turn."""
    is_banking = content.intent not in (None, features.OUT_OF_SCOPE_INTENT)
    if channel == "voice":
        transcript = content.text if rng.random() < VOICE_TRANSCRIPT_SHARE else None
        return transcript, None, content.text

    image = None
    if is_banking and rng.random() < IMAGE_SHARE[channel]:
        image = "evidence"
    elif content.intent == features.OUT_OF_SCOPE_INTENT and rng.random() < OOS_PHOTO_SHARE:
        image = "photo"

    if channel == "app" and rng.random() < APP_VOICE_NOTE_SHARE:
        # A voice note; with a picture the customer types a short line too.
        text = rng.choice(VAGUE_TEXTS) if image and rng.random() < 0.5 else None
        if image and text is None:
            text = content.text
        return text, image, content.text

    if image == "evidence":
        draw = rng.random()
        if draw < IMAGE_ONLY_SHARE:
            return None, image, None
        if draw < IMAGE_ONLY_SHARE + VAGUE_TEXT_SHARE:
            return rng.choice(VAGUE_TEXTS), image, None
    return content.text, image, None


def _typed_copies(
    session: list[PlannedTurn],
    contents: list[LabelledText],
    seed: int,
    last: datetime.datetime,
) -> list[PlannedTurn]:
    """The typed follow-ups of one session: a chat turn with the full text of every turn
    whose text the plan replaced (voice, picture, vague line), after the session's last
    turn (sent at `last`).

    They draw from their own random stream, so the session's planned turns (and their
    rendered pictures and speech) are the same with and without copies.
    """
    copies = []
    for turn, content in zip(session, contents, strict=True):
        if turn.text == content.text:
            continue
        rng = random.Random(f"{seed}:{turn.turn_id}:typed-copy")
        last += datetime.timedelta(seconds=rng.randint(15, 240))
        index = len(session) + len(copies)
        copies.append(
            dataclasses.replace(
                turn,
                turn_id=f"{turn.session_id}-{index}",
                turn_index=index,
                timestamp=last.strftime(_TIMESTAMP_FORMAT),
                channel=TYPED_COPY_CHANNEL,
                text=content.text,
                image=None,
                spoken_text=None,
                render_seed=rng.getrandbits(63),
            )
        )
    return copies


def plan_sessions(
    contents: list[LabelledText],
    split: str,
    seed: int,
    n_speakers: int,
    typed_copies: bool = False,
) -> list[PlannedTurn]:
    """Groups contents into sessions of 1-4 turns and decides every turn's modalities.

    With `typed_copies`, every content the plan does not type in full (a voice turn, a
    picture, a vague line) is also typed, as a chat follow-up in the same session: see
    `_typed_copies`. The session keeps both turns on the same side of the train/eval split.
    """
    rng = random.Random(f"{seed}:{split}:sessions")
    turns = []
    position = 0
    session_number = 0
    while position < len(contents):
        length = min(rng.randint(1, MAX_TURNS_PER_SESSION), len(contents) - position)
        channel = rng.choices(list(CHANNEL_WEIGHTS), weights=list(CHANNEL_WEIGHTS.values()))[0]
        speaker_index = rng.randrange(n_speakers)
        session_id = f"{split}-s{session_number:05d}"
        start = _EPOCH + datetime.timedelta(seconds=rng.randrange(60 * 24 * 3600))
        language = None if rng.random() < NO_LANGUAGE_SHARE else "en"
        session = []
        for index in range(length):
            content = contents[position + index]
            text, image, spoken = _plan_turn(content, channel, rng)
            start += datetime.timedelta(seconds=rng.randint(15, 240))
            session.append(
                PlannedTurn(
                    turn_id=f"{session_id}-{index}",
                    session_id=session_id,
                    turn_index=index,
                    timestamp=start.strftime(_TIMESTAMP_FORMAT),
                    channel=channel,
                    language=language,
                    text=text,
                    intent=content.intent,
                    sentiment=content.sentiment,
                    image=image,
                    spoken_text=spoken,
                    speaker_index=speaker_index,
                    render_seed=rng.getrandbits(63),
                )
            )
        turns.extend(session)
        if typed_copies:
            session_contents = contents[position : position + length]
            turns.extend(_typed_copies(session, session_contents, seed, start))
        position += length
        session_number += 1
    return turns
