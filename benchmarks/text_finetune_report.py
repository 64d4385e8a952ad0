"""Report of the text fine-tuning recipes (benchmarks/text_finetune.py) against the
published BANKING77 reference and the pipeline's own models.

Reads one or more runs files (each from one machine and backend), the bundle's test
labels, and optionally `banking77_text.json` (the pipeline's pushed models on the same
1,540 queries). Writes `text_finetune.json` and `text_finetune.md`:

- per run: rows trained on, trainable parameters, final validation accuracy, test
  accuracy with its 95 % Wilson interval, whether it beats the reference, throughput;
- per recipe over its seeds (a recipe named `X-seedN` is recipe X with seed N): mean,
  lowest and highest test accuracy;
- which recipe the validation split picks among those trained on the same rows, and its
  test figure (the honest single number: the test split chose nothing);
- against the Trainer's recipe (seed 0): the exact McNemar test per run;
- a recipe run again on the same device counts once, and the report says how many
  queries the repeat answered differently;
- each run with weight averaging or label smoothing against its twin without it (same
  recipe, seed and device): queries only one of them gets right, the exact McNemar test,
  and over the pairs the mean difference and how many the run with the setting leads;
- each seed ensemble against its own members (the exact McNemar test per member), the
  ensembles' mean gain over their members' mean, and how many beat every member; a
  member that repeats a single run of the same recipe and seed says how many queries
  it answered differently.

  python -m benchmarks.text_finetune_report --bundle DIR --runs RUNS.json [RUNS.json ...] \
      [--pipeline benchmarks/results/banking77_text.json] --out benchmarks/results \
      [--stem text_finetune]
"""

import argparse
import datetime
import json
import re
from pathlib import Path

import numpy as np

from benchmarks.banking77_text import REFERENCE_NAME, mcnemar, needed_to_beat, wilson_interval
from benchmarks.model_quality import REFERENCE_ACCURACY
from benchmarks.text_finetune import BUNDLE_DATA_FILE, BUNDLE_MANIFEST_FILE

BASELINE_RECIPE = "trainer-default"
_SEED_SUFFIX = re.compile(r"-seed\d+$")


def recipe_group(name: str) -> str:
    """The recipe a run belongs to: its name without a `-seedN` suffix."""
    return _SEED_SUFFIX.sub("", name)


def summarize_run(run: dict, environment: dict, labels: np.ndarray, reference: float) -> dict:
    predicted = np.asarray(run["test_predictions"])
    right = predicted == labels
    correct = int(right.sum())
    low, high = wilson_interval(correct, len(labels))
    recipe = run["recipe"]
    return {
        "name": recipe["name"],
        "group": recipe_group(recipe["name"]),
        "recipe": recipe,
        "device": environment["device"],
        "backend": environment["backend"],
        "train_rows": run["train_rows"],
        "trainable_parameters": run["trainable_parameters"],
        "validation_accuracy": run["validation_accuracy"],
        "test_correct": correct,
        "test_accuracy": correct / len(labels),
        "test_accuracy_95ci": [low, high],
        "beats_reference": correct / len(labels) > reference,
        "train_examples_per_second": run["train_examples_per_second"],
        "first_epoch_seconds": run["first_epoch_seconds"],
        "seconds": run["seconds"],
        "_right": right,
        "_predicted": predicted,
        "_members": [
            {
                "seed": member["recipe"]["seed"],
                "recipe": member["recipe"],
                "_predicted": np.asarray(member["test_predictions"]),
                "_right": np.asarray(member["test_predictions"]) == labels,
            }
            for member in run.get("members", [])
        ],
    }


