"""Running an evaluation: the evaluator, its executors and response caches, and the statistics.

``evaluator`` (stream, batch, call, score; ``EvalResult``), ``executors`` (the ``Executor``
protocol and the serial, thread, process, asyncio and Ray executors), ``cache`` (memory, SQLite,
Redis and tiered response caches), ``scoring`` (accuracy with Wilson and cluster-bootstrap
intervals, per-group breakdowns), ``quantiles`` (latency reservoir), ``writers`` (per-question JSONL).

May import: ``engine.errors``, ``engine.redaction``, ``engine.data``, ``engine.models``; numpy.
"""
