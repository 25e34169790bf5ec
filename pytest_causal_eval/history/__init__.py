"""Run history: every enabled run's per-measurement summaries in an embedded SQLite database.

``records`` turns a run into rows (pure), ``store`` reads and writes the database (I/O, no
statistics), ``changepoints`` finds the runs where a benchmark stepped (pure), ``trends`` renders
sparklines and steps for the terminal (pure). Import the submodules; this package module stays
empty so the plugin's option parsing does not load SQLite.
"""
