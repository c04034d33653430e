"""The local chain simulator: a seeded scenario served as Solana JSON-RPC and PubSub."""
