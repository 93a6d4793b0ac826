"""`leuko search QUERY`: offline ranked search (BM25F) over the whole knowledge base.

Pure Python (no Typer, no Rich). Each KB entry is a document made of weighted fields (a cause's
name and synonyms count more than its summary); term frequencies are summed with the field
weights before the BM25 saturation, as BM25F does. Tokens are casefolded alphanumeric runs with
a light suffix stemmer, so "neutropenic"/"neutropenia" stay apart but "counts"/"count" meet.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from .errors import InputError
from .kb import KnowledgeBase

K1 = 1.2
B = 0.75
TITLE_BOOST = 2.0  # the whole query equals the title, id or a synonym
PHRASE_BOOST = 1.5  # a query of several words appears as a phrase in the title or a synonym
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
STOPWORDS = frozenset("a an and are as at be by for from in is it of on or the to with".split())


def stem(token: str) -> str:
    """A deliberately light stemmer: plurals and -ing/-ed, nothing that merges medical terms."""
    if len(token) <= 3 or token.isdigit():
        return token
    if token.endswith("ies") and len(token) > 4:
        return token[:-3] + "y"
    if token.endswith("sses"):
        return token[:-2]
    if token.endswith("s") and not token.endswith(("ss", "us", "is")):
        return token[:-1]
    if token.endswith("ing") and len(token) > 5:
        return token[:-3]
    if token.endswith("ed") and len(token) > 4:
        return token[:-2]
    return token


def tokens(text: str) -> list[str]:
    # fold µ/μ and dashes; "B12" stays one token, "b-12" becomes "b", "12"
    text = text.casefold().replace("µ", "u").replace("μ", "u")
    return [stem(t) for t in _TOKEN.findall(text) if t not in STOPWORDS]


def _fold(text: str) -> str:
    return " ".join(_TOKEN.findall(text.casefold()))


@dataclass
class Doc:
    kind: str
    id: str
    title: str
    fields: list[tuple[float, str]]  # (weight, text)
    names: list[str]  # title, id and synonyms: exact-match bonus
    tf: Counter
    length: float


def _doc(kind: str, ident: str, title: str, fields: list[tuple[float, str | list | None]],
         names: list[str] | None = None) -> Doc:
    flat: list[tuple[float, str]] = []
    for weight, value in fields:
        if not value:
            continue
        for text in ([value] if isinstance(value, str) else value):
            if text:
                flat.append((weight, str(text)))
    tf: Counter = Counter()
    length = 0.0
    for weight, text in flat:
        for tok in tokens(text):
            tf[tok] += weight
            length += weight
    return Doc(kind, ident, title, flat, [title, ident, *(names or [])], tf, length)


def documents(kb: KnowledgeBase) -> list[Doc]:
    docs: list[Doc] = []
    for c in kb.table("causes"):
        docs.append(_doc("cause", c["id"], c["name"], [
            (4, c["name"]), (3, c["synonyms"]), (2, c["id"].replace("-", " ")),
            (1, c["summary"]), (1, c.get("mechanism_detail")), (0.7, c["features"]),
            (0.5, c["workup"]), (0.5, c["management"]), (0.3, c.get("patient_summary"))],
            c["synonyms"]))
    for s in kb.table("scales"):
        docs.append(_doc("scale", s["id"], f"{s['name']} ({s['system']} {s['version']})", [
            (3, s["name"]), (2, s["term"]), (1, f"{s['system']} {s['version']}"),
            (1, s.get("definition")), (0.5, s.get("note")),
            (0.5, [f"{b['label']} {b.get('meaning') or ''}" for b in s["bands"]])]))
    for w in kb.table("workup"):
        docs.append(_doc("workup", w["id"], f"Workup step {w['step']}: {w['title']}", [
            (3, w["title"]), (1, w["detail"]), (0.7, w.get("items"))]))
    for m in kb.table("management"):
        docs.append(_doc("management", m["id"], m["topic"], [
            (3, m["topic"]), (1, m["summary"]), (0.7, m.get("items"))]))
    for p in kb.table("presentation"):
        docs.append(_doc("presentation", p["id"], p["name"], [
            (3, p["name"]), (1, p["summary"])]))
    for a in kb.table("classification"):
        docs.append(_doc("classification", a["id"], f"Classification: {a['axis']}", [
            (3, a["axis"]), (1, a["summary"]),
            (0.7, [f"{o['name']}: {o['description']}" for o in a["options"]])]))
    for r in kb.table("fever_rules"):
        docs.append(_doc("fever_rule", r["id"], r["name"], [
            (3, r["name"]), (1, r["summary"]), (0.7, r.get("emergency_action")),
            (0.5, r.get("note"))]))
    for d in kb.table("drug_monitoring"):
        docs.append(_doc("drug_monitoring", d["id"], d["name"], [
            (2, d["name"]), (1.5, [d["drug"], *d["synonyms"]]), (0.5, d.get("note")),
            (0.5, [f"{b['label']} {b.get('action') or ''}" for b in d["bands"]])]))
    for s in kb.table("scores"):
        docs.append(_doc("score", s["id"], s["name"], [
            (3, s["name"]), (1, s["summary"]), (0.5, s.get("limits"))]))
    return docs


class Index:
    def __init__(self, docs: list[Doc]):
        self.docs = docs
        self.n = len(docs)
        self.avg = (sum(d.length for d in docs) / self.n) if self.n else 1.0
        df: Counter = Counter()
        for d in docs:
            df.update(d.tf.keys())
        self.idf = {t: math.log(1 + (self.n - f + 0.5) / (f + 0.5)) for t, f in df.items()}

    def score(self, doc: Doc, terms: list[str]) -> float:
        s = 0.0
        norm = K1 * (1 - B + B * doc.length / (self.avg or 1.0))
        for t in terms:
            tf = doc.tf.get(t)
            if tf:
                s += self.idf[t] * tf * (K1 + 1) / (tf + norm)
        return s

    def search(self, query: str, limit: int = 10) -> list[dict]:
        terms = list(dict.fromkeys(tokens(query)))
        if not terms:
            return []
        phrase = _fold(query)
        hits = []
        for doc in self.docs:
            s = self.score(doc, terms)
            if s <= 0:
                continue
            names = [_fold(n) for n in doc.names]
            if phrase in names:
                s *= TITLE_BOOST
            elif len(terms) > 1 and any(f" {phrase} " in f" {n} " for n in names):
                s *= PHRASE_BOOST
            hits.append((s, doc))
        hits.sort(key=lambda h: (-h[0], h[1].kind != "cause", h[1].id))
        return [{"kind": d.kind, "id": d.id, "title": d.title, "score": round(s, 4),
                 "snippet": snippet(d, terms)} for s, d in hits[:limit]]


def snippet(doc: Doc, terms: list[str], width: int = 160) -> str:
    """A piece of the first lower-weight text that mentions a query term (else the first)."""
    wanted = set(terms)
    texts = sorted(doc.fields, key=lambda f: abs(f[0] - 1))  # prefer the summary-like text
    chosen = None
    for _w, text in texts:
        if len(text) > 40 and wanted & set(tokens(text)):
            chosen = text
            break
    if chosen is None:
        chosen = next((t for w, t in texts if len(t) > 40), doc.fields[0][1] if doc.fields
                      else "")
    chosen = " ".join(chosen.split())
    if len(chosen) <= width:
        return chosen
    low = chosen.casefold()
    pos = min((low.find(t[:4]) for t in terms if low.find(t[:4]) >= 0), default=0)
    start = max(0, pos - width // 3)
    piece = chosen[start:start + width].strip()
    return ("…" if start else "") + piece + ("…" if start + width < len(chosen) else "")


def search(kb: KnowledgeBase, query: str, limit: int = 10) -> list[dict]:
    if not query or not query.strip():
        raise InputError("give a search query, e.g. leuko search clozapine")
    if limit < 1:
        raise InputError(f"--limit must be at least 1 (got {limit})")
    if not tokens(query):
        raise InputError(f"the query {query!r} has no searchable words; try a drug, "
                         "cause or term, e.g. leuko search 'febrile neutropenia'")
    return Index(documents(kb)).search(query, limit)
