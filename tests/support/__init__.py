"""Helpers shared by several test packages (local stand-ins for network faults)."""
