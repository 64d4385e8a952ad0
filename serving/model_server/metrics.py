"""Request and model-call counters, exposed in Prometheus text format at
/monitoring/prometheus/metrics (as TF Serving does with --monitoring_config_file)."""

import bisect
import collections
import threading

# Request latency histogram bucket bounds, in microseconds (TF Serving reports microseconds).
LATENCY_BUCKETS_US = (1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 2e6, 5e6, 1e7)


class ServerMetrics:
    """Thread-safe counters of one server."""

    def __init__(self, model_name: str):
        self.model_name = model_name
        self._lock = threading.Lock()
        self._requests = collections.Counter()  # (api, status code) -> count
        self._latency_buckets = collections.defaultdict(lambda: [0] * len(LATENCY_BUCKETS_US))
        self._latency_sum = collections.Counter()  # api -> microseconds
        self._latency_count = collections.Counter()
        self._model_calls = collections.Counter()  # signature -> calls
        self._model_rows = collections.Counter()  # signature -> rows

    def record_request(self, api: str, status: int, latency_s: float) -> None:
        micros = latency_s * 1e6
        with self._lock:
            self._requests[(api, status)] += 1
            index = bisect.bisect_left(LATENCY_BUCKETS_US, micros)
            if index < len(LATENCY_BUCKETS_US):
                self._latency_buckets[api][index] += 1
            self._latency_sum[api] += micros
            self._latency_count[api] += 1

    def record_model_call(self, signature_name: str, rows: int) -> None:
        with self._lock:
            self._model_calls[signature_name] += 1
            self._model_rows[signature_name] += rows

    @property
    def model_calls(self) -> int:
        """Model (signature) calls so far, warm-up included; batching makes fewer of them."""
        with self._lock:
            return sum(self._model_calls.values())

    @property
    def model_rows(self) -> int:
        with self._lock:
            return sum(self._model_rows.values())

    def prometheus_text(self) -> str:
        """The counters in the Prometheus text exposition format (version 0.0.4)."""
        model = self.model_name
        lines = [
            "# TYPE :tensorflow:serving:request_count counter",
        ]
        with self._lock:
            for (api, status), count in sorted(self._requests.items()):
                lines.append(
                    f':tensorflow:serving:request_count{{model_name="{model}",api="{api}",'
                    f'status="{status}"}} {count}'
                )
            lines.append("# TYPE :tensorflow:serving:request_latency histogram")
            for api in sorted(self._latency_count):
                cumulative = 0
                for bound, count in zip(
                    LATENCY_BUCKETS_US, self._latency_buckets[api], strict=True
                ):
                    cumulative += count
                    lines.append(
                        f':tensorflow:serving:request_latency_bucket{{model_name="{model}",'
                        f'api="{api}",le="{bound:g}"}} {cumulative}'
                    )
                labels = f'model_name="{model}",api="{api}"'
                lines.append(
                    f':tensorflow:serving:request_latency_bucket{{{labels},le="+Inf"}} '
                    f"{self._latency_count[api]}"
                )
                lines.append(
                    f":tensorflow:serving:request_latency_sum{{{labels}}} "
                    f"{self._latency_sum[api]:.0f}"
                )
                lines.append(
                    f":tensorflow:serving:request_latency_count{{{labels}}} "
                    f"{self._latency_count[api]}"
                )
            lines.append("# TYPE mmcs_model_calls_total counter")
            for signature, count in sorted(self._model_calls.items()):
                lines.append(
                    f'mmcs_model_calls_total{{model_name="{model}",signature_name="{signature}"}}'
                    f" {count}"
                )
            lines.append("# TYPE mmcs_model_rows_total counter")
            for signature, count in sorted(self._model_rows.items()):
                lines.append(
                    f'mmcs_model_rows_total{{model_name="{model}",signature_name="{signature}"}}'
                    f" {count}"
                )
        return "\n".join(lines) + "\n"
