"""REST serving load: latency and throughput of `:predict` on `mmcs serve`, batching on and
off, against calling the SavedModel in-process on the same inputs.

One text + image + audio turn of the embedded sample is sent as a row-format request (image
and audio base64) by 1, 4, 16 and 32 concurrent clients, each on its own keep-alive
connection, for a fixed time per level. The server runs in its own process (`mmcs serve`),
as in production, so that client and server do not share an interpreter lock.

  python -m benchmarks.serving_load --out benchmarks/results [--model-base DIR] [--seconds S]

Targets: REST p50 at 1 client within 1.5x of in-process; batched throughput at 16 clients
at least 2x unbatched. The machine is shared: the load average is recorded with the figures.
"""

import argparse
import base64
import datetime
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from benchmarks import host
from models import features, signatures
from serving import batch_predict
from serving.model_server.batching import BatchingOptions

CLIENT_LEVELS = (1, 4, 16, 32)
DEFAULT_MODEL_BASE = "runs/demo/serving/mmcs"
SAMPLE = Path(__file__).resolve().parents[1] / "corpus" / "sample"
COMBINATION = "image+audio+text"
LATENCY_TARGET_RATIO = 1.5
THROUGHPUT_TARGET_RATIO = 2.0
SERVER_START_TIMEOUT_S = 300
IN_PROCESS_BATCH = 16


def _request_turn():
    turns, _ = batch_predict.turn_inputs(str(SAMPLE))
    return next(turn for turn in turns if turn.modalities == COMBINATION)


def _request_body(turn) -> bytes:
    values = turn.values
    instance = {
        features.TEXT_KEY: values[features.TEXT_KEY].decode("utf-8"),
        features.IMAGE_KEY: {"b64": base64.b64encode(values[features.IMAGE_KEY]).decode()},
        features.AUDIO_KEY: {"b64": base64.b64encode(values[features.AUDIO_KEY]).decode()},
        features.TRANSCRIPT_KEY: values[features.TRANSCRIPT_KEY].decode("utf-8"),
        features.IMAGE_TEXT_KEY: values[features.IMAGE_TEXT_KEY].decode("utf-8"),
    }
    body = {"signature_name": signatures.SERVING_DEFAULT, "instances": [instance]}
    return json.dumps(body).encode("utf-8")


def _percentiles(latencies: list[float]) -> dict:
    if not latencies:
        return {"p50_ms": None, "p99_ms": None}
    values = np.array(latencies) * 1e3
    return {"p50_ms": float(np.percentile(values, 50)), "p99_ms": float(np.percentile(values, 99))}


class ModelInputsError(ValueError):
    """The served model cannot take the benchmark's request."""


def check_request_inputs(version_dir: str, accepted: set[str], request: dict) -> None:
    """Refuses a model whose serving_default lacks inputs the benchmark's request sends.

    A model pushed before an input existed (the transcript, the image text) would fail
    every request with the same error; the benchmark stops before timing anything.

    Raises:
      ModelInputsError: naming the missing inputs and the model version.
    """
    missing = sorted(set(request) - accepted)
    if missing:
        raise ModelInputsError(
            f"{version_dir}: serving_default has no input {', '.join(missing)}, which the "
            "benchmark's request sends: the model predates it. Push a current model "
            "(`make demo`) or pass --model-base with one."
        )


def _in_process(model_base: str, turn, seconds: float) -> dict:
    """serving_default called directly, one request at a time (the latency floor)."""
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the TF Text ops the SavedModel uses)

    version_dir = batch_predict.latest_version_dir(model_base)
    serve = tf.saved_model.load(version_dir).signatures[signatures.SERVING_DEFAULT]
    check_request_inputs(version_dir, set(serve.structured_input_signature[1]), turn.values)
    inputs = {key: tf.constant([value]) for key, value in turn.values.items()}
    for _ in range(3):
        serve(**inputs)
    latencies, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        start = time.perf_counter()
        outputs = serve(**inputs)
        {key: value.numpy() for key, value in outputs.items()}
        latencies.append(time.perf_counter() - start)
    # The compute ceiling: rows per second when the model gets whole batches at once.
    batch = {key: tf.constant([value] * IN_PROCESS_BATCH) for key, value in turn.values.items()}
    serve(**batch)
    calls, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        serve(**batch)
        calls += 1
    return {
        "clients": 1,
        "requests": len(latencies),
        "failed": 0,
        "throughput_rps": len(latencies) / sum(latencies),
        **_percentiles(latencies),
        f"batch_{IN_PROCESS_BATCH}_rows_per_s": calls
        * IN_PROCESS_BATCH
        / (time.perf_counter() - started),
        "version_dir": version_dir,
    }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_server(model_base: str, port: int, batching: BatchingOptions | None, log):
    """Starts `mmcs serve` (its output to the file `log`) and waits until it answers."""
    command = [
        sys.executable,
        "-m",
        "pipeline.cli",
        "serve",
        "--model-base",
        model_base,
        "--port",
        str(port),
        "--poll-seconds",
        "0",
    ]
    if batching is not None:
        command += [
            "--enable-batching",
            "--max-batch-size",
            str(batching.max_batch_size),
            "--batch-timeout-micros",
            str(batching.batch_timeout_micros),
        ]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"mmcs serve exited with {process.returncode}: {process.stderr.read()}"
            )
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/v1/models/mmcs")
            if connection.getresponse().status == 200:
                connection.close()
                return process
            connection.close()
        except OSError:
            pass
        time.sleep(0.5)
    process.terminate()
    raise RuntimeError("mmcs serve did not become ready")