def group_summaries(runs: list[dict]) -> list[dict]:
    """Per recipe (seeds pooled) on one device: mean, lowest and highest test accuracy."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for run in runs:
        groups.setdefault((run["group"], run["device"]), []).append(run)
    summaries = []
    for (group, device), members in groups.items():
        accuracies = [m["test_accuracy"] for m in members]
        validations = [m["validation_accuracy"] for m in members]
        summaries.append(
            {
                "recipe": group,
                "device": device,
                "seeds": sorted(m["recipe"]["seed"] for m in members),
                "train_rows": members[0]["train_rows"],
                "test_accuracy_mean": float(np.mean(accuracies)),
                "test_accuracy_min": min(accuracies),
                "test_accuracy_max": max(accuracies),
                "seeds_beating_reference": sum(m["beats_reference"] for m in members),
                "validation_accuracy_mean": (
                    float(np.mean(validations)) if None not in validations else None
                ),
            }
        )
    return summaries


def validation_choice(runs: list[dict]) -> dict | None:
    """The seed-0 run with the best final validation accuracy among those trained on the
    most common training rows (the recipes the validation split can compare)."""
    candidates = [
        r for r in runs if r["validation_accuracy"] is not None and r["recipe"]["seed"] == 0
    ]
    if not candidates:
        return None
    rows = max(
        {r["train_rows"] for r in candidates}, key=[r["train_rows"] for r in candidates].count
    )
    same = [r for r in candidates if r["train_rows"] == rows]
    best = max(same, key=lambda r: r["validation_accuracy"])
    return {
        "name": best["name"],
        "among": [r["name"] for r in same],
        "validation_accuracy": best["validation_accuracy"],
        "test_accuracy": best["test_accuracy"],
        "test_correct": best["test_correct"],
    }


def build_report(bundle: Path, runs_files: list[Path], pipeline_file: Path | None) -> dict:
    with np.load(bundle / BUNDLE_DATA_FILE) as data:
        labels = data["test_labels"]
    reference = REFERENCE_ACCURACY[REFERENCE_NAME]
    runs, environments = [], []
    for path in runs_files:
        content = json.loads(path.read_text())
        environments.append({"file": path.name, **content["environment"]})
        runs += [
            summarize_run(r, content["environment"], labels, reference) for r in content["runs"]
        ]
    runs, repeats = without_repeats(runs)
    baseline = next(
        (r for r in runs if r["name"] == BASELINE_RECIPE and r["device"] == runs[0]["device"]),
        None,
    )
    for run in runs:
        if baseline is not None and run is not baseline:
            run["against_" + BASELINE_RECIPE] = mcnemar(baseline["_right"], run["_right"])
    pipeline = {}
    if pipeline_file is not None and pipeline_file.is_file():
        models = json.loads(pipeline_file.read_text())["models"]
        pipeline = {
            name: {"correct": m["correct"], "accuracy": m["accuracy"], "model_dir": m["model_dir"]}
            for name, m in models.items()
        }
    return {
        "benchmark": "text_finetune",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "test_queries": len(labels),
        "reference": {"name": REFERENCE_NAME, "accuracy": reference},
        "needed_to_beat_reference": needed_to_beat(reference, len(labels)),
        "bundle": json.loads((bundle / BUNDLE_MANIFEST_FILE).read_text())["rows"],
        "environments": environments,
        "runs": [{k: v for k, v in r.items() if not k.startswith("_")} for r in runs],
        "repeats": repeats,
        "recipes": group_summaries(runs),
        **{key: setting_pairs(runs, setting) for setting, (key, _, _) in PAIRED_SETTINGS.items()},
        "seed_ensembles": ensemble_comparisons(runs),
        "validation_choice": validation_choice(
            [r for r in runs if r["device"] == runs[0]["device"]]
        ),
        "pipeline_models": pipeline,
    }


# Settings paired seed by seed: each run with the setting on against the run of the same
# recipe, seed and device with it off (runs recorded before a setting existed have it
# off). Setting -> (report key, section title, how a value is named).
PAIRED_SETTINGS = {
    "ema_momentum": ("weight_averaging", "Weight averaging", "momentum"),
    "label_smoothing": ("label_smoothing", "Label smoothing", "smoothing"),
}


# Settings a runs file may predate, and the value they had before they existed.
_SETTING_DEFAULTS = {**dict.fromkeys(PAIRED_SETTINGS, 0.0), "ensemble_size": 1}


def _recipe_key(run: dict, *ignored: str) -> tuple:
    """The device and the recipe without its name (and the `ignored` fields); settings a
    runs file predates count as off."""
    recipe = {**_SETTING_DEFAULTS, **run["recipe"]}
    for name in ("name", *ignored):
        del recipe[name]
    return (run["device"], tuple(sorted(recipe.items())))


def ensemble_comparisons(runs: list[dict]) -> dict | None:
    """Each seed ensemble against each of its members: queries only one of the two gets
    right (exact McNemar, the member first); a member whose recipe and seed were also run
    alone on the same device, against that run. Over the ensembles, the mean gain in
    points over their members' mean and how many beat every member. None without one."""
    singles = {_recipe_key(r): r for r in runs if not r["_members"]}
    ensembles = []
    for run in runs:
        if not run["_members"]:
            continue
        total = len(run["_right"])
        members = []
        for member in run["_members"]:
            correct = int(member["_right"].sum())
            single = singles.get(_recipe_key({"device": run["device"], **member}))
            members.append(
                {
                    "seed": member["seed"],
                    "correct": correct,
                    "mcnemar": mcnemar(member["_right"], run["_right"]),
                    "single_run": single["name"] if single else None,
                    "answered_differently_from_single_run": (
                        int(np.sum(single["_predicted"] != member["_predicted"]))
                        if single
                        else None
                    ),
                }
            )
        member_mean = float(np.mean([m["correct"] for m in members]))
        ensembles.append(
            {
                "name": run["name"],
                "device": run["device"],
                "correct": run["test_correct"],
                "members": members,
                "gain_points": 100 * (run["test_correct"] - member_mean) / total,
                "beats_every_member": all(run["test_correct"] > m["correct"] for m in members),
            }
        )
    if not ensembles:
        return None
    return {
        "ensembles": ensembles,
        "mean_gain_points": float(np.mean([e["gain_points"] for e in ensembles])),
        "beating_every_member": sum(e["beats_every_member"] for e in ensembles),
    }


