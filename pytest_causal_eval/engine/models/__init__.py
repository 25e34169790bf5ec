"""Models behind one batched protocol, and the registry that builds them by name.

``registry`` (the ``Model`` protocol, ``TextModel``, the reference models, ``create_model``),
``failures`` (``PartialFailure``: some questions of a batch failed), ``openai_model`` (any
OpenAI-compatible server, over httpx), ``torch_model``/``tokenizer``/``training`` (the small torch
classifier and how it is trained), ``hf_model`` (a local transformers checkpoint). The optional
dependencies (httpx, torch, transformers) load only when such a model is built.

May import: ``engine.errors``, ``engine.redaction``, ``engine.data``, ``engine.causal`` (the lookup
oracle and training regenerate task questions), ``pytest_causal_eval.atomicio``.
"""
