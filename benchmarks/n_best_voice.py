"""Turns with audio answered over Whisper's n-best transcripts, against the best one alone.

The pushed model is not retrained: each turn with audio in a rendered test corpus is sent
through `serving_default` once per hypothesis of the served decoding
(`SpeechRecognizer.hypotheses`: beam 5 after the banking prompt; the first hypothesis is
the transcript the quality benchmark sends), and the answers are combined four ways: the
best transcript alone; as the front ends do (`serving/n_best.combine`: the intent ranked by
the weighted mean, out of scope as the best transcript says); and the weighted and the
plain mean for everything, out of scope by a weighted vote. Per modality combination with
audio, on in-scope turns: accuracy of the best in-scope intent (the quality benchmark's
setting) and of the served answer, turns only one of two gets right against the best
transcript with the exact McNemar p-value, and out-of-scope recall at 5 % in-scope false
rejection and of the served answer among that combination's turns; and the voice-only /
text ratio against the same model's text-turn accuracy (from its quality report, or
measured on the text-only turns of the same logs).

  python -m benchmarks.n_best_voice --model runs/.../serving/mmcs/VERSION \
      --test-logs runs/.../corpus-test-full \
      [--quality-report benchmarks/results/model_quality_full_mix.json] --name full_mix
"""

import argparse
import dataclasses
import datetime
import json
import time
from pathlib import Path

import numpy as np

import schemas
from benchmarks.banking77_text import mcnemar
from benchmarks.model_quality import FALSE_REJECTION_RATE
from models import features, signatures, speech_recognition
from serving import batch_predict, n_best

_AUDIO_COMBINATIONS = ("audio", "audio+text", "image+audio+text", "image+audio+vague_text")
# one_best: the best transcript alone (what the quality benchmark sends). n_best_intent: the
# front ends' answer (serving/n_best.combine: the intent ranked over the weighted mean, the
# out-of-scope flag and score the best transcript's). n_best and n_best_uniform: the
# weighted and the plain mean for everything, the flag a weighted vote of the hypotheses'.
_VARIANTS = ("one_best", "n_best_intent", "n_best", "n_best_uniform")
_INTENTS = schemas.intent_labels()
_OUT_OF_SCOPE = _INTENTS.index(features.OUT_OF_SCOPE_INTENT)


def _variant_answers(answers: list[dict], weights: np.ndarray) -> dict:
    """Per variant: (probabilities ranking the intents, probabilities scoring out of scope,
    served intent) for one turn."""
    first = answers[0]
    first_probabilities = np.array(first[signatures.INTENT_PROBABILITIES_OUTPUT])
    front_end = n_best.combine(answers, list(weights))
    out = {
        "one_best": (first_probabilities, first_probabilities, first[signatures.INTENT_OUTPUT]),
        "n_best_intent": (
            np.array(front_end[signatures.INTENT_PROBABILITIES_OUTPUT]),
            first_probabilities,
            front_end[signatures.INTENT_OUTPUT],
        ),
    }
    flags = np.array([bool(a[signatures.OUT_OF_SCOPE_OUTPUT]) for a in answers])
    for variant, w in (
        ("n_best", weights),
        ("n_best_uniform", np.full(len(answers), 1 / len(answers))),
    ):
        mean = n_best.mean_intent_probabilities(answers, list(w))
        served = (
            features.OUT_OF_SCOPE_INTENT
            if w[flags].sum() > 0.5
            else _INTENTS[int(n_best.best_in_scope(mean))]
        )
        out[variant] = (mean, mean, served)
    return out


def answer_turns(predictor, recognizer, turns: list) -> dict:
    """Per variant, in turn order: intent-ranking and out-of-scope probabilities and the
    served answers; and the hypotheses each turn had."""
    rows, owners, weights, hypotheses_of = [], [], [], []
    started = time.perf_counter()
    for index, turn in enumerate(turns):
        found = recognizer.hypotheses(turn.values[features.AUDIO_KEY], turn.language)
        hypotheses_of.append(found)
        # As the front ends send it.
        for values, weight in batch_predict.hypothesis_rows(
            dataclasses.replace(turn, hypotheses=tuple(found))
        ):
            rows.append(dataclasses.replace(turn, values=values, hypotheses=()))
            owners.append(index)
            weights.append(weight)
    recognition_seconds = time.perf_counter() - started
    predictions = predictor.predict(rows)
    owners, weights = np.array(owners), np.array(weights)
    result = {v: {"probabilities": [], "oos_probabilities": [], "served": []} for v in _VARIANTS}
    for index in range(len(turns)):
        chosen = np.flatnonzero(owners == index)
        variants = _variant_answers([predictions[i] for i in chosen], weights[chosen])
        for variant, (ranking, scoring, served) in variants.items():
            result[variant]["probabilities"].append(ranking)
            result[variant]["oos_probabilities"].append(scoring)
            result[variant]["served"].append(served)
    return {
        "variants": result,
        "hypotheses": hypotheses_of,
        "recognition_seconds": recognition_seconds,
        "rows": len(rows),
    }


