"""Risk engine: mint/holder/LP/sellability checks turned into a level, badges and penalties."""