def _ensemble_section(comparison: dict | None, total: int) -> list[str]:
    if not comparison:
        return []
    lines = [
        "",
        "## Seed ensembles, against their own members",
        "",
        "Each ensemble answers with the mean of its members' intent probabilities; McNemar "
        "counts the queries only the member or only the ensemble gets right.",
        "",
        "| ensemble | correct | member seed | member correct | only member / only ensemble, "
        "p | member as a single run (queries answered differently) |",
        "|---|---|---|---|---|---|",
    ]
    for e in comparison["ensembles"]:
        for m in e["members"]:
            n = m["mcnemar"]
            single = (
                f"{m['single_run']} ({m['answered_differently_from_single_run']})"
                if m["single_run"]
                else "-"
            )
            lines.append(
                f"| {e['name']} | {100 * e['correct'] / total:.2f} ({e['correct']}) | "
                f"{m['seed']} | {100 * m['correct'] / total:.2f} ({m['correct']}) | "
                f"{n['only_first_right']} / {n['only_this_right']}, {n['p_value']:.2f} | "
                f"{single} |"
            )
    lines += [
        "",
        f"{comparison['beating_every_member']} of {len(comparison['ensembles'])} ensembles "
        "beat every member; mean gain over the members' mean "
        f"{comparison['mean_gain_points']:+.2f} points.",
    ]
    return lines


def without_repeats(runs: list[dict]) -> tuple[list[dict], list[dict]]:
    """The runs with each recipe (name and settings) counted once per device (its first
    run), and what each repeat reproduced: a repeat adds no seed to a recipe's mean."""
    first: dict[tuple, dict] = {}
    kept, repeats = [], []
    for run in runs:
        earlier = first.setdefault((run["name"], _recipe_key(run)), run)
        if earlier is run:
            kept.append(run)
            continue
        repeats.append(
            {
                "name": run["name"],
                "device": run["device"],
                "first_correct": earlier["test_correct"],
                "repeat_correct": run["test_correct"],
                "queries_answered_differently": int(
                    np.sum(earlier["_predicted"] != run["_predicted"])
                ),
            }
        )
    return kept, repeats


def setting_pairs(runs: list[dict], setting: str) -> dict | None:
    """Each run with `setting` on against its twin with it off: queries only one of the
    two gets right (exact McNemar), and over the pairs the mean difference and how many
    the run with the setting leads. None when no run has a twin."""

    without = {_recipe_key(r, setting): r for r in runs if not r["recipe"].get(setting)}
    pairs = []
    for run in runs:
        value = run["recipe"].get(setting, 0.0)
        twin = without.get(_recipe_key(run, setting)) if value else None
        if twin is None:
            continue
        pairs.append(
            {
                "with": run["name"],
                "without": twin["name"],
                "device": run["device"],
                setting: value,
                "seed": run["recipe"]["seed"],
                "with_correct": run["test_correct"],
                "without_correct": twin["test_correct"],
                "difference_points": 100 * (run["test_accuracy"] - twin["test_accuracy"]),
                "mcnemar": mcnemar(twin["_right"], run["_right"]),
            }
        )
    if not pairs:
        return None
    return {
        "pairs": pairs,
        "mean_difference_points": float(np.mean([p["difference_points"] for p in pairs])),
        "with_ahead": sum(p["with_correct"] > p["without_correct"] for p in pairs),
    }


