"""`KnowledgeBase`: the loaded KB with id look-ups, cause matching and ranked search.

A plain class: dataclass code generation costs start-up time on every run. Built either from
a dict (the uncached path, and tests) or from an open store (store.py), in which case causes
stay undecoded until a query returns them. If the store turns out to be damaged mid-query,
the causes are rebuilt from the TOML sources (`rebuild`) and the query runs again on them.
"""

from __future__ import annotations

from leuko_cli.errors import InputError

from .store import Damaged

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from pathlib import Path

    from .store import Store


class _Rebuilt(Exception):
    """The causes were rebuilt from the sources mid-query: positions found so far are void."""


class KnowledgeBase:
    def __init__(
        self,
        data: dict,
        overlay_path: str | Path | None = None,
        overlay_status: str = "absent",
        *,
        store: Store | None = None,
        rebuild=None,
    ) -> None:
        data = dict(data)
        self.settings_origin: dict[str, str] = data.pop("settings_origin", None) or {
            k: "bundled" for k in data.get("settings") or {}
        }
        self._data = data
        self.overlay_path = overlay_path
        self.overlay_status = overlay_status  # absent | loaded
        self._by_id: dict = {}
        self._store = store
        self._rebuild = rebuild
        self._crcs: bytes | None = None
        self._index_text: bytes | None = None
        self._search = None  # an in-memory search engine, when there is no store to ask
        self._rows = self._vocab = None  # search.rows() and its words, built on first search
        if store is None:
            self._causes: list[dict | None] = data.get("causes", [])
        else:
            self._causes = [None] * store.count

    @property
    def data(self) -> dict:
        """Every table as a plain dict (decodes all causes)."""
        self.table("references")
        if "causes" not in self._data:
            try:
                self._decode(range(len(self._causes)))
            except _Rebuilt:
                pass  # the rebuild set data["causes"]
            self._data.setdefault("causes", self._causes)
        return self._data

    def table(self, name: str) -> list[dict]:
        if name == "causes":
            return self.data["causes"]
        if name == "references" and name not in self._data and self._store is not None:
            self._retry(self._load_references)
        return self._data.get(name, [])

    def _load_references(self) -> None:
        """The references from the store (a blob of their own: most answers need none)."""
        if "references" in self._data or self._store is None:
            return  # a rebuild put them there
        try:
            self._data["references"] = self._store.references()
        except Damaged:
            self._replace_damaged_store()
            raise _Rebuilt from None

    def get(self, table: str, ident: str) -> dict | None:
        if table == "causes":
            return self._retry(self._cause_by_id, ident)
        idx = self._by_id.get(table)
        if idx is None:
            idx = self._by_id[table] = {e["id"]: e for e in self.table(table)}
        return idx.get(ident)

    @property
    def meta(self) -> dict:
        return self._data["meta"]

    @property
    def settings(self) -> dict:
        return self._data["settings"]

    def disclaimer(self, audience: str = "clinician") -> str:
        """The one-line disclaimer an answer for this audience ends with (and carries in JSON)."""
        return self.settings["patient_disclaimer" if audience == "patient" else "disclaimer"]

    def reference_numbers(self) -> dict[str, int]:
        """Stable citation numbers: the order of [[references]] in the KB."""
        return {r["id"]: n for n, r in enumerate(self.table("references"), start=1)}

    # --- causes, through the index ------------------------------------------------------------

    def match_causes(
        self, *, category: str | None = None, lineage: str | None = None, needle: str | None = None
    ) -> list[dict]:
        """Causes in KB order, filtered by category id and lineage (a cause affecting all
        leukocytes matches every lineage); with a folded `needle`, those whose id, name or a
        synonym equals it come first, then those where it occurs in a name or the summary."""
        return self._retry(
            lambda: self._decode(_match().match(self._index(), category, lineage, needle))
        )

    def _retry(self, query, *args):
        try:
            return query(*args)
        except _Rebuilt:
            return query(*args)  # everything is decoded in memory now: cannot recur

    def _index(self) -> bytes:
        if self._index_text is None:
            if self._store is not None:
                try:
                    self._crcs, self._index_text = self._store.cause_index()
                except Damaged:
                    self._replace_damaged_store()
                    raise _Rebuilt from None
            else:
                self._index_text = _match().index_text(self._causes)
        return self._index_text

    def _cause_by_id(self, ident: str) -> dict | None:
        if self._store is None:  # all decoded: a dict, as for the other tables
            by_id = self._by_id.get("causes")
            if by_id is None:
                by_id = self._by_id["causes"] = {c["id"]: c for c in self._causes}
            return by_id.get(ident)
        position = _match().position_of(self._index(), ident)
        return None if position is None else self._decode([position])[0]

    def _decode(self, positions) -> list[dict]:
        """The causes at these positions, reading and checking any not yet decoded."""
        missing = [p for p in positions if self._causes[p] is None]
        if missing:
            try:
                self._index()
                for position, cause in zip(missing, self._store.causes(missing, self._crcs)):
                    self._causes[position] = cause
            except Damaged:
                self._replace_damaged_store()
                raise _Rebuilt from None
        return [self._causes[p] for p in positions]

    def _replace_damaged_store(self) -> None:
        fresh = self._rebuild()  # normally the same causes; the overlay may have changed since
        self._causes = fresh["causes"]
        self._data["causes"] = fresh["causes"]
        self._data["references"] = fresh.get("references", [])
        self._store = None
        self._index_text = self._crcs = None
        self._search = None
        self._rows = self._vocab = None
        self._by_id.pop("causes", None)

    # --- ranked search ------------------------------------------------------------------------

    def search(self, query: str, limit: int = 10) -> list[dict]:
        """Entries of every kind ranked for `query` (bm25 with name fields weighted over text):
        dicts with kind, id, title, score and snippet, best first."""
        from . import search as engine

        if not query or not query.strip():
            raise InputError("give a search query, e.g. leuko search clozapine")
        if limit < 1:
            raise InputError(f"--limit must be at least 1 (got {limit})")
        expanded, used = engine.expand(query, self.table("synonyms"))
        query_words = engine.query_terms(expanded)
        if not query_words:
            raise InputError(
                f"the query {query!r} has no searchable words; try a drug, "
                "cause or term, e.g. leuko search 'febrile neutropenia'"
            )
        if any(not self._hits([w]) for w in query_words):
            # a word no entry holds: correct it against the index's words (this decodes every
            # cause, so only a query with an unknown word pays for it)
            query_words = engine.correct(query_words, self._vocabulary())
        hits = self._hits(query_words)
        out = []
        section = engine.section_named(expanded)
        order = {}
        if section:
            table = self.table(engine.TABLE_OF[section])
            order = {(section, e["id"]): i for i, e in enumerate(table)}
        phrases = [query, " ".join(query_words), *used]
        for kind, ident, score in engine.rank(phrases, hits, limit, section, order):
            entry = self.get(engine.TABLE_OF[kind], ident)
            title, fields, _ = engine.document(kind, entry)
            out.append(
                {
                    "kind": kind,
                    "id": ident,
                    "title": title,
                    "score": float(f"{score:.4g}"),
                    "snippet": engine.snippet(fields, query_words),
                    "command": engine.command(kind, entry),
                }
            )
        return out

    def _hits(self, query_words: list[str]):
        from . import search as engine

        if self._store is not None and self._store.has_search:
            try:
                return self._store.search(engine.fts_query(query_words))
            except Damaged:
                self._replace_damaged_store()
        return self._memory_search().hits(query_words)

    def search_terms(self, query: str) -> list[str]:
        """The words a search for `query` looks for, after synonyms and typo correction."""
        from . import search as engine

        expanded, _ = engine.expand(query, self.table("synonyms"))
        words = engine.query_terms(expanded)
        if any(not self._hits([w]) for w in words):
            words = engine.correct(words, self._vocabulary())
        return words

    def _index_rows(self):
        if self._rows is None:
            from . import search as engine

            self._rows = engine.rows(self.table)
        return self._rows

    def _vocabulary(self) -> set[str]:
        if self._vocab is None:
            from . import search as engine

            self._vocab = engine.vocabulary(self._index_rows())
        return self._vocab

    def _memory_search(self):
        if self._search is None:
            from . import search as engine
            from .store import MemorySearch, fts5_available

            rows = self._index_rows()
            self._search = MemorySearch(rows) if fts5_available() else engine.PlainIndex(rows)
        return self._search


def _match():
    """The cause index module, imported on the first cause query (assess needs none)."""
    from . import match

    return match
