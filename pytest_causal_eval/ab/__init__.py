"""A/B runs of two revisions in git worktrees (``causal-eval ab``)."""
