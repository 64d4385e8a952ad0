"""Training throughput: the TFX Trainer against the same model in a bare Keras loop, on the
same transformed data, in alternating runs.

One pipeline root, run once through the whole pipeline (cache on: an earlier run of the
same logs is reused), gives both sides the same examples and transform graph. Then each
round trains twice with the same settings and seed:
- the TFX Trainer component: a partial LocalDagRunner run of the Trainer alone, cache
  off (launcher, ML Metadata, executor, `run_fn`: training, out-of-scope calibration and
  the SavedModel export);
- the bare loop: `models.trainer.train` on the same files, no orchestrator, no export.
The order alternates (Trainer first in even rounds, bare loop first in odd ones), so that
a drift in the load of this shared machine falls on both sides. A run's throughput is its
examples per second over every epoch but the first (the first also decodes the inputs
and caches them), and the ratio is taken within each round; the report quotes their
median and range, the ratio of each side's fastest steady epoch (load from elsewhere only
slows an epoch down), and what the Trainer spends outside its epochs.

  python -m benchmarks.trainer_throughput --shared-data ../shared/data --out benchmarks/results
  python -m benchmarks.trainer_throughput --logs corpus/sample --rounds 2 --epochs 3 \
      --out /tmp/bench
"""

import argparse
import dataclasses
import datetime
import gc
import json
import os
import shutil
import statistics
import time
from pathlib import Path

from benchmarks import corpora, host
from models.trainer import TRAINING_METRICS_FILE
from models.training_config import TrainingConfig
from pipeline import config, local_runner, run_outputs
from pipeline.evaluation import NO_GATE

RESULT_NAME = "trainer_throughput"
BARE_RUNS_FOLDER = "bare_keras_runs"
TRAINER_NODE = "Trainer"


def steady_examples_per_second(epochs: list[dict]) -> float:
    """Examples per second over every epoch after the first (`_ThroughputLog` records)."""
    if len(epochs) < 2:
        raise ValueError("a steady rate needs at least two epochs: the first one also caches")
    steady = epochs[1:]
    examples = sum(e["examples_per_second_upper_bound"] * e["seconds"] for e in steady)
    return examples / sum(e["seconds"] for e in steady)


def _latest(paths: config.PipelinePaths, node: str, type_name: str) -> str:
    uris = run_outputs.latest_artifact_uris(paths.metadata_path, config.PIPELINE_NAME, node)
    if type_name not in uris:
        raise FileNotFoundError(f"{paths.root} has no {node} {type_name}: run the pipeline first")
    return uris[type_name]


def bare_keras_run(root: Path, training: TrainingConfig, run_dir: Path) -> dict:
    """The Trainer's own `train()` on the latest examples and transform graph of a pipeline
    root, outside TFX; returns its wall seconds and per-epoch records."""
    from tfx.components.trainer.fn_args_utils import FnArgs

    from models import trainer

    paths = config.PipelinePaths(str(root))
    examples = _latest(paths, "LogExampleGen", "Examples")
    shutil.rmtree(run_dir, ignore_errors=True)
    fn_args = FnArgs(
        train_files=[os.path.join(examples, "Split-train", "*")],
        eval_files=[os.path.join(examples, "Split-eval", "*")],
        transform_output=_latest(paths, "Transform", "TransformGraph"),
        model_run_dir=str(run_dir),
        custom_config=training.to_custom_config(),
    )
    start = time.perf_counter()
    trainer.train(fn_args, training)
    wall = time.perf_counter() - start
    metrics = json.loads((run_dir / TRAINING_METRICS_FILE).read_text())
    return {"seconds": wall, "epochs": metrics["epochs"]}


def tfx_trainer_run(
    logs: Path, root: Path, training: TrainingConfig, split: config.SplitBuckets
) -> dict:
    """The Trainer component alone (a partial run, cache off) on the root's latest
    upstream outputs; returns its wall seconds, per-epoch records and run folder."""
    paths = config.PipelinePaths(str(root))
    start = time.perf_counter()
    local_runner.run_local(
        str(logs),
        paths,
        training=training,
        blessing=NO_GATE,
        enable_cache=False,
        split=split,
        only_nodes=[TRAINER_NODE],
    )
    wall = time.perf_counter() - start
    run_dir = _latest(paths, TRAINER_NODE, "ModelRun")
    metrics = json.loads(Path(run_dir, TRAINING_METRICS_FILE).read_text())
    if metrics["config"] != training.to_custom_config():
        raise RuntimeError(f"{run_dir} was trained with other settings than asked for")
    return {"seconds": wall, "epochs": metrics["epochs"], "model_run": run_dir}


def _release_models() -> None:
    """Drops the previous run's models and datasets, so each run starts alike."""
    import keras

    keras.backend.clear_session()
    gc.collect()


