"""Text recognition (OCR): the words in a picture, the same at ingestion and serving.

Customers send screenshots of app screens, error dialogs, notifications, receipts and
statements. What such a picture is about is mostly written in it ("Top-up failed",
"Beneficiary not allowed"), and a 224x224 image encoder cannot read it. The picture's
text is therefore read by OCR and given to the model as a text modality of its own
(`features.IMAGE_TEXT_KEY`), read by the same pretrained text encoder as typed text.

The OCR models are PaddleOCR's PP-OCRv4 detection and recognition networks (Chinese and
English, Apache-2.0) as shipped inside the `rapidocr-onnxruntime` PyPI package, run by
onnxruntime on the CPU: no download at run time. Ingestion (components/log_example_gen)
writes the text of every picture; whatever calls `serving_default` in front of the model
(`mmcs predict`, the chat service) runs the same `ImageTextReader` on the same normalized
image bytes and sends the result as the `image_text` input. OCR cannot run inside the
SavedModel: TF Serving's stock binary has no onnxruntime (ENVIRONMENT.md).

The recognizer output is cleaned deterministically: boxes of digits and punctuation
(times, amounts, card and terminal numbers) are dropped, words the recognizer ran
together ("Cardpayment declined") are split with the text encoder's own vocabulary, and
the result is cut to MAX_IMAGE_TEXT_CHARS.
"""

import functools
import importlib.metadata
import re
import threading

from models.derived_text_cache import IMAGE_TEXTS_FOLDER, DerivedTextCache, cache_root

PACKAGE = "rapidocr-onnxruntime"
# Texts longer than this are cut (the text encoder reads TEXT_SEQUENCE_LENGTH tokens).
MAX_IMAGE_TEXT_CHARS = 400
# A box is kept when it has this many letters and they are this share of its characters.
MIN_LETTERS = 2
MIN_LETTER_SHARE = 0.4
# Alphabetic runs at least this long that are not a vocabulary word are split into words.
MIN_SPLIT_LENGTH = 6
# ... into words of this many letters on average, at least.
MIN_LETTERS_PER_WORD = 4
COMMON_WORD_ID = 20_000
SHORT_WORDS = frozenset(
    ("a", "i", "an", "at", "to", "of", "in", "on", "up", "my", "by", "is", "it", "no")
    + ("we", "me", "or", "as", "be", "do", "go", "so", "us")
)
# Bump when the cleaning changes, so cached texts of the old cleaning are not reused.
CLEANING_VERSION = 1

_LOWER_UPPER = re.compile(r"(?<=[a-z])(?=[A-Z])")
_LETTER_DIGIT = re.compile(r"(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])")
_ALPHA_RUN = re.compile(r"[A-Za-z]+")


def reader_version() -> str:
    """The OCR engine and cleaning: what decides every picture's text ("rapidocr-<version>-
    clean<N>", or "rapidocr-not-installed" on a machine that only compiles pipelines)."""
    try:
        return f"rapidocr-{importlib.metadata.version(PACKAGE)}-clean{CLEANING_VERSION}"
    except importlib.metadata.PackageNotFoundError:
        return "rapidocr-not-installed"


@functools.cache
def _vocabulary_words() -> dict[str, int]:
    """Whole words (not ##pieces) of the text encoder's WordPiece vocabulary -> their id.
    Past the first couple of thousand ids (characters), BERT's word ids follow frequency."""
    from models import text_preprocessing

    with open(text_preprocessing.text_vocabulary_path(), encoding="utf-8") as f:
        words = ((line.strip(), index) for index, line in enumerate(f))
        return {w: index for w, index in words if w.isalpha() and w.isascii()}


