"""`ChatService`: one customer turn end to end, without HTTP (the API in app.py calls it).

media -> model (TF Serving REST) -> dialogue policy -> SQLite -> traffic log -> reply.
"""

import base64
import dataclasses
import datetime
import logging
import threading

import schemas
from models import features
from serving.chat import conversations, dialogue_policy, media, speech_reply
from serving.chat.conversations import ConversationStore, Event, Turn
from serving.chat.dialogue_policy import PolicyConfig
from serving.chat.knowledge_base import KnowledgeBase
from serving.chat.model_client import ModelClient, ModelOutput, ModelUnavailable
from serving.chat.traffic_log import TrafficLog

MAX_TEXT_CHARS = 4000  # the raw log format's limit
DEFAULT_CHANNEL = "chat"
MODEL_UNAVAILABLE_REASON = "model_unavailable"

_log = logging.getLogger(__name__)


class RequestError(ValueError):
    """A client mistake: `status` is the HTTP code, the message says what was expected."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclasses.dataclass(frozen=True)
class CustomerMessage:
    """A customer turn as the API received it (media still as uploaded)."""

    text: str = ""
    image: bytes | None = None
    audio: bytes | None = None
    speak: bool | None = None  # None: the service's default


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class ChatService:
    """Conversations with the model behind a knowledge base and a dialogue policy.

    Args:
        store: conversations, turns and events.
        model: the TF Serving REST client.
        knowledge_base: replies per intent and the policy's messages.
        traffic_log: where every served turn is logged for the next pipeline run.
        policy: the dialogue policy's thresholds.
        speak_voice_replies: add a spoken reply (WAV) when the customer sent audio or the
            conversation is on the voice channel; a request's `speak` overrides it.
        clock: returns the current RFC 3339 UTC time (tests fix it).
        recognizer: speech recognition for voice messages (anything with
            `models.speech_recognition.SpeechRecognizer.transcribe` and `.hypotheses`);
            None loads the shared Whisper recognizer on the first voice message. The
            transcript goes to the model beside the audio, as ingestion wrote it for
            training, and the turn is answered over the n-best transcripts
            (serving/n_best.py).
        image_reader: text recognition for pictures (anything with
            `models.image_text_recognition.ImageTextReader.read`); None loads the shared
            OCR reader on the first picture. The text goes to the model beside the picture.
    """

    def __init__(
        self,
        store: ConversationStore,
        model: ModelClient,
        knowledge_base: KnowledgeBase,
        traffic_log: TrafficLog,
        policy: PolicyConfig = dialogue_policy.DEFAULT_POLICY,
        speak_voice_replies: bool = False,
        clock=_now,
        recognizer=None,
        image_reader=None,
    ):
        self.store = store
        self.model = model
        self.knowledge_base = knowledge_base
        self.traffic_log = traffic_log
        self.policy = policy
        self.speak_voice_replies = speak_voice_replies
        self.clock = clock
        self._recognizer = recognizer
        self._image_reader = image_reader
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def _lock_of(self, conversation_id: str) -> threading.Lock:
        # Turns of one conversation are served one at a time (turn_index, history).
        with self._locks_guard:
            return self._locks.setdefault(conversation_id, threading.Lock())

    # === Conversations ===

    def create_conversation(self, channel: str = DEFAULT_CHANNEL) -> dict:
        if channel not in schemas.channels():
            raise RequestError(
                f"'channel' must be one of {list(schemas.channels())}, got {channel!r}"
            )
        conversation = self.store.create(channel, self.clock())
        return {
            "conversation_id": conversation.id,
            "created_at": conversation.created_at,
            "channel": conversation.channel,
            "handoff": _handoff_json(conversation),
        }

    def conversation(self, conversation_id: str) -> dict:
        """The history: turns with replies, handoff state and events.

        Raises:
          RequestError: 404 for an unknown conversation.
        """
        conversation = self._get(conversation_id)
        return {
            "conversation_id": conversation.id,
            "created_at": conversation.created_at,
            "channel": conversation.channel,
            "handoff": _handoff_json(conversation),
            "turns": [_turn_json(t) for t in self.store.turns(conversation_id)],
            "events": [dataclasses.asdict(e) for e in self.store.events(conversation_id)],
        }

    def _get(self, conversation_id: str) -> conversations.Conversation:
        try:
            return self.store.get(conversation_id)
        except conversations.UnknownConversation:
            raise RequestError(f"no conversation {conversation_id!r}", 404) from None

    # === Turns ===

    def _speech(self, wav: bytes) -> tuple[str, list]:
        """The transcript (as ingestion writes it) and the n-best transcripts of a clip."""
        if self._recognizer is None:
            from models import speech_recognition

            self._recognizer = speech_recognition.shared_recognizer()
        transcript = self._recognizer.transcribe(wav, features.DEFAULT_LANGUAGE)
        return transcript, self._recognizer.hypotheses(wav, features.DEFAULT_LANGUAGE)

    def _image_text(self, image: bytes) -> str:
        if self._image_reader is None:
            from models import image_text_recognition

            self._image_reader = image_text_recognition.shared_reader()
        return self._image_reader.read(image)

    def message(self, conversation_id: str, message: CustomerMessage) -> dict:
        """Serves one customer turn and returns the reply.

        Raises:
          RequestError: unknown conversation (404), an empty or too long turn (400), or
            media that does not decode (400) or is too large (413).
        """
        self._get(conversation_id)
        text = message.text.strip()
        if len(text) > MAX_TEXT_CHARS:
            raise RequestError(f"'text' has {len(text)} characters; at most {MAX_TEXT_CHARS}")
        try:
            image = media.prepare_image(message.image) if message.image else None
            audio = media.prepare_audio(message.audio) if message.audio else None
        except media.MediaError as error:
            raise RequestError(str(error), error.status) from error
        if not text and image is None and audio is None:
            raise RequestError("a message needs 'text', an 'image' or 'audio'")
        transcript, hypotheses = self._speech(audio.data) if audio is not None else ("", [])
        image_text = self._image_text(image.data) if image is not None else ""

        with self._lock_of(conversation_id):
            conversation = self._get(conversation_id)
            history = self.store.turns(conversation_id)
            turn_index = self.store.next_turn_index(conversation_id)
            turn_id = f"{conversation_id}-{turn_index}"
            timestamp = self.clock()

            output, model_error = None, None
            try:
                output = self.model.predict(
                    text,
                    image.data if image else None,
                    audio.data if audio else None,
                    transcript,
                    image_text,
                    hypotheses,
                )
            except ModelUnavailable as error:
                model_error = str(error)
                _log.warning("turn %s: %s", turn_id, model_error)

            decision = dialogue_policy.decide(
                text,
                output,
                [dialogue_policy.PastTurn(t.turn_index, t.model_output, t.action) for t in history],
                conversation.handed_off,
                self.knowledge_base,
                self.policy,
            )
            events = []
            if model_error is not None:
                events.append(
                    Event(
                        conversation_id,
                        turn_id,
                        timestamp,
                        conversations.MODEL_ERROR_EVENT,
                        MODEL_UNAVAILABLE_REASON,
                        model_error,
                    )
                )
            if decision.action == dialogue_policy.HANDOFF:
                events.append(
                    Event(
                        conversation_id,
                        turn_id,
                        timestamp,
                        conversations.HANDOFF_EVENT,
                        decision.handoff_reason,
                        None,
                    )
                )

            image_path = self._save_attachment(turn_id, timestamp, image)
            audio_path = self._save_attachment(turn_id, timestamp, audio)
            turn = Turn(
                turn_id=turn_id,
                conversation_id=conversation_id,
                turn_index=turn_index,
                timestamp=timestamp,
                text=text,
                image=image_path,
                audio=audio_path,
                model_output=output,
                model_error=model_error,
                action=decision.action,
                intent=decision.intent,
                confidence=decision.confidence,
                context_turn_index=decision.context_turn_index,
                reply=decision.reply,
            )
            self.store.add_turn(turn, events)
            try:
                self.traffic_log.append(
                    turn_id=turn_id,
                    session_id=conversation_id,
                    turn_index=turn_index,
                    timestamp=timestamp,
                    channel=conversation.channel,
                    text=text,
                    image=image_path,
                    audio=audio_path,
                    service=_service_record(turn, output),
                )
            except OSError:
                # The customer still gets the reply; the turn is in the database.
                _log.exception("turn %s: could not append to the traffic log", turn_id)
            conversation = self.store.get(conversation_id)

        result = _turn_json(turn)
        result["conversation_id"] = conversation_id
        result["handoff"] = _handoff_json(conversation)
        speak = message.speak
        if speak is None:
            speak = self.speak_voice_replies and (
                audio is not None or conversation.channel == "voice"
            )
        if speak:
            wav = speech_reply.synthesize(decision.reply)
            result["reply_audio"] = (
                {"b64": base64.b64encode(wav).decode("ascii")} if wav is not None else None
            )
        return result

    def _save_attachment(
        self, turn_id: str, timestamp: str, attachment: media.Attachment | None
    ) -> str | None:
        if attachment is None:
            return None
        try:
            return self.traffic_log.save_attachment(turn_id, timestamp, attachment)
        except OSError:
            _log.exception(
                "turn %s: could not save the %s attachment", turn_id, attachment.extension
            )
            return None


def _handoff_json(conversation: conversations.Conversation) -> dict:
    return {
        "handed_off": conversation.handed_off,
        "reason": conversation.handoff_reason,
        "at": conversation.handed_off_at,
    }


def _turn_json(turn: Turn) -> dict:
    output: ModelOutput | None = turn.model_output
    return {
        "turn_id": turn.turn_id,
        "turn_index": turn.turn_index,
        "timestamp": turn.timestamp,
        "text": turn.text,
        "image": turn.image,
        "audio": turn.audio,
        "reply": turn.reply,
        "action": turn.action,
        "intent": turn.intent,
        "confidence": turn.confidence,
        "context_turn_index": turn.context_turn_index,
        "out_of_scope": output.out_of_scope if output else None,
        "sentiment": output.sentiment if output else None,
        "model_intent": output.intent if output else None,
        "model_confidence": output.confidence if output else None,
        "model_error": turn.model_error,
    }


def _service_record(turn: Turn, output: ModelOutput | None) -> dict:
    """The `chat` extra field of the log record: what the service saw and did."""
    return {
        "action": turn.action,
        "intent": turn.intent,
        "confidence": turn.confidence,
        "model_intent": output.intent if output else None,
        "model_confidence": output.confidence if output else None,
        "out_of_scope": output.out_of_scope if output else None,
        "sentiment": output.sentiment if output else None,
        "model_error": turn.model_error,
    }
