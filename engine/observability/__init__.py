"""Metrics and structured logging shared by every process."""
