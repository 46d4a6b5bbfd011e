"""An Elasticsearch node on 127.0.0.1 speaking what the shipper uses: the bulk API and index
templates, with the ``X-Elastic-Product: Elasticsearch`` header the official client checks on
every answer (without it the client refuses to talk to the server)."""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from typing import Any

from tests.support.fake_vendors import Answer, FakeServer, RecordedRequest

PRODUCT = {"X-Elastic-Product": "Elasticsearch"}
MEDIA = "application/vnd.elasticsearch+json;compatible-with=9"


def _answer(status: int, document: Any) -> Answer:
    return status, {"Content-Type": MEDIA, **PRODUCT}, json.dumps(document).encode()


class ElasticsearchServer(FakeServer):
    """Keeps indexed documents per index and index templates per name; ``reject`` refuses a
    document whose ``message`` equals it (as a mapping conflict would)."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.indices: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.templates: dict[str, dict[str, Any]] = {}
        self.reject = ""
        self._data = threading.Lock()

    def documents(self, prefix: str = "") -> list[dict[str, Any]]:
        with self._data:
            return [
                d for name, docs in self.indices.items() if name.startswith(prefix) for d in docs
            ]

    def handle(self, request: RecordedRequest) -> Answer:
        if request.method == "GET" and request.path == "/":
            return _answer(200, {"version": {"number": "9.1.0"}, "tagline": "You Know, for Search"})
        if request.method == "PUT" and request.path.startswith("/_index_template/"):
            with self._data:
                self.templates[request.path.rsplit("/", 1)[1]] = request.json()
            return _answer(200, {"acknowledged": True})
        if request.method in ("POST", "PUT") and request.path == "/_bulk":
            return self._bulk(request.body)
        return _answer(404, {"error": {"type": "not_found"}, "status": 404})

    def _bulk(self, body: bytes) -> Answer:
        lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
        items, errors = [], False
        for action, document in zip(lines[::2], lines[1::2], strict=True):
            verb, meta = next(iter(action.items()))
            if self.reject and document.get("message") == self.reject:
                errors = True
                error = {"type": "document_parsing_exception", "reason": "failed to parse"}
                items.append({verb: {"_index": meta["_index"], "status": 400, "error": error}})
                continue
            with self._data:
                self.indices[meta["_index"]].append(document)
                seq = len(self.indices[meta["_index"]])
            items.append({verb: {"_index": meta["_index"], "_id": str(seq), "status": 201}})
        return _answer(200, {"took": 1, "errors": errors, "items": items})
