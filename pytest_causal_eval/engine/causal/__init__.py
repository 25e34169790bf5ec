"""Causal models and the questions asked about them: exact answers, no model calls.

``graphs`` (CLadder's graph families), ``scm`` (binary causal Bayesian networks, exact inference),
``sampling`` (seeded mechanisms per difficulty), ``stories`` and ``prompts`` (the words),
``tasks`` (the five seeded question streams), ``cladder`` (CLadder's conventions: where a CLadder
answer is computed) and ``validation`` (the engine checked against a dataset's ground truth).

May import: ``engine.errors``, ``engine.data``; numpy.
"""
