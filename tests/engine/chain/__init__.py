"""Tests for engine.chain (decoders)."""
