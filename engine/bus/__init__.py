"""engine.bus package."""
