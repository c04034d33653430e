"""engine.sim package."""
