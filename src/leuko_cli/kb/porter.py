"""The Porter stemmer exactly as SQLite's FTS5 `porter` tokenizer applies it.

Only the plain-Python search (used when the sqlite3 build has no FTS5) needs this: it must
stem words the way FTS5 does, or the two engines would find different entries. FTS5 works on
the token's UTF-8 bytes, leaves tokens shorter than 3 or longer than 64 bytes alone, treats
every byte that is not an ASCII vowel as a consonant, and, at each step, tries only the first
listed suffix that the word ends with (a word must be longer than the suffix). So does this
module: it works on the bytes decoded as latin-1, one character per byte.
"""

from __future__ import annotations

from functools import lru_cache

_VOWELS = "aeiou"


def _vowel(ch: str, y_is_vowel: bool) -> bool:
    return ch in _VOWELS or (y_is_vowel and ch == "y")


def _vc_end(stem: str, previous_consonant: bool) -> int:
    """Length of the shortest prefix holding one vowel run followed by a consonant (one
    "VC" of Porter's measure m), or 0 if there is none."""
    consonant = previous_consonant
    i = 0
    while i < len(stem):
        consonant = not _vowel(stem[i], consonant)
        if not consonant:
            break
        i += 1
    i += 1
    while i < len(stem):
        consonant = not _vowel(stem[i], consonant)
        if consonant:
            return i + 1
        i += 1
    return 0


def _m_gt0(stem: str) -> bool:
    return _vc_end(stem, False) != 0


def _m_gt1(stem: str) -> bool:
    n = _vc_end(stem, False)
    return bool(n) and _vc_end(stem[n:], True) != 0


def _m_eq1(stem: str) -> bool:
    n = _vc_end(stem, False)
    return bool(n) and _vc_end(stem[n:], True) == 0


def _cvc(stem: str) -> bool:
    """Porter's *o: the stem ends consonant-vowel-consonant, the last not w, x or y."""
    if not stem or stem[-1] in "wxy":
        return False
    mask, consonant = 0, False
    for ch in stem:
        consonant = not _vowel(ch, consonant)
        mask = (mask << 1) | consonant
    return mask & 7 == 5


def _m_gt1_s_or_t(stem: str) -> bool:
    return stem[-1:] in ("s", "t") and _m_gt1(stem)


def _has_vowel(stem: str) -> bool:
    return any(_vowel(ch, i > 0) for i, ch in enumerate(stem))


# (suffix, condition on the stem, replacement), in FTS5's order of trial
_STEP2 = [
    ("ational", _m_gt0, "ate"),
    ("tional", _m_gt0, "tion"),
    ("enci", _m_gt0, "ence"),
    ("anci", _m_gt0, "ance"),
    ("izer", _m_gt0, "ize"),
    ("logi", _m_gt0, "log"),
    ("bli", _m_gt0, "ble"),
    ("alli", _m_gt0, "al"),
    ("entli", _m_gt0, "ent"),
    ("eli", _m_gt0, "e"),
    ("ousli", _m_gt0, "ous"),
    ("ization", _m_gt0, "ize"),
    ("ation", _m_gt0, "ate"),
    ("ator", _m_gt0, "ate"),
    ("alism", _m_gt0, "al"),
    ("iveness", _m_gt0, "ive"),
    ("fulness", _m_gt0, "ful"),
    ("ousness", _m_gt0, "ous"),
    ("aliti", _m_gt0, "al"),
    ("iviti", _m_gt0, "ive"),
    ("biliti", _m_gt0, "ble"),
]
_STEP3 = [
    ("ical", _m_gt0, "ic"),
    ("ness", _m_gt0, ""),
    ("icate", _m_gt0, "ic"),
    ("iciti", _m_gt0, "ic"),
    ("ful", _m_gt0, ""),
    ("ative", _m_gt0, ""),
    ("alize", _m_gt0, "al"),
]
_STEP4 = [
    ("al", _m_gt1, ""),
    ("ance", _m_gt1, ""),
    ("ence", _m_gt1, ""),
    ("er", _m_gt1, ""),
    ("ic", _m_gt1, ""),
    ("able", _m_gt1, ""),
    ("ible", _m_gt1, ""),
    ("ant", _m_gt1, ""),
    ("ement", _m_gt1, ""),
    ("ment", _m_gt1, ""),
    ("ent", _m_gt1, ""),
    ("ion", _m_gt1_s_or_t, ""),
    ("ou", _m_gt1, ""),
    ("ism", _m_gt1, ""),
    ("ate", _m_gt1, ""),
    ("iti", _m_gt1, ""),
    ("ous", _m_gt1, ""),
    ("ive", _m_gt1, ""),
    ("ize", _m_gt1, ""),
]


def _apply(word: str, rules: list) -> str:
    for suffix, condition, replacement in rules:
        if len(word) > len(suffix) and word.endswith(suffix):
            stem = word[: -len(suffix)]
            return stem + replacement if condition(stem) else word
    return word


def _step1b(word: str) -> tuple[str, bool]:
    """-eed, -ed, -ing; True when -ed or -ing was removed (step 1b's second part runs)."""
    if len(word) > 3 and word.endswith("eed"):
        return (word[:-1], False) if _m_gt0(word[:-3]) else (word, False)
    for suffix in ("ed", "ing"):
        if len(word) > len(suffix) and word.endswith(suffix):
            stem = word[: -len(suffix)]
            return (stem, True) if _has_vowel(stem) else (word, False)
    return word, False


def _stem_latin1(w: str) -> str:
    # step 1a: plurals
    if w.endswith("s"):
        if w[-2] == "e":
            w = (
                w[:-2]
                if (len(w) > 4 and w[-4:-2] == "ss") or (len(w) > 3 and w[-3] == "i")
                else w[:-1]
            )
        elif w[-2] != "s":
            w = w[:-1]
    w, removed = _step1b(w)
    if removed:
        for short, long in (("at", "ate"), ("bl", "ble"), ("iz", "ize")):
            if len(w) > 2 and w.endswith(short):
                w = w[:-2] + long
                break
        else:
            last = w[-1]
            if len(w) > 1 and not _vowel(last, False) and last not in "lsz" and last == w[-2]:
                w = w[:-1]
            elif _m_eq1(w) and _cvc(w):
                w += "e"
    # step 1c
    if w.endswith("y") and _has_vowel(w[:-1]):
        w = w[:-1] + "i"
    w = _apply(_apply(_apply(w, _STEP2), _STEP3), _STEP4)
    # step 5a, 5b
    if w.endswith("e") and (_m_gt1(w[:-1]) or (_m_eq1(w[:-1]) and not _cvc(w[:-1]))):
        w = w[:-1]
    if len(w) > 1 and w.endswith("ll") and _m_gt1(w[:-1]):
        w = w[:-1]
    return w


@lru_cache(maxsize=1 << 16)  # a pure function; a KB's ~39,000 indexed words are ~6,000 tokens
def stem(token: str) -> str:
    """The FTS5 porter stem of one lower-case token."""
    raw = token.encode("utf-8")
    if not 3 <= len(raw) <= 64:
        return token
    return _stem_latin1(raw.decode("latin-1")).encode("latin-1").decode("utf-8", "replace")
