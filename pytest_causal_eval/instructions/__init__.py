"""Instruction mode (``--causal-eval-mode=instructions``): deterministic instruction counts from
valgrind's callgrind beside (never instead of) wall time.

``feature``: the options and marker key; ``reexec``: the user's pytest command re-run under valgrind;
``plugin``: counting the measurements in that re-run. Nothing here is imported unless the mode is
asked for.
"""
