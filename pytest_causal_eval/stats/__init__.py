"""Pure statistics: summaries, intervals, comparisons, the thresholds. No I/O in this package.

Import the modules themselves (``stats.summary``, ``stats.thresholds``, ``stats.compare``):
``stats.compare`` and ``stats.noise`` use numpy, which option parsing must not pull in.
"""
