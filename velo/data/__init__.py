"""Data adapters: real sources and the simulator into one canonical format."""