def _setting_section(setting: str, paired: dict | None, total: int) -> list[str]:
    if not paired:
        return []
    _, title, value_name = PAIRED_SETTINGS[setting]
    lines = [
        "",
        f"## {title}, seed by seed",
        "",
        f"Each run with {title.lower()} against the same recipe and seed without it, same "
        "device; McNemar counts the queries only one of the two gets right.",
        "",
        "| run | without it | seed | run (correct) | without (correct) | "
        "difference, points | only without / only with, p |",
        "|---|---|---|---|---|---|---|",
    ]
    for p in paired["pairs"]:
        m = p["mcnemar"]
        lines.append(
            f"| {p['with']} ({value_name} {p[setting]:g}) | {p['without']} | {p['seed']} | "
            f"{100 * p['with_correct'] / total:.2f} ({p['with_correct']}) | "
            f"{100 * p['without_correct'] / total:.2f} ({p['without_correct']}) | "
            f"{p['difference_points']:+.2f} | {m['only_first_right']} / "
            f"{m['only_this_right']}, {m['p_value']:.2f} |"
        )
    lines += [
        "",
        f"With {title.lower()} ahead in {paired['with_ahead']} of {len(paired['pairs'])} "
        f"pairs; mean difference {paired['mean_difference_points']:+.2f} points.",
    ]
    return lines


def _layers(recipe: dict) -> str:
    layers = recipe["trainable_layers"]
    return "all + embeddings" if layers is None else f"top {layers}"


def _rate(recipe: dict) -> str:
    rate = f"{recipe['learning_rate']:g}"
    if recipe["text_rate_scale"] != 1 or recipe["text_layer_decay"] != 1:
        rate += f" (backbone x{recipe['text_rate_scale']:g}, x{recipe['text_layer_decay']:g}/layer)"
    if recipe.get("ema_momentum"):
        rate += f", averaged (EMA {recipe['ema_momentum']:g})"
    if recipe.get("label_smoothing"):
        rate += f", label smoothing {recipe['label_smoothing']:g}"
    if recipe.get("ensemble_size", 1) > 1:
        rate += f", ensemble of {recipe['ensemble_size']} seeds"
    return rate


def machine_comparison(runs: list[dict]) -> list[dict]:
    """Recipes run on more than one device: each device's median training throughput and
    mean test accuracy (different machines: a comparison, not a ratio from one run)."""
    devices_of: dict[str, dict[str, list[dict]]] = {}
    for run in runs:
        devices_of.setdefault(run["group"], {}).setdefault(run["device"], []).append(run)
    rows = []
    for group, by_device in devices_of.items():
        if len(by_device) < 2:
            continue
        for device, members in by_device.items():
            rows.append(
                {
                    "recipe": group,
                    "device": device,
                    "backend": members[0]["backend"],
                    "runs": len(members),
                    "train_examples_per_second": float(
                        np.median([m["train_examples_per_second"] for m in members])
                    ),
                    "seconds": float(np.median([m["seconds"] for m in members])),
                    "test_accuracy_mean": float(np.mean([m["test_accuracy"] for m in members])),
                }
            )
    return rows


def _machines_section(runs: list[dict]) -> list[str]:
    rows = machine_comparison(runs)
    if not rows:
        return []
    lines = [
        "",
        "## Same recipe on different machines",
        "",
        "Separate machines and backends, so these are two measurements side by side, not a "
        "ratio from one run.",
        "",
        "| recipe | device | backend | runs | train examples/s (median) | run seconds "
        "(median) | test accuracy, mean |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['recipe']} | {r['device']} | {r['backend']} | {r['runs']} | "
            f"{r['train_examples_per_second']:.0f} | {r['seconds']:.0f} | "
            f"{100 * r['test_accuracy_mean']:.2f} |"
        )
    return lines


