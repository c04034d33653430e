"""Signal engine: windows per mint, rules, explainable Strength, near misses."""
