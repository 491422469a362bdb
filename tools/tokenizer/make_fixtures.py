#!/usr/bin/env python3
"""Writes the tokenizer test fixtures under tests/data/tokenizer/ (run from the repository root):

  tiny.tiktoken            a tiktoken rank file: 256 single bytes (ranked by corpus frequency, so rank != byte)
                           then MERGES tokens learnt by a tiny deterministic BPE training on CORPUS with the
                           cl100k_base pre-tokenisation
  tiny_hf/tokenizer.json   a Hugging Face byte-level BPE (GPT-2 pre-tokenizer) trained the same way, with
                           added tokens
  tiktoken_expected.json   {"config": ..., "cases": [{"text", "ids"}]}: encodings by reference_bpe.py
  split_expected.json      {"<pattern>": [{"text", "pieces"}]}: the pre-tokenizer regexes' matches on TEXTS and
                           on seeded random strings over an alphabet of tricky characters
  hf_expected.json         the same for the Hugging Face fixture

Training: count adjacent pairs over the pre-tokens (weighted by frequency), merge the most frequent pair
(ties: the smallest (left bytes, right bytes)), repeat. Everything is deterministic.
Requires the `regex` module (pip install regex).
"""

import base64
import collections
import json
import os
import random

import regex

import reference_bpe as ref

OUT = "tests/data/tokenizer"
MERGES = 300

CORPUS = """\
The quick brown fox jumps over the lazy dog. It's a dog's life, isn't it? They're sure we'll see what you've
got; I'm told he'd rather not. THE END. Numbers: 1, 22, 333, 4444, 55555, 2024-05-09, 3.14159, 1000000.
Whitespace   runs,	tabs		and
newlines

matter. def encode(self, text):
    return [self.ranks[p] for p in parts]  # comment
Größe, naïve café, Ελληνικά γράμματα, русский текст, 中文字符测试, 日本語のテキスト, 한국어 문장.
Emoji: 👍🏽 🎉 👨‍👩‍👧 ❤️. The camera saw a person walking near the door at 12:30, then a car parked.
What happened in the video? A person opened the door. The person walked to the car and the car left.
""" * 3 + "the the the there their they them then that this those these thing think thought through\n" * 4 + (
    "xxxxxxxxxxxxxxxx aaaa aaaaaaaa 1234567890 2024 2025 1999 123 456 789 100 200 300 12:30 45678 999999\n" * 6
)

TEXTS = [
    "Hello world",
    "It's done, isn't it? They're here; I've seen it, I'm sure we'll go, he'd say.",
    "IT'S DONE. They'RE HERE. WE'LL go. I'M ok. He'D. 'Sound 'tis 'reason",
    "'ſ long s folds to s in (?i)",
    "Numbers: 1 12 123 1234 12345 123456 1234567 3.14159 2024-05-09 1,000,000 x42y 007",
    "a  b   c\t\td\n\n\ne \r\n f  \n  g   ",
    "   leading spaces and trailing spaces   ",
    "\n\nstart with newlines\n",
    "Größe naïve café Ελληνικά русский 中文字符 日本語テキスト 한국어",
    "Emoji 👍🏽 👨‍👩‍👧 🎉🎉 ❤️ end",
    "def f(x):\n    return x**2  # comment\n\tpass\r\n",
    "Hello!!! ...?? (yes) [no] {maybe} <tag> a->b && c||d",
    "abc123def4567ghi",
    "The camera saw a person walking near the door at 12:30, then a car parked.",
    "x" * 700,
    "ab" * 600,
    "the" * 300 + " " + "ther" * 200,
    "",
    " ",
    "\n",
    "   \n   ",
    "!",
    "’quotes‘ “double” «guillemets» — dash – en … ellipsis",
    "Ünïcödé ÀÉÎÕÜ ſtraße ǅ ǈ ꙮ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ①②③ ½ Ⅻ ٣٤٥ ৩৪",
    "\u00a0nbsp\u2003em space\u3000ideographic\u2028line sep",
]


# Characters whose classes the pre-tokenizer regexes distinguish: letters (ASCII, Latin-1, Greek, CJK, long s,
# title case), numbers (digits, superscripts, fractions, roman numerals, Arabic-Indic), every kind of
# whitespace, newlines, apostrophes, punctuation, symbols and emoji parts (ZWJ, variation selector, modifiers).
ALPHABET = list("aZsStTrReEvVmMlLdD'’ \t\n\r\x0b\x0c.,!?-_()<>|/\\\"#$%&*+=@^`~{}[];:0123456789") + [
    "ſ", "é", "ß", "Ω", "ǅ", "中", "日", "ア", "한", "²", "½", "Ⅻ", "٣", "৩", "\u00a0", "\u1680", "\u2003",
    "\u2028", "\u2029", "\u202f", "\u205f", "\u3000", "\x85", "\x1c", "\u200b", "\u200d", "\ufe0f", "👍", "🏽",
    "𝔘", "\U0001F600", "°", "€", "\u0301",
]
SPLIT_EDGE_CASES = [
    "'ſa 'Sa 'sa 'ſ 'LL 'Re 'VE 'M 'D 'T 'x '", "a'sb", "don'T", "  'll", "\n'd",
    "123456789", "12 345 6789 1a2b3c", "x²½Ⅻ٣৩1", "a\n\n b", "a \n b", " \n\n ", "\r\n\r\n", "a\u00a0b",
    "a\u00a0\u00a0b", "!!\n\n", " !!\n\nx", "\t!x", " \tx", "\u3000x", "x\u3000", "   ", "a   ", "  a",
    "\n  \n  x", "tab\t\tword", "$100.00 for 3 items", "e\u0301te", "👍🏽👍", " 👍", "👍x",
]