def scores(turns: list, answered: dict) -> dict:
    """Per combination with audio and variant: the figures described in the module doc."""
    truth = np.array([t.intent for t in turns])
    combination = np.array([t.modalities for t in turns])
    is_oos = truth == features.OUT_OF_SCOPE_INTENT
    right, out = {}, {}
    for variant, answers in answered["variants"].items():
        best = np.array(_INTENTS)[n_best.best_in_scope(np.array(answers["probabilities"]))]
        right[variant] = best == truth
        served_right = np.array(answers["served"]) == truth
        oos_score = 1.0 - np.delete(np.array(answers["oos_probabilities"]), _OUT_OF_SCOPE, 1).max(1)
        for name in _AUDIO_COMBINATIONS:
            chosen = combination == name
            in_scope = chosen & ~is_oos
            entry = out.setdefault(
                name,
                {"in_scope_turns": int(in_scope.sum()), "oos_turns": int((chosen & is_oos).sum())},
            )
            if not in_scope.any():
                entry[variant] = {}
                continue
            figures = {
                "in_scope_correct": int(right[variant][in_scope].sum()),
                "in_scope_accuracy": float(right[variant][in_scope].mean()),
                "in_scope_served_accuracy": float(served_right[in_scope].mean()),
            }
            if (chosen & is_oos).any():
                threshold = np.quantile(oos_score[in_scope], 1.0 - FALSE_REJECTION_RATE)
                figures["oos_recall_at_5pct_frr"] = float(
                    (oos_score[chosen & is_oos] > threshold).mean()
                )
                figures["served_oos_recall"] = float(
                    (
                        np.array(answers["served"])[chosen & is_oos] == features.OUT_OF_SCOPE_INTENT
                    ).mean()
                )
            if variant != "one_best":
                figures["against_one_best"] = mcnemar(
                    right["one_best"][in_scope], right[variant][in_scope]
                )
            entry[variant] = figures
    return out


def text_accuracy(predictor, turns: list) -> float:
    """Best in-scope intent accuracy on the labelled in-scope text-only turns."""
    chosen = [t for t in turns if t.modalities == "text" and t.intent]
    chosen = [t for t in chosen if t.intent != features.OUT_OF_SCOPE_INTENT]
    predictions = predictor.predict(chosen)
    probabilities = np.array([p[signatures.INTENT_PROBABILITIES_OUTPUT] for p in predictions])
    best = np.array(_INTENTS)[n_best.best_in_scope(probabilities)]
    return float(np.mean(best == np.array([t.intent for t in chosen])))


def decoding_cost(turns: list, clips: int) -> dict:
    """Seconds per clip of the best transcript and of the n-best, no cache, alternating
    clip by clip on the first `clips` turns (one run: the ratio is what to quote)."""
    fresh = speech_recognition.SpeechRecognizer(use_cache=False)
    fresh.transcribe(turns[0].values[features.AUDIO_KEY], turns[0].language)  # load it
    one = many = 0.0
    for turn in turns[:clips]:
        wav = turn.values[features.AUDIO_KEY]
        started = time.perf_counter()
        fresh.transcribe(wav, turn.language)
        one += time.perf_counter() - started
        started = time.perf_counter()
        fresh.hypotheses(wav, turn.language)
        many += time.perf_counter() - started
    count = min(clips, len(turns))
    return {
        "clips": count,
        "one_best_seconds": one / count,
        "n_best_seconds": many / count,
        "ratio": many / one,
    }