def _stop_server(process) -> None:
    process.terminate()  # SIGTERM: mmcs serve stops cleanly
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _load(port: int, body: bytes, clients: int, seconds: float) -> dict:
    """`clients` threads post the request back to back for `seconds`."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    failures: list[str] = []
    barrier = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def client(index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        headers = {"Content-Type": "application/json"}
        barrier.wait()
        while time.monotonic() < stop_at[0]:
            start = time.perf_counter()
            try:
                connection.request("POST", "/v1/models/mmcs:predict", body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
                if response.status != 200:
                    failures.append(f"{response.status}: {payload[:200]!r}")
                    continue
                json.loads(payload)["predictions"][0][signatures.INTENT_OUTPUT]
            except (OSError, http.client.HTTPException, ValueError, KeyError) as error:
                failures.append(repr(error))
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                continue
            latencies[index].append(time.perf_counter() - start)
        connection.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    stop_at[0] = time.monotonic() + seconds
    started = time.perf_counter()
    barrier.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    every = [latency for per_client in latencies for latency in per_client]
    return {
        "clients": clients,
        "requests": len(every),
        "failed": len(failures),
        "failures_sample": failures[:5],
        "throughput_rps": len(every) / elapsed,
        **_percentiles(every),
    }


def _model_calls(port: int) -> tuple[int, int]:
    """(model calls, rows) so far, from the server's Prometheus metrics."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", "/monitoring/prometheus/metrics")
    text = connection.getresponse().read().decode()
    connection.close()
    totals = {"mmcs_model_calls_total": 0, "mmcs_model_rows_total": 0}
    for line in text.splitlines():
        name = line.split("{", 1)[0]
        if name in totals:
            totals[name] += int(float(line.rsplit(" ", 1)[1]))
    return totals["mmcs_model_calls_total"], totals["mmcs_model_rows_total"]


def _warm_up(port: int, body: bytes) -> None:
    _load(port, body, clients=2, seconds=2)


def run(model_base: str, results: Path, seconds: float, levels=CLIENT_LEVELS) -> dict:
    """Runs the benchmark and writes serving_load.json and .md under results."""
    turn = _request_turn()
    body = _request_body(turn)
    load_before = os.getloadavg()
    in_process = _in_process(model_base, turn, seconds)
    batching = BatchingOptions()
    modes = {}
    for mode, options in (("unbatched", None), ("batched", batching)):
        port = _free_port()
        # A file, not a pipe: an unread pipe would block the server once its buffer is full.
        with tempfile.TemporaryFile(mode="w+") as log:
            process = _start_server(model_base, port, options, log)
            try:
                _warm_up(port, body)
                modes[mode] = []
                for clients in levels:
                    before = _model_calls(port)
                    row = _load(port, body, clients, seconds)
                    after = _model_calls(port)
                    calls = after[0] - before[0]
                    row["model_calls"] = calls
                    row["mean_rows_per_model_call"] = (
                        (after[1] - before[1]) / calls if calls else None
                    )
                    modes[mode].append(row)
            finally:
                _stop_server(process)
    load_after = os.getloadavg()
    by_clients = {m: {r["clients"]: r for r in rows} for m, rows in modes.items()}
    latency_ratio = by_clients["unbatched"][1]["p50_ms"] / in_process["p50_ms"]
    throughput_ratio = None
    if 16 in by_clients["unbatched"]:
        throughput_ratio = (
            by_clients["batched"][16]["throughput_rps"]
            / by_clients["unbatched"][16]["throughput_rps"]
        )
    failed = sum(r["failed"] for rows in modes.values() for r in rows)
    result = {
        "benchmark": "serving_load",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": host.describe(load_before, load_after),
        "model_version_dir": in_process.pop("version_dir"),
        "request": {
            "modalities": COMBINATION,
            "turn_id": turn.turn_id,
            "body_bytes": len(body),
            "format": "row (instances), image and audio base64",
        },
        "seconds_per_level": seconds,
        "batching": {
            "max_batch_size": batching.max_batch_size,
            "batch_timeout_micros": batching.batch_timeout_micros,
        },
        "in_process": in_process,
        "rest": modes,
        "overhead_ratio_p50_1_client": latency_ratio,
        "overhead_ratio_p50_1_client_batched": by_clients["batched"][1]["p50_ms"]
        / in_process["p50_ms"],
        "batched_vs_unbatched_throughput_16_clients": throughput_ratio,
        "failed_requests": failed,
        "targets": {
            "p50_1_client_within_1.5x_in_process": latency_ratio <= LATENCY_TARGET_RATIO,
            "batched_throughput_16_clients_at_least_2x": (
                None if throughput_ratio is None else throughput_ratio >= THROUGHPUT_TARGET_RATIO
            ),
            "zero_failed_requests": failed == 0,
        },
    }
    results.mkdir(parents=True, exist_ok=True)
    (results / "serving_load.json").write_text(json.dumps(result, indent=2) + "\n")
    (results / "serving_load.md").write_text(_report(result))
    return result


