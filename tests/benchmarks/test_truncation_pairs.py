"""The truncation comparison pairs runs by recipe and splits long queries from the rest."""

import json

import numpy as np

from benchmarks import truncation_pairs

LABELS = np.array([0, 1, 2, 3, 0, 1])
LONG = np.array([True, True, False, False, False, False])


def runs_file(path, truncation, runs, sequence_length=None):
    bundle = {"intents": ["a", "b", "c", "d"]}
    if truncation is not None:
        bundle["truncation"] = truncation
    if sequence_length is not None:
        bundle["sequence_length"] = sequence_length
    report = {
        "bundle": bundle,
        "runs": [
            {"recipe": {"name": name}, "test_predictions": predictions}
            for name, predictions in runs.items()
        ],
    }
    path.write_text(json.dumps(report))
    return path


def test_each_run_is_paired_with_the_head_run_of_its_recipe(tmp_path):
    head = runs_file(
        tmp_path / "head.json",
        None,  # files before the option kept the head and do not say so
        {"r": [1, 1, 2, 3, 0, 1], "r-seed1": [0, 1, 2, 3, 0, 0]},
    )
    repeat = runs_file(tmp_path / "repeat.json", "head", {"r": [1, 1, 2, 3, 0, 0]})
    head_tail = runs_file(
        tmp_path / "tail.json",
        "head_tail",
        {"r": [0, 1, 2, 0, 0, 1], "r-seed1": [0, 1, 2, 3, 0, 1], "other": [0] * 6},
    )
    runs = truncation_pairs.load_runs([head, repeat, head_tail])

    report = truncation_pairs.compare(runs, LABELS, LONG)

    by_recipe = {pair["recipe"]: pair for pair in report["pairs"]}
    assert set(by_recipe) == {"r", "r-seed1"}  # "other" has no head run to pair with
    r = by_recipe["r"]
    # Long queries: the head got query 1 right, head+tail queries 0 and 1.
    assert (r["long"]["baseline_right"], r["long"]["right"]) == (1, 2)
    assert (r["long"]["only_first_right"], r["long"]["only_this_right"]) == (0, 1)
    # The rest: head+tail lost query 3.
    assert (r["rest"]["baseline_right"], r["rest"]["right"]) == (4, 3)
    assert (r["all"]["baseline_right"], r["all"]["right"]) == (5, 5)
    assert report["totals"]["head_tail"]["long"] == {"baseline_right": 3, "right": 4}
    assert report["totals"]["head_tail"]["all"] == {"baseline_right": 10, "right": 11}
    # The first head run is the baseline; the repeat is reported, not paired.
    assert r["baseline_file"] == "head.json"
    assert report["repeats"] == [
        {"recipe": "r", "files": ["head.json", "repeat.json"], "queries_answered_differently": 1}
    ]
    assert "| r | head_tail | 1 -> 2 of 2 |" in truncation_pairs.markdown(
        {
            **report,
            "date": "today",
            "queries": 6,
            "long_queries": 2,
            "sequence_length": 40,
            "runs_files": [],
        }
    )


def test_long_queries_are_those_past_the_sequence_less_its_markers():
    long = truncation_pairs.long_queries(["card arrived", "word " * 38, "word " * 39], 40)
    assert long.tolist() == [False, False, True]


def test_a_longer_sequence_is_paired_with_the_head_at_the_pipelines_length(tmp_path):
    head = runs_file(tmp_path / "head.json", "head", {"r": [1, 1, 2, 3, 0, 1]}, 40)
    longer = runs_file(tmp_path / "64.json", "head", {"r": [0, 1, 2, 3, 0, 1]}, 64)
    runs = truncation_pairs.load_runs([head, longer])

    report = truncation_pairs.compare(runs, LABELS, LONG)

    assert report["repeats"] == []  # same truncation, another length: not a repeat
    (pair,) = report["pairs"]
    assert (pair["truncation"], pair["file"]) == ("head, 64 tokens", "64.json")
    assert (pair["long"]["baseline_right"], pair["long"]["right"]) == (1, 2)
    assert (pair["rest"]["baseline_right"], pair["rest"]["right"]) == (4, 4)
    assert truncation_pairs.tokenization("head_tail", 40) == "head_tail"


def test_totals_are_summed_per_tokenization_never_across(tmp_path):
    head = runs_file(tmp_path / "head.json", "head", {"r": [1, 1, 2, 3, 0, 1]}, 40)
    tail = runs_file(tmp_path / "tail.json", "head_tail", {"r": [0, 1, 2, 3, 0, 1]}, 40)
    longer = runs_file(tmp_path / "64.json", "head", {"r": [1, 1, 2, 0, 0, 1]}, 64)

    report = truncation_pairs.compare(
        truncation_pairs.load_runs([head, tail, longer]), LABELS, LONG
    )

    assert report["totals"]["head_tail"]["all"] == {"baseline_right": 5, "right": 6}
    assert report["totals"]["head, 64 tokens"]["all"] == {"baseline_right": 5, "right": 4}
    header = {"date": "d", "queries": 6, "long_queries": 2, "sequence_length": 40}
    text = truncation_pairs.markdown({**report, **header, "runs_files": []})
    assert "Over the pairs of head_tail: long queries 1 -> 2" in text
    assert "Over the pairs of head, 64 tokens: long queries 1 -> 1" in text
