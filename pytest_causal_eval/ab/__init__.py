"""A/B runs of two revisions in git worktrees, and sharding suites across runners."""
