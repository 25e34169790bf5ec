"""Any engine model behind an OpenAI-compatible HTTP endpoint.

``server`` (the starlette app ``causal-eval serve`` runs, with seeded fault injection),
``local_server`` (``LocalServer``: that command in a subprocess on 127.0.0.1, for tests and suites).

May import: ``engine.errors``, ``engine.data``, ``engine.models``; starlette and httpx (extra ``http``).
"""
