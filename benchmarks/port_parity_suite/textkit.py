"""A small text-processing library: the code the suite benchmarks."""

import asyncio
import json
import re

__version__ = "1.2.0"

_WORD = re.compile(r"[A-Za-z']+")


def words(text):
    return _WORD.findall(text.lower())


def frequencies(text):
    counts = {}
    for word in words(text):
        counts[word] = counts.get(word, 0) + 1
    return counts


def top(counts, n=10):
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def to_json(counts):
    return json.dumps(counts, sort_keys=True)


def from_json(text):
    return json.loads(text)


def wrap(text, width=60):
    lines, line = [], []
    for word in text.split():
        if sum(len(w) + 1 for w in line) + len(word) > width:
            lines.append(" ".join(line))
            line = []
        line.append(word)
    lines.append(" ".join(line))
    return "\n".join(lines)


async def frequencies_async(chunks):
    counts = {}
    for chunk in chunks:
        await asyncio.sleep(0)
        for word, n in frequencies(chunk).items():
            counts[word] = counts.get(word, 0) + n
    return counts
