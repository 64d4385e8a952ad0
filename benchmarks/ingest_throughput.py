"""Ingestion throughput (turns per second) on the full BANKING77-sized corpus, 1 vs 2 workers.

Renders the full training corpus once (cached under runs/bench/), then runs the Beam
ingestion (the LogExampleGen's PTransform, as `mmcs ingest` runs it) with the DirectRunner
in multi-processing mode with 1 and then 2 worker processes, alternating, in one run.
The machine is shared and noisy: the figure that matters is the ratio within the run.

  python -m benchmarks.ingest_throughput --shared-data ../shared/data --out benchmarks/results
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import time
from pathlib import Path

from benchmarks.corpora import rendered_corpus
from components.log_example_gen import beam_ingest


def _ingest_seconds(corpus: Path, out: Path, workers: int) -> tuple[float, dict]:
    if out.exists():
        shutil.rmtree(out)
    args = (
        "--direct_running_mode=multi_processing",
        f"--direct_num_workers={workers}",
    )
    start = time.perf_counter()
    summary = beam_ingest.ingest_folder(str(corpus), str(out), beam_pipeline_args=args)
    return time.perf_counter() - start, summary


def run(shared_data: Path, results: Path, work: Path, repeats: int) -> dict:
    """Runs the benchmark and writes ingest_throughput.json and .md under results."""
    corpus, manifest = rendered_corpus(shared_data, work, "train")
    seconds: dict[int, list[float]] = {1: [], 2: []}
    summary = None
    for _ in range(repeats):
        for workers in (1, 2):
            elapsed, summary = _ingest_seconds(corpus, work / f"ingest-{workers}", workers)
            seconds[workers].append(elapsed)
    turns = summary["records_in"]
    best = {w: min(s) for w, s in seconds.items()}
    result = {
        "benchmark": "ingest_throughput",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "corpus": {
            "turns": turns,
            "modalities": manifest["modalities"],
            "bytes": manifest["bytes"],
            "render_seconds": manifest.get("render_seconds"),
        },
        "runner": "Beam DirectRunner, multi_processing",
        "seconds": {str(w): s for w, s in seconds.items()},
        "turns_per_second_best": {str(w): turns / best[w] for w in best},
        "turns_per_second_median": {
            str(w): turns / statistics.median(s) for w, s in seconds.items()
        },
        "speedup_2_vs_1_workers_best": best[1] / best[2],
        "summary": summary,
    }
    results.mkdir(parents=True, exist_ok=True)
    (results / "ingest_throughput.json").write_text(json.dumps(result, indent=2) + "\n")
    (results / "ingest_throughput.md").write_text(_report(result))
    return result


def _report(result: dict) -> str:
    tps = result["turns_per_second_best"]
    lines = [
        "# Ingestion throughput",
        "",
        f"{result['date']}, {result['machine']['cpus']} CPUs, {result['runner']}.",
        f"Corpus: {result['corpus']['turns']} turns ({result['corpus']['bytes'] / 1e6:.0f} MB), "
        "the full BANKING77 train set rendered by `mmcs corpus` (seed 0).",
        "",
        "| workers | runs (s) | best turns/s |",
        "|---|---|---|",
    ]
    for workers, runs in result["seconds"].items():
        lines.append(f"| {workers} | {', '.join(f'{s:.1f}' for s in runs)} | {tps[workers]:.1f} |")
    lines += [
        "",
        f"**2 workers vs 1: {result['speedup_2_vs_1_workers_best']:.2f}x** "
        "(best of each, measured in the same run; the machine is shared, so absolute "
        "figures vary between runs more than the ratio).",
        "",
        f"Examples out: {result['summary']['examples_out']}, quarantined: "
        f"{result['summary']['quarantined']}.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared-data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--work", type=Path, default=Path("runs/bench"))
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    result = run(args.shared_data, args.out, args.work, args.repeats)
    print(_report(result))


if __name__ == "__main__":
    main()
