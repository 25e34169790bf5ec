"""The pytest arguments the gate's tests run their fake-clock projects with (``conftest.py``):
the plugin on, 200 ms of rounds a measurement, no warm-up, no cache."""

ARGS = (
    "-p",
    "no:cacheprovider",
    "--causal-eval",
    "--causal-eval-max-time",
    "200ms",
    "--causal-eval-warmup",
    "off",
)
