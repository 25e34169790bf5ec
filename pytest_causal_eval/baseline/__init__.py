"""Baseline files: schema + migrations, atomic writes, locking, machine keys."""
