"""Ingestion throughput (turns per second) on the full BANKING77-sized corpus: the
DirectRunner with 1 and 2 workers, and Beam's Dask runner on a local 2-worker Dask cluster.

Renders the full training corpus once (cached under runs/bench/), then runs the Beam
ingestion (the LogExampleGen's PTransform, as `mmcs ingest` runs it) with the DirectRunner
in multi-processing mode with 1 and then 2 worker processes and (--runner dask or all)
on a distributed.LocalCluster of 2 worker processes, alternating, in one run.
The machine is shared and noisy: the figure that matters is the ratio within the run.

Ingestion transcribes voice clips and reads picture texts (models/speech_recognition.py,
models/image_text_recognition.py), keeping them in a disk cache by content. `--cache`
says which cost is measured: "warm" (an untimed pass fills the cache first: re-ingestion,
as in a pipeline re-run or a new window over old logs), "cold" (every run starts from an
empty derived-text cache, with the joined models kept, so every clip and picture is
recognized: new logs), or "both", which also gives their ratio. Cold runs use the
DirectRunner only: Dask workers start before a run could point them at an empty cache.

  python -m benchmarks.ingest_throughput --shared-data ../shared/data --out benchmarks/results
  # a quick check on another log folder, without touching the committed results:
  python -m benchmarks.ingest_throughput --corpus corpus/sample --runner dask --out /tmp/bench
  # what the recognizers cost, on the committed sample:
  python -m benchmarks.ingest_throughput --corpus corpus/sample --runner direct --cache both
"""

import argparse
import contextlib
import datetime
import json
import os
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.corpora import rendered_corpus
from components.log_example_gen import beam_ingest
from models import derived_text_cache
from pipeline import config

# (runner profile, workers) per configuration, by the --runner choice.
CONFIGURATIONS = {
    "direct": (("direct", 1), ("direct", 2)),
    "dask": (("dask", 2),),
    "all": (("direct", 1), ("direct", 2), ("dask", 2)),
}


CACHE_STATES = {"warm": ("warm",), "cold": ("cold",), "both": ("warm", "cold")}


def _label(runner: str, workers: int, cache: str = "warm") -> str:
    return f"{runner}-{workers}" + ("-cold" if cache == "cold" else "")


def _results_name(cache: str) -> str:
    """The results' file stem: the recognizers' cost has its own report."""
    return "ingest_throughput" if cache == "warm" else "ingest_throughput_recognizers"


@contextlib.contextmanager
def _cold_derived_text_cache(work: Path):
    """Points MMCS_CACHE_DIR at a fresh root without derived texts for the block.

    The joined models (everything but DERIVED_TEXT_FOLDERS) are linked from the current
    root, so a cold run pays for recognition, not for joining model files. Yields the
    root, to count what the run recognized. Beam's worker processes inherit it.
    """
    warm = derived_text_cache.cache_root()
    work.mkdir(parents=True, exist_ok=True)
    cold = Path(tempfile.mkdtemp(prefix="cold-cache-", dir=work))
    if warm.is_dir():
        for entry in warm.iterdir():
            if entry.name not in derived_text_cache.DERIVED_TEXT_FOLDERS:
                (cold / entry.name).symlink_to(entry.resolve())
    previous = os.environ.get(derived_text_cache.CACHE_ENV)
    os.environ[derived_text_cache.CACHE_ENV] = str(cold)
    try:
        yield cold
    finally:
        if previous is None:
            del os.environ[derived_text_cache.CACHE_ENV]
        else:
            os.environ[derived_text_cache.CACHE_ENV] = previous
        shutil.rmtree(cold)


def _derived_texts(root: Path) -> int:
    """How many derived texts a cache root holds."""
    return sum(
        1
        for folder in derived_text_cache.DERIVED_TEXT_FOLDERS
        if (root / folder).is_dir()
        for path in (root / folder).rglob("*.txt")
    )


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
    cache: str = "warm",
) -> dict:
    """Runs the benchmark and writes its JSON and Markdown report under results
    (ingest_throughput.*, or ingest_throughput_recognizers.* when cold runs are in it)."""
    states = CACHE_STATES[cache]
    if "cold" in states and any(r == "dask" for r, _ in CONFIGURATIONS[runner]):
        raise ValueError("cold-cache runs use the DirectRunner only: pass --runner direct")
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
    seconds: dict[str, list[float]] = {
        _label(r, w, state): [] for state in states for r, w in configurations
    }
    recognized: dict[str, list[int]] = {}
    summary = None

    def ingest(name: str, workers: int, state: str) -> tuple[float, dict]:
        return _ingest_seconds(
            corpus,
            work / f"ingest-{_label(name, workers, state)}",
            name,
            workers,
            cluster.scheduler_address if cluster else None,
        )

    try:
        if "warm" in states:
            ingest(*configurations[-1], "warm")  # fills the derived-text cache, untimed
        for _ in range(repeats):
            for state in states:
                for name, workers in configurations:
                    label = _label(name, workers, state)
                    if state == "warm":
                        elapsed, summary = ingest(name, workers, state)
                    else:
                        with _cold_derived_text_cache(work) as root:
                            elapsed, summary = ingest(name, workers, state)
                            recognized.setdefault(label, []).append(_derived_texts(root))
                    seconds[label].append(elapsed)
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
        "derived_text_cache": cache,
    }
    if recognized:
        # Texts each cold run recognized (cache entries it wrote): proof that it was cold.
        result["derived_texts_recognized"] = recognized
        result["cold_vs_warm_seconds_best"] = {
            label: best[label] / best[label.removesuffix("-cold")]
            for label in recognized
            if label.removesuffix("-cold") in best
        }
    if {"direct-1", "direct-2"} <= set(best):
        result["speedup_2_vs_1_workers_best"] = best["direct-1"] / best["direct-2"]
    if {"direct-2", "dask-2"} <= set(best):
        result["dask_2_vs_direct_2_best"] = best["direct-2"] / best["dask-2"]
    results.mkdir(parents=True, exist_ok=True)
    name = _results_name(cache)
    (results / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    (results / f"{name}.md").write_text(_report(result))
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
    ]
    cold_runs = "derived_texts_recognized" in result
    cache_column = ["derived-text cache"] if cold_runs else []
    columns = ["runner", "workers", *cache_column, "runs (s)", "best turns/s"]
    lines += ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for label, runs in result["seconds"].items():
        runner, workers, *cold = label.split("-")
        runner = {"direct": "DirectRunner", "dask": "DaskRunner (LocalCluster)"}[runner]
        cache = ["cold" if cold else "warm"] if cold_runs else []
        cells = [runner, workers, *cache, ", ".join(f"{s:.1f}" for s in runs), f"{tps[label]:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    for label, ratio in result.get("cold_vs_warm_seconds_best", {}).items():
        texts = result["derived_texts_recognized"][label]
        lines.append(
            f"**{label.removesuffix('-cold')}, cold vs warm derived-text cache: {ratio:.1f}x "
            f"the time** (best of each; each cold run recognized "
            f"{', '.join(str(t) for t in texts)} transcripts and picture texts)."
        )
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
    parser.add_argument(
        "--cache",
        choices=sorted(CACHE_STATES),
        default="warm",
        help="derived-text cache of the timed runs: warm (default), cold (recognizers run "
        "on every clip and picture; --runner direct) or both",
    )
    args = parser.parse_args()
    result = run(
        args.shared_data, args.out, args.work, args.repeats, args.runner, args.corpus, args.cache
    )
    print(_report(result))


if __name__ == "__main__":
    main()
