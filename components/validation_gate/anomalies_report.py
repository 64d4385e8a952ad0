"""A readable text report of TFDV anomalies, for terminals and logs."""

from tensorflow_metadata.proto.v0 import anomalies_pb2

_SEVERITY = {
    anomalies_pb2.AnomalyInfo.ERROR: "ERROR",
    anomalies_pb2.AnomalyInfo.WARNING: "WARNING",
    anomalies_pb2.AnomalyInfo.UNKNOWN: "UNKNOWN",
}


def _describe(name: str, info: anomalies_pb2.AnomalyInfo) -> list[str]:
    details = [reason.description for reason in info.reason if reason.description]
    summary = info.short_description or ", ".join(
        anomalies_pb2.AnomalyInfo.Type.Name(reason.type) for reason in info.reason
    )
    lines = [f"  {_SEVERITY.get(info.severity, 'ERROR'):<7} {name}: {summary}"]
    lines.extend(f"          {detail}" for detail in details or [info.description])
    return lines


def has_anomalies(anomalies: anomalies_pb2.Anomalies) -> bool:
    """Whether a split's anomalies proto reports anything (the validator's own test)."""
    return bool(anomalies.anomaly_info) or anomalies.HasField("dataset_anomaly_info")


def format_anomalies(anomalies_by_split: dict[str, anomalies_pb2.Anomalies]) -> str:
    """Renders the anomalies of each split, one block per split, features sorted."""
    blocks = []
    for split, anomalies in sorted(anomalies_by_split.items()):
        if not has_anomalies(anomalies):
            blocks.append(f"split {split}: no anomalies")
            continue
        lines = [f"split {split}:"]
        if anomalies.HasField("dataset_anomaly_info"):
            lines.extend(_describe("<dataset>", anomalies.dataset_anomaly_info))
        for name in sorted(anomalies.anomaly_info):
            lines.extend(_describe(name, anomalies.anomaly_info[name]))
        blocks.append("\n".join(lines))
    return "\n".join(blocks)
