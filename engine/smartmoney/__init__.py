"""Smart-money registry: import/export of tracked wallets, per-wallet stats, smart activity."""
