"""Confluent's mock registry, served over HTTP on loopback for the worker's process.

``mock://`` registries live inside one process; the stream worker runs in its own. This
server answers the one call a reader makes, ``GET /schemas/ids/{id}``, from the mock
client the test's AvroSerializer registered with, so the worker's real registry client
reads exactly what Confluent's serializer registered.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


class ServedRegistry:
    def __init__(self, client: Any) -> None:
        mock = client

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                found = re.fullmatch(r"/schemas/ids/(\d+)(\?.*)?", self.path)
                try:
                    schema = mock.get_schema(int(found.group(1))) if found else None
                except Exception:  # the mock raises its "not found" error
                    schema = None
                if found is None or schema is None:
                    self._answer(404, {"error_code": 40403, "message": "Schema not found"})
                else:
                    self._answer(200, {"schema": schema.schema_str, "id": int(found.group(1))})

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> ServedRegistry:
        self.thread.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.server.shutdown()
        self.server.server_close()
