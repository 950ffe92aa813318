"""A small OTLP/HTTP receiver for the end-to-end test: decodes every export request with
opentelemetry-proto and appends it, as JSON, to a file.

    python sink.py --port-file PORT_FILE --out RECORD.jsonl

It listens on 127.0.0.1 on a free port (written to PORT_FILE once it accepts connections) and
answers POST /v1/traces, /v1/metrics and /v1/logs like a collector would. Each line of the record
is {"signal": ..., "headers": {...}, "request": <the request as JSON>}; the headers kept are the
ones the test checks (authorization, content-type, content-encoding, traceparent). It also
answers GET /ping… for the test app's outgoing HTTP calls, recording {"ping": <path>, "headers":
{...}} so the test sees the trace context each call passed on. It runs until SIGTERM.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import signal
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

# path -> (signal, request type, response type)
ROUTES = {
    "/v1/traces": ("traces", trace_service_pb2.ExportTraceServiceRequest, trace_service_pb2.ExportTraceServiceResponse),
    "/v1/metrics": (
        "metrics",
        metrics_service_pb2.ExportMetricsServiceRequest,
        metrics_service_pb2.ExportMetricsServiceResponse,
    ),
    "/v1/logs": ("logs", logs_service_pb2.ExportLogsServiceRequest, logs_service_pb2.ExportLogsServiceResponse),
}
KEPT_HEADERS = ("authorization", "content-type", "content-encoding", "traceparent")


class Sink(BaseHTTPRequestHandler):
    record_lock = threading.Lock()
    out_path = ""

    def do_POST(self) -> None:  # noqa: N802 (the name http.server calls)
        route = ROUTES.get(self.path)
        if route is None:
            self.send_error(404)
            return
        signal_name, request_type, response_type = route
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        encoding = (self.headers.get("content-encoding") or "").lower()
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        request = request_type()
        try:
            request.ParseFromString(body)
        except Exception as error:  # a malformed request is recorded, then refused
            self.record({"signal": signal_name, "error": str(error), "headers": self.kept_headers()})
            self.send_error(400)
            return
        self.record({"signal": signal_name, "headers": self.kept_headers(), "request": MessageToDict(request)})
        payload = response_type().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        if not self.path.startswith("/ping"):
            self.send_error(404)
            return
        self.record({"ping": self.path, "headers": self.kept_headers()})
        payload = b"pong"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def kept_headers(self) -> dict[str, str]:
        return {name: self.headers[name] for name in KEPT_HEADERS if self.headers.get(name) is not None}

    def record(self, entry: dict) -> None:
        line = json.dumps(entry, sort_keys=True)
        with self.record_lock, open(self.out_path, "a", encoding="utf-8") as out:
            out.write(line + "\n")

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (http.server's name)
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    Sink.out_path = args.out
    open(args.out, "w", encoding="utf-8").close()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    tmp = f"{args.port_file}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(str(server.server_address[1]))
    os.replace(tmp, args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
