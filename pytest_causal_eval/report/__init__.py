"""Reports: terminal table, JSON results, Markdown, HTML."""
