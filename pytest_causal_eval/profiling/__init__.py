"""Profiling: pyinstrument, memray, tracemalloc; hotspot and allocation diffs."""
