"""Ingestion throughput (turns per second) on the full BANKING77-sized corpus: the
DirectRunner with 1 and 2 workers, and Beam's Dask runner on a local 2-worker Dask cluster.

Renders the full training corpus once (cached under runs/bench/), then runs the Beam
ingestion (the LogExampleGen's PTransform, as `mmcs ingest` runs it) with the DirectRunner
in multi-processing mode with 1 and then 2 worker processes and (--runner dask or all)
on a distributed.LocalCluster of 2 worker processes, alternating, in one run.
The machine is shared and noisy: the figure that matters is the ratio within the run.

  python -m benchmarks.ingest_throughput --shared-data ../shared/data --out benchmarks/results
  # a quick check on another log folder, without touching the committed results:
  python -m benchmarks.ingest_throughput --corpus corpus/sample --runner dask --out /tmp/bench
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
from pipeline import config

# (runner profile, workers) per configuration, by the --runner choice.
CONFIGURATIONS = {
    "direct": (("direct", 1), ("direct", 2)),
    "dask": (("dask", 2),),
    "all": (("direct", 1), ("direct", 2), ("dask", 2)),
}


def _label(runner: str, workers: int) -> str:
    return f"{runner}-{workers}"


def _ingest_seconds(
    corpus: Path, out: Path, runner: str, workers: int, dask_address: str | None
) -> tuple[float, dict]:
    if out.exists():
        shutil.rmtree(out)
    if runner == "dask":
        beam = config.BeamConfig(
            runner="dask", extra_args=(f"--dask_client_address={dask_address}",)
        )
    else:
        beam = config.BeamConfig(workers=workers, running_mode="multi_processing")
    start = time.perf_counter()
    summary = beam_ingest.ingest_folder(
        str(corpus), str(out), beam_pipeline_args=tuple(beam.pipeline_args())
    )
    return time.perf_counter() - start, summary


def run(
    shared_data: Path,
    results: Path,
    work: Path,
    repeats: int,
    runner: str = "all",
    corpus: Path | None = None,
) -> dict:
    """Runs the benchmark and writes ingest_throughput.json and .md under results."""
    if corpus is None:
        corpus, manifest = rendered_corpus(shared_data, work, "train")
    else:
        manifest = {"modalities": None, "bytes": _folder_bytes(corpus), "render_seconds": None}
    configurations = CONFIGURATIONS[runner]
    cluster = None
    if any(r == "dask" for r, _ in configurations):
        import distributed

        workers = max(w for r, w in configurations if r == "dask")
        cluster = distributed.LocalCluster(
            n_workers=workers, processes=True, threads_per_worker=1, dashboard_address=None
        )
    seconds: dict[str, list[float]] = {_label(r, w): [] for r, w in configurations}
    summary = None
    try:
        for _ in range(repeats):
            for name, workers in configurations:
                elapsed, summary = _ingest_seconds(
                    corpus,
                    work / f"ingest-{_label(name, workers)}",
                    name,
                    workers,
                    cluster.scheduler_address if cluster else None,
                )
                seconds[_label(name, workers)].append(elapsed)
    finally:
        if cluster is not None:
            cluster.close()
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
        "corpus_path": str(corpus),
        "runner": "Beam DirectRunner (multi_processing) and Beam DaskRunner on a "
        "distributed.LocalCluster (worker processes, 1 thread each)",
        "seconds": seconds,
        "turns_per_second_best": {w: turns / best[w] for w in best},
        "turns_per_second_median": {w: turns / statistics.median(s) for w, s in seconds.items()},
        "summary": summary,
    }
    if {"direct-1", "direct-2"} <= set(best):
        result["speedup_2_vs_1_workers_best"] = best["direct-1"] / best["direct-2"]
    if {"direct-2", "dask-2"} <= set(best):
        result["dask_2_vs_direct_2_best"] = best["direct-2"] / best["dask-2"]
    results.mkdir(parents=True, exist_ok=True)
    (results / "ingest_throughput.json").write_text(json.dumps(result, indent=2) + "\n")
    (results / "ingest_throughput.md").write_text(_report(result))
    return result


def _folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def _report(result: dict) -> str:
    tps = result["turns_per_second_best"]
    lines = [
        "# Ingestion throughput",
        "",
        f"{result['date']}, {result['machine']['cpus']} CPUs, {result['runner']}.",
        f"Corpus: {result['corpus']['turns']} turns ({result['corpus']['bytes'] / 1e6:.0f} MB), "
        f"{result['corpus_path']}.",
        "",
        "| runner | workers | runs (s) | best turns/s |",
        "|---|---|---|---|",
    ]
    for label, runs in result["seconds"].items():
        runner, workers = label.rsplit("-", 1)
        runner = {"direct": "DirectRunner", "dask": "DaskRunner (LocalCluster)"}[runner]
        lines.append(
            f"| {runner} | {workers} | {', '.join(f'{s:.1f}' for s in runs)} | {tps[label]:.1f} |"
        )
    lines.append("")
    if "speedup_2_vs_1_workers_best" in result:
        lines.append(
            f"**DirectRunner 2 workers vs 1: {result['speedup_2_vs_1_workers_best']:.2f}x** "
            "(best of each, measured in the same run; the machine is shared, so absolute "
            "figures vary between runs more than the ratio)."
        )
    if "dask_2_vs_direct_2_best" in result:
        lines.append(
            f"**Dask, 2 workers vs DirectRunner, 2 workers: "
            f"{result['dask_2_vs_direct_2_best']:.2f}x** (above 1: Dask is faster)."
        )
    lines += [
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
    parser.add_argument(
        "--runner",
        choices=sorted(CONFIGURATIONS),
        default="all",
        help="direct: DirectRunner 1 and 2 workers; dask: Dask 2 workers; all (default)",
    )
    parser.add_argument(
        "--corpus", type=Path, default=None, help="a log folder instead of the rendered corpus"
    )
    args = parser.parse_args()
    result = run(args.shared_data, args.out, args.work, args.repeats, args.runner, args.corpus)
    print(_report(result))


if __name__ == "__main__":
    main()
