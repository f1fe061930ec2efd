"""Watching the pipeline run: its Prometheus metrics and its health probes."""
