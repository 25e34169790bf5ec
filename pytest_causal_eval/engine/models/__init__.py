"""Models behind one batched protocol, and the registry that builds them by name.

``base`` (the ``Model`` protocol and ``TextModel``), ``registry`` (``create_model`` by name,
``ModelSpec`` to rebuild a model in a worker), ``reference`` (oracle, constant, random, spin,
lookup), ``replay`` (recorded responses), ``failures`` (``PartialFailure``: some questions of a
batch failed), ``openai_model`` (any OpenAI-compatible server, over httpx), ``torch_model``,
``tokenizer`` and ``training`` (the small torch classifier and how it is trained), ``hf_model`` (a
local transformers checkpoint). The optional dependencies (httpx, torch, transformers) load only
when such a model is built.

May import: ``engine.errors``, ``engine.redaction``, ``engine.data``, ``engine.causal`` (the lookup
oracle and training regenerate task questions), ``pytest_causal_eval.atomicio``.
"""
