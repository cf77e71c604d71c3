"""A local S3 for sieve's tests: moto's S3 server behind a middleware that misbehaves the way
real object stores do under load.

    python s3_server.py --slowdown-every 7 --cut-gets-over 50000 --buckets crawl,out

prints the port it listens on, then serves until killed. Faults:

- every Nth request is answered `503 SlowDown` (S3's throttling reply), body drained first;
- the first GET of each object whose body is larger than the given size sends half of the
  body and drops the connection (the Content-Length announced the whole of it).

`GET /__faults` returns counters (requests, slowdowns, cuts, the largest number of requests
in flight at once) and the successful writes in order; `POST /__faults/reset` zeroes them.
"""

import argparse
import json
import threading

from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

SLOWDOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)


class CutConnection(Exception):
    """Raised mid-body: werkzeug then closes the connection with the body incomplete."""


class Faults:
    def __init__(self, app, slowdown_every, cut_over):
        self.app = app
        self.slowdown_every = slowdown_every
        self.cut_over = cut_over
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.n = 0
        self.in_flight = 0
        self.cut_paths = set()
        self.counts = {"requests": 0, "slowdowns": 0, "cuts": 0, "max_in_flight": 0}
        self.writes = []

    def report(self, start_response):
        body = json.dumps(dict(self.counts, writes=self.writes)).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/__faults":
            return self.report(start_response)
        if path == "/__faults/reset":
            with self.lock:
                self.reset()
            return self.report(start_response)
        with self.lock:
            self.n += 1
            n = self.n
            self.counts["requests"] += 1
            self.in_flight += 1
            self.counts["max_in_flight"] = max(self.counts["max_in_flight"], self.in_flight)
        try:
            return self.handle(environ, start_response, path, n)
        finally:
            with self.lock:
                self.in_flight -= 1

    def handle(self, environ, start_response, path, n):
        method = environ["REQUEST_METHOD"]
        if self.slowdown_every and n % self.slowdown_every == 0:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            if length:
                environ["wsgi.input"].read(length)
            with self.lock:
                self.counts["slowdowns"] += 1
            start_response(
                "503 Slow Down",
                [("Content-Type", "application/xml"), ("Content-Length", str(len(SLOWDOWN)))],
            )
            return [SLOWDOWN]
        captured = {}

        def capture(status, headers, exc_info=None):
            captured["status"] = status
            captured["headers"] = headers
            return lambda data: None

        body = b"".join(self.app(environ, capture))
        status = captured["status"]
        ok = status.startswith("2")
        if ok and method in ("PUT", "POST"):
            query = environ.get("QUERY_STRING", "")
            with self.lock:
                self.writes.append({"method": method, "path": path, "query": query})
        cut = False
        if ok and method == "GET" and self.cut_over and len(body) > self.cut_over:
            with self.lock:
                cut = path not in self.cut_paths
                if cut:
                    self.cut_paths.add(path)
                    self.counts["cuts"] += 1
        start_response(status, captured["headers"])
        if not cut:
            return [body]

        def half_then_drop():
            yield body[: len(body) // 2]
            raise CutConnection(path)

        return half_then_drop()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--slowdown-every", type=int, default=0)
    p.add_argument("--cut-gets-over", type=int, default=0)
    p.add_argument("--buckets", default="")
    a = p.parse_args()
    app = Faults(
        DomainDispatcherApplication(create_backend_app),
        a.slowdown_every,
        a.cut_gets_over,
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    port = server.server_port
    # Buckets are made through the server itself, as any client would.
    import http.client

    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    def put(path, body=b""):
        while True:
            c = http.client.HTTPConnection("127.0.0.1", port)
            c.request("PUT", path, body=body, headers={"Content-Type": "application/json"})
            status = c.getresponse().status
            c.close()
            if status == 200:
                return
            if status != 503:
                raise SystemExit(f"PUT {path}: HTTP {status}")

    # Public buckets, as Common Crawl's: anyone may list and read.
    for bucket in filter(None, a.buckets.split(",")):
        put("/" + bucket)
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": ["s3:GetObject", "s3:ListBucket"],
                    "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                }
            ],
        }
        put(f"/{bucket}?policy", json.dumps(policy).encode())
    with app.lock:
        app.reset()
    print(port, flush=True)
    thread.join()


if __name__ == "__main__":
    main()