def _run_record(run: dict) -> dict:
    epoch_seconds = sum(e["seconds"] for e in run["epochs"])
    return {
        "seconds": run["seconds"],
        "epoch_seconds": [e["seconds"] for e in run["epochs"]],
        "steps_per_epoch": run["epochs"][0]["steps"],
        "examples_per_second": steady_examples_per_second(run["epochs"]),
        # Outside fit(): the component's launch, calibration and export for the Trainer,
        # building the model for both.
        "seconds_outside_epochs": run["seconds"] - epoch_seconds,
    }


def measure(
    logs: Path,
    root: Path,
    training: TrainingConfig,
    split: config.SplitBuckets,
    rounds: int,
) -> list[dict]:
    """`rounds` rounds of one Trainer run and one bare run each, in alternating order."""
    done = []
    for index in range(rounds):
        order = ("tfx_trainer", "bare_keras") if index % 2 == 0 else ("bare_keras", "tfx_trainer")
        record = {"round": index, "order": list(order)}
        for side in order:
            _release_models()
            if side == "tfx_trainer":
                run = tfx_trainer_run(logs, root, training, split)
            else:
                run = bare_keras_run(root, training, root / BARE_RUNS_FOLDER / f"round{index}")
            record[side] = _run_record(run)
        record["ratio"] = (
            record["tfx_trainer"]["examples_per_second"]
            / record["bare_keras"]["examples_per_second"]
        )
        done.append(record)
    return done


def summarize(rounds: list[dict], batch_size: int) -> dict:
    """Median and range of the per-round ratios and of each side's figures, and the ratio
    of each side's fastest steady epoch."""

    def median(side: str, key: str) -> float:
        return statistics.median(r[side][key] for r in rounds)

    def fastest(side: str) -> float:
        # Load from elsewhere only slows an epoch down: the fastest steady epoch of a side
        # is its rate with the least interference.
        return max(
            r[side]["steps_per_epoch"] * batch_size / min(r[side]["epoch_seconds"][1:])
            for r in rounds
        )

    ratios = [r["ratio"] for r in rounds]
    tfx_fastest, bare_fastest = fastest("tfx_trainer"), fastest("bare_keras")
    return {
        "tfx_vs_bare_ratio_median": statistics.median(ratios),
        "tfx_vs_bare_fastest_epoch_ratio": tfx_fastest / bare_fastest,
        "tfx_trainer_fastest_epoch_examples_per_second": tfx_fastest,
        "bare_keras_fastest_epoch_examples_per_second": bare_fastest,
        "tfx_vs_bare_ratio_min": min(ratios),
        "tfx_vs_bare_ratio_max": max(ratios),
        "tfx_trainer_examples_per_second_median": median("tfx_trainer", "examples_per_second"),
        "bare_keras_examples_per_second_median": median("bare_keras", "examples_per_second"),
        "tfx_trainer_seconds_median": median("tfx_trainer", "seconds"),
        "bare_keras_seconds_median": median("bare_keras", "seconds"),
        "tfx_trainer_seconds_outside_epochs_median": median(
            "tfx_trainer", "seconds_outside_epochs"
        ),
        "bare_keras_seconds_outside_epochs_median": median("bare_keras", "seconds_outside_epochs"),
    }


def _seconds(values: list[float]) -> str:
    return ", ".join(f"{v:.0f}" for v in values)


