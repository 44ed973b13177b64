"""Prometheus metrics: logscope's own health and metrics defined from logs ([[metric]])."""
