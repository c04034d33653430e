"""Network plumbing shared by the local servers (simulator, Jupiter, Bot API, Messages API)."""
