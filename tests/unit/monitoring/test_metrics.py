"""The metrics are Prometheus-named, and the Grafana dashboard and Prometheus config in
deploy/ ask for exactly the metrics the code defines."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from streams.monitoring import metrics

DEPLOY = Path(__file__).parents[3] / "deploy"
# PromQL words that are not metric names: functions, aggregations and their modifiers.
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"}


def _ours() -> list[str]:
    return [
        family.name for family in metrics.registry.collect() if family.name.startswith("referrals_")
    ]


def _expressions() -> list[str]:
    dashboard = json.loads((DEPLOY / "grafana-dashboard.json").read_text(encoding="utf-8"))
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def metric_names_in(expr: str) -> set[str]:
    """The metric names a PromQL expression selects: identifiers that are neither a
    function call, a PromQL keyword, a label inside {...} or by (...), nor a duration."""
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    expr = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", expr)
    words = re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*(?=\s*(\()?)", expr)
    return {w.group(0) for w in words if w.group(1) is None and w.group(0) not in PROMQL_WORDS}


def test_metric_names_follow_prometheus_conventions() -> None:
    """Every metric is prefixed referrals_, counters end in _total on the wire, and units
    are base units (seconds, fen), never milliseconds or yuan."""
    exposed = {
        sample.name
        for family in text_string_to_metric_families(generate_latest(metrics.registry).decode())
        for sample in family.samples
    }
    for family in metrics.registry.collect():
        if not family.name.startswith("referrals_"):
            continue
        assert not re.search(r"_(ms|milliseconds|yuan|minutes)\b", family.name)
        if family.type == "counter":
            assert family.name + "_total" in metrics.metric_names()
    assert len(_ours()) >= 14
    assert all(not name.endswith("_total_total") for name in exposed)


def test_the_dashboard_uses_only_metrics_the_code_defines() -> None:
    """Each metric name in each Grafana expression is one the registry exposes."""
    known = metrics.metric_names()
    for expr in _expressions():
        names = metric_names_in(expr)
        assert names, expr
        assert names <= known, (expr, names - known)


def test_the_dashboard_shows_every_metric_the_code_defines() -> None:
    """No metric is defined and then left off the dashboard."""
    shown = {name for expr in _expressions() for name in metric_names_in(expr)}
    for name in _ours():
        assert any(s == name or s.startswith(name + "_") for s in shown), name


def test_the_expression_parser_finds_metric_names_only() -> None:
    """Functions, label names and durations are not taken for metric names."""
    expr = (
        'histogram_quantile(0.95, sum by (le) (rate(a_seconds_bucket{job="x"}[5m])))'
        " / sum without (topic) (b_total) * 60"
    )
    assert metric_names_in(expr) == {"a_seconds_bucket", "b_total"}


def test_prometheus_scrapes_every_long_running_process() -> None:
    """deploy/prometheus.yml has a job for the worker, sink, feed and serve."""
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    assert jobs == {f"referrals-{p}" for p in ("worker", "sink", "feed", "serve")}


def test_the_recording_functions_move_their_metrics() -> None:
    """A call of each helper shows in the exposition with its labels and amount."""

    def value(name: str, **labels: str) -> float:
        found = metrics.registry.get_sample_value(name, labels)
        return found or 0.0

    before = value("referrals_dead_letters_total", reason="schema")
    metrics.dead_lettered("schema")
    assert value("referrals_dead_letters_total", reason="schema") == before + 1
    before = value("referrals_penalties_collected_fen_total", district="430203")
    metrics.penalty_collected("430203", 12_345)
    assert value("referrals_penalties_collected_fen_total", district="430203") == before + 12_345
    metrics.consumer_lags({("g", "t", 0): 7, ("g", "t", 1): 3})
    metrics.consumer_lags({("g", "t", 1): 2})
    lag = "referrals_consumer_lag"
    assert value(lag, group="g", topic="t", partition="0") == 0
    assert value(lag, group="g", topic="t", partition="1") == 2
    count = value("referrals_processing_latency_seconds_count")
    metrics.processing_latency(4.0)
    assert value("referrals_processing_latency_seconds_count") == count + 1