def run(args) -> dict:
    predictor = batch_predict.Predictor(args.model)
    turns, rejected = batch_predict.turn_inputs(str(args.test_logs))
    with_audio = [t for t in turns if t.modalities in _AUDIO_COMBINATIONS and t.intent]
    recognizer = speech_recognition.SpeechRecognizer()
    answered = answer_turns(predictor, recognizer, with_audio)
    first_is_served = sum(
        bool(h) and h[0].text == t.values[features.TRANSCRIPT_KEY].decode()
        for t, h in zip(with_audio, answered["hypotheses"], strict=True)
    )
    by_combination = scores(with_audio, answered)
    cost = decoding_cost(with_audio, args.time_clips) if args.time_clips else None
    if args.quality_report:
        quality = json.loads(Path(args.quality_report).read_text())
        text = quality["targets"]["text_in_scope_accuracy"]
        text_source = f"{args.quality_report}"
        reported_voice = quality["targets"]["voice_in_scope_accuracy"]
    else:
        text = text_accuracy(predictor, turns)
        text_source = "these test logs"
        reported_voice = None
    voice = by_combination["audio"]
    report = {
        "benchmark": "n_best_voice",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "model": predictor.version_dir,
        "name": args.name,
        "recognizer": speech_recognition.recognizer_version(),
        "n_best": speech_recognition.N_BEST,
        "test_logs": str(args.test_logs),
        "turns_with_audio": len(with_audio),
        "rejected": len(rejected),
        "rows_sent": answered["rows"],
        "mean_hypotheses": answered["rows"] / len(with_audio),
        "first_hypothesis_is_the_served_transcript": first_is_served,
        "recognition_seconds_per_turn": answered["recognition_seconds"] / len(with_audio),
        "decoding_cost": cost,
        "text_accuracy_from": text_source,
        "text_in_scope_accuracy": text,
        "quality_report_voice_in_scope_accuracy": reported_voice,
        "voice_over_text_ratio": {
            variant: voice[variant].get("in_scope_accuracy", 0.0) / text for variant in _VARIANTS
        },
        "by_combination": by_combination,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"n_best_voice_{args.name}" if args.name else "n_best_voice"
    (args.out / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / f"{stem}.md").write_text(markdown(report))
    return report


def markdown(report: dict) -> str:
    lines = [
        "# Turns with audio over Whisper's n-best transcripts",
        "",
        f"{report['date']}; model {report['model']} ({report['name']}); recognizer "
        f"{report['recognizer']}, {report['n_best']} hypotheses at most "
        f"({report['mean_hypotheses']:.2f} on average); {report['turns_with_audio']} labelled "
        f"test turns with audio from {report['test_logs']}. The first hypothesis is the "
        f"served transcript for {report['first_hypothesis_is_the_served_transcript']} of them. "
        f"Recognition {report['recognition_seconds_per_turn']:.2f} s a turn (cache as found).",
        "",
    ]
    cost = report["decoding_cost"]
    if cost:
        lines += [
            f"Decoding cost, no cache, on {cost['clips']} clips alternating: "
            f"{cost['one_best_seconds']:.2f} s a clip for the best transcript, "
            f"{cost['n_best_seconds']:.2f} s for the n-best, **{cost['ratio']:.2f}x**.",
            "",
        ]
    lines += [
        "In-scope turns: best in-scope intent right (accuracy) / served answer right; "
        "against the best transcript alone: turns only it gets right, only the n-best "
        "answer gets right, exact McNemar p; out-of-scope recall at 5 % false rejection "
        "within the combination; served out-of-scope recall (the variant's own flag).",
        "",
        "| combination | in scope | variant | accuracy | served | only 1-best / only this (p) "
        "| OOS recall @5% FRR | served OOS recall |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, entry in report["by_combination"].items():
        if not entry["in_scope_turns"]:
            continue
        for variant in _VARIANTS:
            figures = entry[variant]
            paired = figures.get("against_one_best")
            pair = (
                f"{paired['only_first_right']} / {paired['only_this_right']} "
                f"(p {paired['p_value']:.2f})"
                if paired
                else ""
            )
            oos = figures.get("oos_recall_at_5pct_frr")
            served_oos = figures.get("served_oos_recall")
            lines.append(
                f"| {name} | {entry['in_scope_turns']} | {variant} | "
                f"{figures['in_scope_correct']} ({100 * figures['in_scope_accuracy']:.1f} %) | "
                f"{100 * figures['in_scope_served_accuracy']:.1f} % | {pair} | "
                f"{'' if oos is None else f'{100 * oos:.1f} %'} | "
                f"{'' if served_oos is None else f'{100 * served_oos:.1f} %'} |"
            )
    ratio = report["voice_over_text_ratio"]
    reported = report["quality_report_voice_in_scope_accuracy"]
    lines += [
        "",
        f"Voice-only / text (in-scope text turns {100 * report['text_in_scope_accuracy']:.1f} % "
        f"from {report['text_accuracy_from']}"
        + ("" if reported is None else f"; its voice-only figure {100 * reported:.1f} %")
        + "): "
        + ", ".join(f"{variant} {value:.3f}" for variant, value in ratio.items())
        + " (target 0.85).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="pushed SavedModel or model base dir")
    parser.add_argument("--test-logs", type=Path, required=True, help="rendered test corpus")
    parser.add_argument(
        "--quality-report",
        type=Path,
        help="the model's model_quality JSON, for its text accuracy (default: measured on the "
        "text-only turns of --test-logs)",
    )
    parser.add_argument("--name", default="", help="suffix of the report's name")
    parser.add_argument(
        "--time-clips", type=int, default=30, help="clips to time both decodings on (0: none)"
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    run(parser.parse_args())


if __name__ == "__main__":
    main()