def render_markdown(result: dict) -> str:
    """The readable report of a result record."""
    s = result["summary"]
    lines = [
        "# Training throughput: TFX Trainer against a bare Keras loop",
        "",
        host.summary_line(result["date"], result["machine"]),
        "",
        f"Logs: `{result['logs']}` ({result['train_turns']} train turns, "
        f"{result['eval_turns']} eval turns, split {result['split']}). Model and recipe: "
        f"the `full` profile's, {result['epochs']} epochs, batch {result['batch_size']}, "
        f"seed {result['seed']}. {len(result['rounds'])} rounds, each one run of the TFX "
        "Trainer component (partial LocalDagRunner run, cache off) and one of the same "
        "`models.trainer.train` with no orchestrator, the order alternating. Throughput is "
        "examples per second over epochs 2 on (the first also decodes and caches the "
        "inputs); the ratio is taken within each round.",
        "",
        f"**TFX Trainer / bare loop: {s['tfx_vs_bare_ratio_median']:.3f}** (median of "
        f"{len(result['rounds'])} rounds; range {s['tfx_vs_bare_ratio_min']:.3f}-"
        f"{s['tfx_vs_bare_ratio_max']:.3f}). Fastest steady epoch of each side: "
        f"{s['tfx_trainer_fastest_epoch_examples_per_second']:.1f} against "
        f"{s['bare_keras_fastest_epoch_examples_per_second']:.1f} examples/s, **ratio "
        f"{s['tfx_vs_bare_fastest_epoch_ratio']:.3f}** (other load on the machine only "
        "slows an epoch down, so this is the figure least touched by it).",
        "",
        "| round | order | Trainer examples/s | bare examples/s | ratio | Trainer run s "
        "(outside epochs) | bare run s (outside epochs) | Trainer epochs s | bare epochs s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rounds"]:
        t, b = r["tfx_trainer"], r["bare_keras"]
        order = " then ".join("Trainer" if side == "tfx_trainer" else "bare" for side in r["order"])
        lines.append(
            f"| {r['round']} | {order} | {t['examples_per_second']:.1f} | "
            f"{b['examples_per_second']:.1f} | {r['ratio']:.3f} | {t['seconds']:.0f} "
            f"({t['seconds_outside_epochs']:.0f}) | {b['seconds']:.0f} "
            f"({b['seconds_outside_epochs']:.0f}) | {_seconds(t['epoch_seconds'])} | "
            f"{_seconds(b['epoch_seconds'])} |"
        )
    lines += [
        "",
        f"Medians: Trainer {s['tfx_trainer_examples_per_second_median']:.1f} examples/s, "
        f"bare loop {s['bare_keras_examples_per_second_median']:.1f}. A Trainer run took "
        f"{s['tfx_trainer_seconds_median']:.0f} s, "
        f"{s['tfx_trainer_seconds_outside_epochs_median']:.0f} s of it outside its epochs "
        "(launch, model build, out-of-scope calibration on the eval split, SavedModel and "
        f"warm-up export); a bare run {s['bare_keras_seconds_median']:.0f} s, "
        f"{s['bare_keras_seconds_outside_epochs_median']:.0f} s outside its epochs (model "
        "build).",
        "",
        f"Steps per epoch: {result['rounds'][0]['tfx_trainer']['steps_per_epoch']}. The "
        f"first pipeline run (every component, a warm-up not counted) took "
        f"{result['pipeline_seconds']:.0f} s.",
        "",
    ]
    return "\n".join(lines)


def write_report(out: Path, result: dict, name: str = RESULT_NAME) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / f"{name}.json", out / f"{name}.md"
    json_path.write_text(json.dumps(result, indent=2) + "\n")
    md_path.write_text(render_markdown(result))
    return json_path, md_path


def _split_turns(root: Path) -> tuple[int, int]:
    """Turns in the latest examples' train and eval splits (LogExampleGen's summary)."""
    from components.log_example_gen import beam_ingest

    quarantine = _latest(
        config.PipelinePaths(str(root)), "LogExampleGen", "mmcs.QuarantinedLogRecords"
    )
    per_split = beam_ingest.read_summary(quarantine)["examples_per_split"]
    return per_split["train"], per_split["eval"]


def run(args: argparse.Namespace) -> dict:
    if args.epochs < 2:
        raise SystemExit("--epochs must be at least 2: the first epoch also caches the inputs")
    if args.rounds < 1:
        raise SystemExit("--rounds must be at least 1")
    if args.logs is not None:
        logs, label = args.logs, str(args.logs)
    else:
        logs, _ = corpora.rendered_corpus(args.shared_data, args.work, "train", args.train_size)
        label = f"BANKING77 train.csv rendered, about {args.train_size} turns ({logs.name})"
    profile = config.PROFILES["full"]
    training = dataclasses.replace(profile.training, epochs=args.epochs)
    root = args.work / f"throughput-{logs.name}-e{args.epochs}"
    load_before = os.getloadavg()
    start = time.perf_counter()
    local_runner.run_local(
        str(logs),
        config.PipelinePaths(str(root)),
        training=training,
        blessing=NO_GATE,
        split=profile.split,
    )
    pipeline_seconds = time.perf_counter() - start
    rounds = measure(logs, root, training, profile.split, args.rounds)
    train_turns, eval_turns = _split_turns(root)
    result = {
        "benchmark": RESULT_NAME,
        "date": datetime.date.today().isoformat(),
        "machine": host.describe(load_before, os.getloadavg()),
        "logs": label,
        "train_turns": train_turns,
        "eval_turns": eval_turns,
        "split": str(profile.split),
        "epochs": args.epochs,
        "batch_size": training.batch_size,
        "seed": training.model.seed or 0,
        "pipeline_seconds": pipeline_seconds,
        "rounds": rounds,
        "summary": summarize(rounds, training.batch_size),
    }
    write_report(args.out, result, args.name)
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared-data", type=Path, default=Path("../shared/data"))
    parser.add_argument(
        "--logs",
        type=Path,
        default=None,
        help="a log folder to train on (default: a corpus rendered from train.csv)",
    )
    parser.add_argument(
        "--train-size",
        type=int,
        default=1000,
        help="about how many turns the rendered corpus has (without --logs)",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--work", type=Path, default=Path("runs/bench"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--name", default=RESULT_NAME, help="file name of the report")
    return parser


def main(argv: list[str] | None = None) -> None:
    result = run(_parser().parse_args(argv))
    print(render_markdown(result))


if __name__ == "__main__":
    main()
