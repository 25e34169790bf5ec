"""Sharding a suite across runners (``--causal-eval-shard``) and merging the shards' results
(``causal-eval merge``)."""
