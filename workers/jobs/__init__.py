"""Job runners: the arq worker pool (production) and the in-process runner (embedded)."""