def _fmt(value, digits=1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _report(result: dict) -> str:
    in_process = result["in_process"]
    batching = result["batching"]
    targets = result["targets"]
    lines = [
        "# REST serving load",
        "",
        host.summary_line(result["date"], result["machine"]),
        "",
        f"Request: one {result['request']['modalities']} turn of the sample "
        f"({result['request']['body_bytes']} bytes of JSON, {result['request']['format']}); "
        f"{result['seconds_per_level']:g} s per level; server `mmcs serve` in its own process; "
        f"batching max_batch_size {batching['max_batch_size']}, batch_timeout_micros "
        f"{batching['batch_timeout_micros']}. Model: `{result['model_version_dir']}`.",
        "",
        "| mode | clients | requests | failed | p50 ms | p99 ms | requests/s | rows/model call |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        f"| in-process (serving_default) | 1 | {in_process['requests']} | 0 | "
        f"{_fmt(in_process['p50_ms'])} | {_fmt(in_process['p99_ms'])} | "
        f"{_fmt(in_process['throughput_rps'])} | 1 |",
    ]
    for mode, rows in result["rest"].items():
        for row in rows:
            lines.append(
                f"| REST {mode} | {row['clients']} | {row['requests']} | {row['failed']} | "
                f"{_fmt(row['p50_ms'])} | {_fmt(row['p99_ms'])} | "
                f"{_fmt(row['throughput_rps'])} | {_fmt(row['mean_rows_per_model_call'])} |"
            )

    def verdict(ok) -> str:
        return "n/a" if ok is None else ("met" if ok else "NOT met")

    lines += [
        "",
        f"- REST overhead, p50 at 1 client / in-process p50: "
        f"**{_fmt(result['overhead_ratio_p50_1_client'], 2)}x** unbatched "
        f"(target <= {LATENCY_TARGET_RATIO}x: "
        f"{verdict(targets['p50_1_client_within_1.5x_in_process'])}), "
        f"{_fmt(result['overhead_ratio_p50_1_client_batched'], 2)}x batched.",
        f"- Batched / unbatched throughput at 16 clients: "
        f"**{_fmt(result['batched_vs_unbatched_throughput_16_clients'], 2)}x** "
        f"(target >= {THROUGHPUT_TARGET_RATIO}x: "
        f"{verdict(targets['batched_throughput_16_clients_at_least_2x'])}).",
        f"- Compute ceiling: the model called in-process on batches of {IN_PROCESS_BATCH} "
        f"rows answers {_fmt(in_process[f'batch_{IN_PROCESS_BATCH}_rows_per_s'])} rows/s "
        f"(vs {_fmt(in_process['throughput_rps'])} one row at a time): batching can raise "
        "throughput only up to that, and unbatched concurrent calls already use every core.",
        f"- Failed requests: **{result['failed_requests']}** "
        f"(target 0: {verdict(targets['zero_failed_requests'])}).",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model-base",
        default=DEFAULT_MODEL_BASE,
        help=f"model base directory, newest version served (default {DEFAULT_MODEL_BASE})",
    )
    parser.add_argument("--out", default="benchmarks/results", help="results folder")
    parser.add_argument("--seconds", type=float, default=20, help="load time per level")
    parser.add_argument(
        "--clients",
        type=int,
        nargs="+",
        default=list(CLIENT_LEVELS),
        help="concurrency levels (default 1 4 16 32)",
    )
    args = parser.parse_args(argv)
    try:
        result = run(args.model_base, Path(args.out), args.seconds, tuple(args.clients))
    except ModelInputsError as error:
        print(f"serving_load: {error}", file=sys.stderr)
        return 2
    print((Path(args.out) / "serving_load.md").read_text())
    return 0 if result["failed_requests"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
