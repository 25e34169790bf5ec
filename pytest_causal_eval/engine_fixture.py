"""The causal_engine fixture; filled in by the suites work."""
