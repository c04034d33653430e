"""engine.chain package."""
