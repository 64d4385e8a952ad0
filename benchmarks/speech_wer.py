"""Speech recognition word error rate per decoding setting, on voice clips of the rendered
corpora. What each voice turn says is known from the corpus plan (`spoken_text`).

The settings are compared on the training corpus's clips (eSpeak voices: where a setting
is chosen) and on the test corpus's (held-out Piper voices: what the quality benchmark
meets). Every clip goes through `SpeechRecognizer.transcribe`, the code ingestion and the
serving front ends run, with the cache off, on the bytes ingestion normalizes:

  python -m benchmarks.speech_wer --shared-data ../shared/data --out benchmarks/results
"""

import argparse
import datetime
import json
import random
import re
import time
from pathlib import Path

from benchmarks.corpora import rendered_corpus
from components.log_example_gen.audio_normalization import normalize_audio
from corpus import generator
from models import features, speech_recognition

# name -> settings; the served one (speech_recognition.Decoding.served()) is marked.
DECODINGS = {
    "greedy": speech_recognition.Decoding(1, ""),
    "greedy + prompt": speech_recognition.Decoding(1, speech_recognition.BANKING_PROMPT),
    "beam 5": speech_recognition.Decoding(5, ""),
    "beam 5 + prompt": speech_recognition.Decoding(5, speech_recognition.BANKING_PROMPT),
}
SPLITS = ("train", "test")


def words(text: str) -> list[str]:
    """Lower-case words without punctuation ("top-up" is two words, "I'm" one)."""
    return re.sub(r"[^a-z0-9' ]", " ", text.lower().replace("-", " ")).split()


def edit_distance(reference: list[str], hypothesis: list[str]) -> int:
    """Word-level Levenshtein distance (substitutions, deletions, insertions)."""
    row = list(range(len(hypothesis) + 1))
    for i, ref_word in enumerate(reference, 1):
        diagonal, row[0] = row[0], i
        for j, hyp_word in enumerate(hypothesis, 1):
            diagonal, row[j] = (
                row[j],
                min(row[j] + 1, row[j - 1] + 1, diagonal + (ref_word != hyp_word)),
            )
    return row[-1]


def voice_clips(corpus: Path, manifest: dict, shared_data: Path, count: int) -> list[dict]:
    """`count` in-scope voice turns of a rendered corpus (a fixed random choice): the
    normalized WAV, the log's language and what the clip says."""
    settings = dict(manifest["config"])
    csv = shared_data / "banking77" / settings.pop("banking77_csv")
    config = generator.CorpusConfig(**settings)
    planned = {
        turn.turn_id: turn
        for turn in generator.plan_corpus(csv, shared_data, config)
        if turn.spoken_text and turn.intent and turn.intent != features.OUT_OF_SCOPE_INTENT
    }
    records = [
        json.loads(line)
        for path in sorted(corpus.glob("turns-*.jsonl"))
        for line in path.read_text().splitlines()
    ]
    chosen = [r for r in records if r[features.TURN_ID_KEY] in planned]
    random.Random(1).shuffle(chosen)
    clips = []
    for record in chosen[:count]:
        path = record[features.AUDIO_KEY]
        wav, _ = normalize_audio((corpus / path).read_bytes(), path)
        clips.append(
            {
                "wav": wav,
                "language": record.get(features.LANGUAGE_KEY),
                "said": planned[record[features.TURN_ID_KEY]].spoken_text,
            }
        )
    return clips


def word_error_rate(recognizer, clips: list[dict]) -> dict:
    errors = reference_words = 0
    start = time.perf_counter()
    for clip in clips:
        heard = recognizer.transcribe(clip["wav"], clip["language"])
        said = words(clip["said"])
        errors += edit_distance(said, words(heard))
        reference_words += len(said)
    return {
        "word_error_rate": errors / reference_words,
        "reference_words": reference_words,
        "seconds_per_clip": (time.perf_counter() - start) / len(clips),
    }


def run(args) -> dict:
    served = speech_recognition.Decoding.served()
    model = speech_recognition.SpeechRecognizer(use_cache=False).model
    results = {}
    for split in SPLITS:
        corpus, manifest = rendered_corpus(args.shared_data, args.work, split)
        clips = voice_clips(corpus, manifest, args.shared_data, args.clips)
        for name, decoding in DECODINGS.items():
            recognizer = speech_recognition.SpeechRecognizer(use_cache=False, decoding=decoding)
            recognizer._model = model  # one loaded model for every setting
            results.setdefault(name, {"served": decoding == served})[split] = {
                "clips": len(clips),
                **word_error_rate(recognizer, clips),
            }
    report = {
        "benchmark": "speech_wer",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "model": speech_recognition.recognizer_version(),
        "prompt": speech_recognition.BANKING_PROMPT,
        "decodings": results,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "speech_wer.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "speech_wer.md").write_text(_markdown(report))
    return report


def _markdown(report: dict) -> str:
    lines = [
        "# Speech recognition word error rate",
        "",
        f"{report['date']}; {report['model']} (the served settings). In-scope voice clips of "
        "the rendered corpora, through `SpeechRecognizer.transcribe` without its cache; "
        "training clips have the training (eSpeak) voices, test clips the held-out ones.",
        "",
        f'Prompt for English clips: "{report["prompt"]}"',
        "",
        "| decoding | train WER | test WER | s per clip (train / test) |",
        "|---|---:|---:|---:|",
    ]
    for name, result in report["decodings"].items():
        train, test = result["train"], result["test"]
        label = f"**{name}** (served)" if result["served"] else name
        lines.append(
            f"| {label} | {100 * train['word_error_rate']:.1f} % "
            f"| {100 * test['word_error_rate']:.1f} % "
            f"| {train['seconds_per_clip']:.2f} / {test['seconds_per_clip']:.2f} |"
        )
    train, test = (next(iter(report["decodings"].values()))[s] for s in SPLITS)
    lines += [
        "",
        f"{train['clips']} training clips ({train['reference_words']} words), {test['clips']} "
        f"test clips ({test['reference_words']} words).",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared-data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--work", type=Path, default=Path("runs/bench"))
    parser.add_argument("--clips", type=int, default=60, help="clips per corpus")
    print(_markdown(run(parser.parse_args())))


if __name__ == "__main__":
    main()
