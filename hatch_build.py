"""Wheel build hook: ship the knowledge base's checked sqlite store, prebuilt.

The first `leuko` run after an install would otherwise parse and validate the TOML and build
the store (about 40 times the cost of a warm run). The store is built here, from the same
data/causes.toml the wheel carries, by the same code that builds it at run time; at run time
it is used only when its key (leuko version, schema, the bundled KB's bytes) matches and its
checksums pass, exactly like a store in the user's cache (src/leuko_cli/kb/store.py).
"""

from __future__ import annotations

import os
import sys
import tempfile

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class PrebuiltStore(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict) -> None:
        if self.target_name != "wheel" or version == "editable":
            return  # an editable install reads data/causes.toml and caches as it goes
        root = self.root
        sys.path.insert(0, os.path.join(root, "src"))
        work = tempfile.mkdtemp(prefix="leuko-store-")
        old = {k: os.environ.get(k) for k in ("LEUKO_CACHE_DIR", "LEUKO_NO_CACHE")}
        os.environ["LEUKO_CACHE_DIR"] = work
        os.environ.pop("LEUKO_NO_CACHE", None)
        try:
            from leuko_cli.kb import load, store

            load(overlay=False)  # builds kb-<key>.sqlite in `work`
            built = [f for f in os.listdir(work) if f.startswith("kb-") and f.endswith(".sqlite")]
            if len(built) != 1:
                raise RuntimeError(f"expected one prebuilt store, found {built}")
            build_data["force_include"][os.path.join(work, built[0])] = (
                "leuko_cli/data/" + store.PACKAGED_STORE
            )
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            sys.path.remove(os.path.join(root, "src"))
