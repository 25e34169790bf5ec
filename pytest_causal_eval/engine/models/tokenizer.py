"""A deterministic hashed-feature tokenizer for the torch classifier (pure string work, no torch).

A prompt becomes a bag of feature ids in ``[0, buckets)``:

* optionally words and word bigrams (lower-cased; numbers kept as tokens),
* one *template* feature per sentence (the sentence with its numbers replaced by ``#``), and for a
  sentence stating a percentage, the template joined with the percentage's decile - this lets a
  bag-of-features model see "P(recovery | drug) is high" rather than two unrelated tokens.

Ids come from CRC-32 of the feature text (stable across processes and Python versions; Python's
``hash()`` is salted per process and must not be used).
"""

from __future__ import annotations

import itertools
import re
import zlib
from collections.abc import Sequence

__all__ = ["HashTokenizer"]

_WORD = re.compile(r"[a-z]+|\d+")
_SENTENCE = re.compile(r"(?<=[.?!])\s+|\n+")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)%")


class HashTokenizer:
    """Prompt -> list of hashed feature ids. ``version`` changes whenever the features change."""

    version = 1

    def __init__(
        self, buckets: int = 1 << 16, max_features: int = 1024, words: bool = False, bigrams: bool = False
    ) -> None:
        if buckets < 2:
            raise ValueError(f"buckets must be >= 2, got {buckets}")
        self.buckets = int(buckets)
        self.max_features = int(max_features)
        self.words = bool(words)
        self.bigrams = bool(bigrams)

    def config(self) -> dict[str, int]:
        return {
            "version": self.version,
            "buckets": self.buckets,
            "max_features": self.max_features,
            "words": int(self.words),
            "bigrams": int(self.bigrams),
        }

    def _id(self, feature: str) -> int:
        return zlib.crc32(feature.encode("utf-8")) % self.buckets

    def features(self, text: str) -> list[str]:
        """The feature strings of ``text`` (for inspection and tests)."""
        lowered = text.lower()
        words = _WORD.findall(lowered) if self.words or self.bigrams else []
        feats = [f"w:{w}" for w in words] if self.words else []
        if self.bigrams:
            feats.extend(f"b:{a} {b}" for a, b in itertools.pairwise(words))
        for sentence in _SENTENCE.split(lowered):
            sentence = sentence.strip()
            if not sentence:
                continue
            template = _NUMBER.sub("#", sentence)
            feats.append(f"s:{template}")
            for match in _PERCENT.finditer(sentence):
                decile = min(9, int(float(match.group(1)) // 10))
                feats.append(f"p:{template}|{decile}")
        return feats[: self.max_features]

    def encode(self, text: str) -> list[int]:
        ids = [self._id(f) for f in self.features(text)]
        return ids or [0]

    def encode_batch(self, texts: Sequence[str]) -> tuple[list[int], list[int]]:
        """Flat ids and offsets, the input format of ``torch.nn.EmbeddingBag``."""
        flat: list[int] = []
        offsets: list[int] = []
        for text in texts:
            offsets.append(len(flat))
            flat.extend(self.encode(text))
        return flat, offsets