def split_run_together(word: str, vocabulary: dict[str, int]) -> str:
    """Split an alphabetic run the recognizer glued together ("Cardpayment") into common
    vocabulary words ("Card payment").

    A run is split only into words of MIN_LETTERS_PER_WORD letters on average, each common (id below
    COMMON_WORD_ID) and of three letters or more unless it is a common short word; among
    such splits the one with the fewest, then the longest, words wins. A run that is a
    word itself, is short, or has no such split (a rarer word the vocabulary does not hold
    whole, "beneficiary") is returned unchanged: WordPiece reads it in pieces anyway.
    """
    lower = word.lower()
    if len(word) < MIN_SPLIT_LENGTH or lower in vocabulary:
        return word

    def usable(piece: str) -> bool:
        common = vocabulary.get(piece, COMMON_WORD_ID) < COMMON_WORD_ID
        return common and (len(piece) >= 3 or piece in SHORT_WORDS)

    # best[i] = (words, -sum of squared lengths, cut points) of the best split of lower[:i]
    best: list[tuple[int, int, tuple[int, ...]] | None] = [None] * (len(lower) + 1)
    best[0] = (0, 0, ())
    for end in range(1, len(lower) + 1):
        for start in range(end):
            if best[start] is None or not usable(lower[start:end]):
                continue
            count, score, cuts = best[start]
            candidate = (count + 1, score - (end - start) ** 2, (*cuts, end))
            if best[end] is None or candidate[:2] < best[end][:2]:
                best[end] = candidate
    if best[-1] is None or best[-1][0] * MIN_LETTERS_PER_WORD > len(lower):
        return word
    cuts = (0, *best[-1][2])
    return " ".join(word[a:b] for a, b in zip(cuts, cuts[1:], strict=False))


def clean_line(text: str, vocabulary: dict[str, int]) -> str:
    """One recognized box -> its words, or "" when it is not mostly letters."""
    text = " ".join(text.split())
    letters = sum(c.isalpha() for c in text)
    characters = sum(not c.isspace() for c in text)
    if letters < MIN_LETTERS or letters < MIN_LETTER_SHARE * characters:
        return ""
    text = _LETTER_DIGIT.sub(" ", _LOWER_UPPER.sub(" ", text))
    text = _ALPHA_RUN.sub(lambda m: split_run_together(m.group(0), vocabulary), text)
    return " ".join(text.split())


# RapidOCR's exception (two classes of this name, in its detector and its image utilities)
# for a picture whose resize for the detector leaves a side of 0 pixels.
_RESIZE_ERROR = "ResizeImgError"


class ImageTextReader:
    """PP-OCRv4 on the CPU; `read` is thread-safe and deterministic.

    Texts are kept on disk by image content (`cache_root()/image_texts`), so re-ingesting
    the same attachments costs nothing. The OCR networks are loaded on the first picture
    not in that cache.

    Args:
        cpu_threads: onnxruntime intra-op threads of one recognition.
        use_cache: read and write the text cache.
    """

    def __init__(self, cpu_threads: int = 2, use_cache: bool = True):
        self._cpu_threads = cpu_threads
        self._engine = None
        self._load_lock = threading.Lock()
        self._lock = threading.Lock()
        self._cache = (
            DerivedTextCache(cache_root() / IMAGE_TEXTS_FOLDER / reader_version())
            if use_cache
            else None
        )

    @property
    def engine(self):
        """The `rapidocr_onnxruntime.RapidOCR` engine, loaded on first use."""
        with self._load_lock:
            if self._engine is None:
                from rapidocr_onnxruntime import RapidOCR

                self._engine = RapidOCR(
                    intra_op_num_threads=self._cpu_threads, inter_op_num_threads=1
                )
            return self._engine

    def read(self, image_bytes: bytes) -> str:
        """Return the words written in a PNG or JPEG picture ("" when there are none).

        Args:
            image_bytes: the picture as ingestion normalizes it (`features.IMAGE_KEY`).

        Raises:
            ValueError: the bytes are not a picture OpenCV can decode.
        """
        if self._cache is not None:
            cached = self._cache.get(image_bytes, "text")
            if cached is not None:
                return cached
        with self._lock:
            try:
                boxes, _ = self.engine(image_bytes, use_cls=False)
            except Exception as error:  # RapidOCR raises its own LoadImageError and cv2 errors
                if type(error).__name__ != _RESIZE_ERROR:
                    raise ValueError(f"not a picture OCR can read: {error}") from error
                # A valid picture too thin for the text detector's resize (8 x 2048 pixels,
                # say: one side rounds to 0): no words can be read in it.
                boxes = ()
        vocabulary = _vocabulary_words()
        lines = (clean_line(text, vocabulary) for _, text, _ in boxes or ())
        text = " ".join(line for line in lines if line)[:MAX_IMAGE_TEXT_CHARS].strip()
        if self._cache is not None:
            self._cache.put(image_bytes, "text", text)
        return text


@functools.cache
def shared_reader() -> ImageTextReader:
    """One reader per process (its networks take ~20 MB and a fraction of a second to load)."""
    return ImageTextReader()
