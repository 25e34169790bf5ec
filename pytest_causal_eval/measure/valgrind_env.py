"""Environment variables instruction mode's launcher sets for the re-run, light to import."""

from __future__ import annotations

__all__ = ["ENV_PINNED_BY_PLUGIN"]

# The thread variables the launcher pinned (comma-separated): the plugin's, not the user's; the
# machine key ignores them (``environment.fingerprint.thread_settings``), so both modes of one
# machine share one baseline file.
ENV_PINNED_BY_PLUGIN = "CAUSAL_EVAL_PINNED_THREADS"
