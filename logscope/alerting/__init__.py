"""The alert rule engine: rule files, evaluation on the record stream, alert life cycle, outputs."""
