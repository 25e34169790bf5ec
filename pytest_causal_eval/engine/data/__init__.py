"""Questions and answers as data: the ``Question`` record, dataset loaders, answer extraction.

``question`` (the record every part of the engine passes around), ``loaders`` (CLadder, BIG-Bench
Hard, JSONL/JSON with field mapping), ``extraction`` (which choice a free-text response names).

May import: ``engine.errors``; the standard library only.
"""
