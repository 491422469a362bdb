#!/usr/bin/env python3
"""Straightforward reference implementations of the two byte-level BPE tokenizers the C++ engine reads
(llm/tokenizer_tiktoken.cpp, llm/tokenizer_hf.cpp), written independently of it for the test fixtures:

- pre-tokenisation uses the real regular expressions with the `regex` module (pip install regex), where the
  C++ side implements them by hand;
- merging is the plain quadratic loop (tiktoken's _educational.py / the Hugging Face BPE definition): merge
  the adjacent pair of lowest rank, leftmost among equals, until none merges; the C++ side uses a priority
  queue over a linked list.

Special tokens are matched first (longest spelling first), as the C++ encode() does.
"""

import base64
import json

import regex

GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
CL100K_PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)


def gpt2_byte_to_char():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def split_specials(text, specials):
    """Yields (is_special, str) segments, specials matched longest first at the earliest position."""
    if not specials:
        yield False, text
        return
    pat = regex.compile("|".join(regex.escape(s) for s in sorted(specials, key=len, reverse=True)))
    pos = 0
    for m in pat.finditer(text):
        if m.start() > pos:
            yield False, text[pos : m.start()]
        yield True, m.group(0)
        pos = m.end()
    if pos < len(text):
        yield False, text[pos:]


class Tiktoken:
    def __init__(self, ranks, offset=4, specials=None, pattern=CL100K_PATTERN):
        self.ranks = ranks  # bytes -> rank
        self.offset = offset
        self.specials = dict(specials or {})  # spelling -> final id
        if offset == 4:
            self.specials.update({"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3})
        self.pat = regex.compile(pattern)

    def bpe(self, piece):
        if piece in self.ranks:
            return [self.ranks[piece]]
        parts = [bytes([b]) for b in piece]
        while True:
            best = None
            for i in range(len(parts) - 1):
                r = self.ranks.get(parts[i] + parts[i + 1])
                if r is not None and (best is None or r < best[0]):
                    best = (r, i)
            if best is None:
                break
            i = best[1]
            parts = parts[:i] + [parts[i] + parts[i + 1]] + parts[i + 2 :]
        return [self.ranks[p] for p in parts]

    def encode(self, text):
        out = []
        for special, seg in split_specials(text, self.specials):
            if special:
                out.append(self.specials[seg])
                continue
            for piece in self.pat.findall(seg):
                out.extend(r + self.offset for r in self.bpe(piece.encode("utf-8")))
        return out


class HfByteLevelBpe:
    def __init__(self, vocab, merges, added, pattern=GPT2_PATTERN):
        self.vocab = vocab  # byte-level string -> id
        self.merges = {}  # (id, id) -> (rank, merged id)
        for rank, (a, b) in enumerate(merges):
            self.merges.setdefault((vocab[a], vocab[b]), (rank, vocab[a + b]))
        self.added = dict(added)  # content -> id
        self.b2c = gpt2_byte_to_char()
        self.pat = regex.compile(pattern)

    def bpe(self, piece):
        word = [self.vocab[self.b2c[b]] for b in piece]
        while True:
            best = None
            for i in range(len(word) - 1):
                m = self.merges.get((word[i], word[i + 1]))
                if m is not None and (best is None or m[0] < best[0]):
                    best = (m[0], i, m[1])
            if best is None:
                break
            _, i, new = best
            word[i : i + 2] = [new]
        return word

    def encode(self, text):
        out = []
        for special, seg in split_specials(text, self.added):
            if special:
                out.append(self.added[seg])
                continue
            for piece in self.pat.findall(seg):
                out.extend(self.bpe(piece.encode("utf-8")))
        return out


def read_tiktoken(path):
    ranks = {}
    with open(path, "rb") as f:
        for line in f:
            if line.strip():
                tok, rank = line.split()
                ranks[base64.b64decode(tok)] = int(rank)
    return ranks


def read_hf(path):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in doc["model"]["merges"]]
    added = {t["content"]: t["id"] for t in doc.get("added_tokens") or []}
    return HfByteLevelBpe(doc["model"]["vocab"], merges, added)