def make_split():
    rng = random.Random(20240509)
    texts = TEXTS + SPLIT_EDGE_CASES
    for _ in range(250):
        texts.append("".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 24))))
    out = {}
    for name, pattern in [("gpt2", ref.GPT2_PATTERN), ("cl100k", ref.CL100K_PATTERN),
                          ("cl100k_single_digit", ref.CL100K_PATTERN.replace(r"\p{N}{1,3}", r"\p{N}"))]:
        pat = regex.compile(pattern)
        cases = []
        for t in texts:
            pieces = pat.findall(t)
            assert "".join(pieces) == t, (name, t)
            cases.append({"text": t, "pieces": pieces})
        out[name] = cases
    with open(os.path.join(OUT, "split_expected.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=0)


def train(words, n_merges):
    """words: Counter of pre-token bytes. Returns the merges as (left bytes, right bytes) in order."""
    seqs = {w: [bytes([b]) for b in w] for w in words}
    merges = []
    for _ in range(n_merges):
        counts = collections.Counter()
        for w, parts in seqs.items():
            for a, b in zip(parts, parts[1:]):
                counts[(a, b)] += words[w]
        if not counts:
            break
        best = min(counts, key=lambda p: (-counts[p], p))
        merges.append(best)
        for w, parts in seqs.items():
            out, i = [], 0
            while i < len(parts):
                if i + 1 < len(parts) and (parts[i], parts[i + 1]) == best:
                    out.append(parts[i] + parts[i + 1])
                    i += 2
                else:
                    out.append(parts[i])
                    i += 1
            seqs[w] = out
    return merges


def pretokens(pattern):
    return collections.Counter(p.encode("utf-8") for p in regex.findall(pattern, CORPUS))


def byte_order():
    freq = collections.Counter(CORPUS.encode("utf-8"))
    return sorted(range(256), key=lambda b: (-freq[b], b))


def make_tiktoken():
    merges = train(pretokens(ref.CL100K_PATTERN), MERGES)
    ranks = {}
    for b in byte_order():
        ranks[bytes([b])] = len(ranks)
    for a, b in merges:
        if a + b not in ranks:
            ranks[a + b] = len(ranks)
    with open(os.path.join(OUT, "tiny.tiktoken"), "wb") as f:
        for tok, rank in ranks.items():
            f.write(base64.b64encode(tok) + b" " + str(rank).encode() + b"\n")
    n = len(ranks)
    specials = {"<|endoftext|>": n + 1, "<|question|>": n + 3}  # tiktoken ids (before the offset)
    config = {"type": "tiktoken", "file": "tiny.tiktoken", "offset": 4, "specials": specials, "eos": "<|endoftext|>"}
    tk = ref.Tiktoken(ranks, offset=4, specials={k: v + 4 for k, v in specials.items()})
    texts = TEXTS + ["<s>Question:<|question|> what?<|endoftext|></s>", "<|endoftext|><|endoftext|>x<pad>"]
    cases = [{"text": t, "ids": tk.encode(t)} for t in texts]
    with open(os.path.join(OUT, "tiktoken_expected.json"), "w", encoding="utf-8") as f:
        json.dump({"config": config, "vocab_size": 4 + n + 4, "cases": cases}, f, ensure_ascii=False, indent=1)


def make_hf():
    merges = train(pretokens(ref.GPT2_PATTERN), MERGES)
    b2c = ref.gpt2_byte_to_char()
    vocab = {}
    for b in byte_order():
        vocab[b2c[b]] = len(vocab)
    merge_strs = []
    for a, b in merges:
        sa = "".join(b2c[x] for x in a)
        sb = "".join(b2c[x] for x in b)
        if sa + sb not in vocab:
            vocab[sa + sb] = len(vocab)
        merge_strs.append(f"{sa} {sb}")
    n = len(vocab)
    added = [
        {"id": n, "content": "<|endoftext|>", "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": False, "special": True},
        {"id": n + 1, "content": "<|im_start|>", "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": False, "special": True},
        {"id": n + 2, "content": "<frame>", "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": False, "special": True},
    ]
    doc = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "vocab": vocab,
            "merges": merge_strs,
        },
    }
    os.makedirs(os.path.join(OUT, "tiny_hf"), exist_ok=True)
    with open(os.path.join(OUT, "tiny_hf", "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
    hf = ref.read_hf(os.path.join(OUT, "tiny_hf", "tokenizer.json"))
    texts = TEXTS + ["<|im_start|>user\n<frame><frame> what?<|endoftext|>", "<frame>x<|endoftext|>"]
    cases = [{"text": t, "ids": hf.encode(t)} for t in texts]
    config = {"type": "hf", "file": "tiny_hf/tokenizer.json", "eos": "<|endoftext|>"}
    with open(os.path.join(OUT, "hf_expected.json"), "w", encoding="utf-8") as f:
        json.dump({"config": config, "vocab_size": n + 3, "cases": cases}, f, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    make_tiktoken()
    make_hf()
    make_split()