def markdown(report: dict) -> str:
    total = report["test_queries"]
    reference = report["reference"]
    rows = report["bundle"]
    lines = [
        "# Text fine-tuning recipes on BANKING77",
        "",
        f"{report['date']}. The pipeline's text path alone (`TextEncoder` over "
        "all-MiniLM-L6-v2: masked mean pooling, projection, dropout, a 77-intent softmax; "
        "AdamW, the Trainer's linear-decay schedule), trained on typed BANKING77 queries: "
        f"`train.csv` split per intent into {rows['train']} training and "
        f"{rows['validation']} validation rows; `all` recipes train on both "
        f"({rows['train'] + rows['validation']}, the published setting). Evaluated once, "
        f"after the last epoch, on all {total} rows of `test.csv`.",
        "",
        f"Reference ({reference['name']}): {100 * reference['accuracy']:.2f} %; beating it "
        f"takes {report['needed_to_beat_reference']} of {total}.",
        "",
        "Machines: "
        + "; ".join(
            f"`{e['file']}`: {e['device']}, Keras {e['keras']} on {e['backend']}, {e['cpus']} CPUs"
            for e in report["environments"]
        )
        + ".",
        "",
        "## Per recipe (seeds pooled)",
        "",
        "| recipe | device | rows trained | seeds | test accuracy, mean (lowest-highest) | "
        "seeds beating the reference | validation, mean |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in report["recipes"]:
        validation = s["validation_accuracy_mean"]
        lines.append(
            f"| {s['recipe']} | {s['device']} | {s['train_rows']} | {len(s['seeds'])} | "
            f"{100 * s['test_accuracy_mean']:.2f} ({100 * s['test_accuracy_min']:.2f}-"
            f"{100 * s['test_accuracy_max']:.2f}) | {s['seeds_beating_reference']} of "
            f"{len(s['seeds'])} | {'-' if validation is None else f'{100 * validation:.2f}'} |"
        )
    choice = report["validation_choice"]
    if choice:
        lines += [
            "",
            f"Picked by the validation split among {', '.join(choice['among'])}: "
            f"**{choice['name']}**, validation {100 * choice['validation_accuracy']:.2f} %, "
            f"test {100 * choice['test_accuracy']:.2f} % ({choice['test_correct']} of {total}).",
        ]
    lines += [
        "",
        "## Every run",
        "",
        "| run | device | layers trained | rate | batch | epochs | rows | trainable params | "
        "validation | test (correct) | 95 % interval | beats reference | "
        f"McNemar vs {BASELINE_RECIPE} (only it / only this, p) | train examples/s | "
        "first epoch s | total s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["runs"]:
        recipe = r["recipe"]
        low, high = r["test_accuracy_95ci"]
        versus = r.get("against_" + BASELINE_RECIPE)
        versus_text = (
            f"{versus['only_first_right']} / {versus['only_this_right']}, {versus['p_value']:.2f}"
            if versus
            else "-"
        )
        validation = r["validation_accuracy"]
        lines.append(
            f"| {r['name']} | {r['device']} | {_layers(recipe)} | {_rate(recipe)} | "
            f"{recipe['batch_size']} | {recipe['epochs']} | {r['train_rows']} | "
            f"{r['trainable_parameters'] / 1e6:.1f} M | "
            f"{'-' if validation is None else f'{100 * validation:.2f}'} | "
            f"{100 * r['test_accuracy']:.2f} ({r['test_correct']}) | "
            f"{100 * low:.1f}-{100 * high:.1f} | {'yes' if r['beats_reference'] else 'no'} | "
            f"{versus_text} | {r['train_examples_per_second']:.0f} | "
            f"{r['first_epoch_seconds']:.1f} | {r['seconds']:.0f} |"
        )
    for setting, (key, _, _) in PAIRED_SETTINGS.items():
        lines += _setting_section(setting, report.get(key), total)
    lines += _ensemble_section(report.get("seed_ensembles"), total)
    lines += _machines_section(report["runs"])
    if report["pipeline_models"]:
        lines += [
            "",
            "The pipeline's pushed models on the same queries (banking77_text.json), trained "
            "by the TFX Trainer on the multimodal corpus:",
            "",
            "| model | test (correct) |",
            "|---|---|",
        ]
        for name, m in report["pipeline_models"].items():
            lines.append(f"| {name} | {100 * m['accuracy']:.2f} ({m['correct']}) |")
    for r in report.get("repeats", []):
        lines += [
            "",
            f"Repeated: {r['name']} on {r['device']}, {r['first_correct']} then "
            f"{r['repeat_correct']} correct, {r['queries_answered_differently']} of {total} "
            "queries answered differently; counted once above.",
        ]
    lines += [
        "",
        "Trainable parameters count the token-embedding rows the bundle keeps (the ones "
        "these texts use); rows no text uses get no gradient either way. Examples/s is the "
        "median of the epochs after the first (which includes compilation).",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--runs", type=Path, nargs="+", required=True)
    parser.add_argument(
        "--pipeline", type=Path, default=Path("benchmarks/results/banking77_text.json")
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument(
        "--stem", default="text_finetune", help="names the report's .json and .md under --out"
    )
    args = parser.parse_args()
    report = build_report(args.bundle, args.runs, args.pipeline)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.stem}.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / f"{args.stem}.md").write_text(markdown(report))


if __name__ == "__main__":
    main()
