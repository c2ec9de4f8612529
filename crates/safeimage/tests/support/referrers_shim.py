"""A registry with the OCI 1.1 referrers API, for tests: a proxy in front of
a real `docker-registry` (distribution 2.8, which has no referrers API) that
forwards every request unchanged and adds what distribution 3, zot, GHCR and
others do for referrers (OCI distribution spec 1.1):

- a manifest PUT whose body has a `subject` is remembered, and the response
  carries the `OCI-Subject` header (so clients skip the tag schema);
- `GET /v2/<name>/referrers/<digest>[?artifactType=...]` answers an image
  index of those manifests' descriptors (artifactType from the manifest, or
  its config's media type; the manifest's annotations), with
  `OCI-Filters-Applied: artifactType` when filtered. A request whose Accept
  does not allow an image index gets 400, so the client's request shape is
  checked.

Usage: referrers_shim.py LISTEN_PORT UPSTREAM_HOST:PORT
"""

import hashlib
import http.client
import json
import re
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

INDEX = "application/vnd.oci.image.index.v1+json"
REFERRERS = re.compile(r"^/v2/(.+)/referrers/(sha256:[0-9a-f]{64})$")
MANIFEST = re.compile(r"^/v2/(.+)/manifests/([^/]+)$")
HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"}

lock = threading.Lock()
referrers = {}  # (name, subject digest) -> {digest: descriptor}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream = ""

    def log_message(self, *args):
        pass

    def reply(self, status, headers, body, head=False):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        if not any(k.lower() == "content-length" for k, _ in headers):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def any(self):
        url = urllib.parse.urlsplit(self.path)
        m = REFERRERS.match(url.path)
        if m and self.command == "GET":
            return self.list_referrers(m.group(1), m.group(2), url.query)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        conn = http.client.HTTPConnection(self.upstream, timeout=120)
        conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        # Every header as sent, repeated ones (Accept) included.
        for k, v in self.headers.items():
            if k.lower() not in HOP:
                conn.putheader(k, v)
        conn.endheaders(body)
        resp = conn.getresponse()
        data = resp.read()
        out = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP]
        if self.command != "HEAD":
            out = [(k, v) for k, v in out if k.lower() != "content-length"]
        mm = MANIFEST.match(url.path)
        if mm and self.command == "PUT" and resp.status == 201 and body:
            subject = self.remember(mm.group(1), body, self.headers.get("Content-Type", ""))
            if subject:
                out.append(("OCI-Subject", subject))
        conn.close()
        self.reply(resp.status, out, data, head=self.command == "HEAD")

    def remember(self, name, body, content_type):
        try:
            m = json.loads(body)
        except ValueError:
            return None
        subject = (m.get("subject") or {}).get("digest")
        if not subject:
            return None
        desc = {
            "mediaType": m.get("mediaType") or content_type,
            "digest": "sha256:" + hashlib.sha256(body).hexdigest(),
            "size": len(body),
            "artifactType": m.get("artifactType") or (m.get("config") or {}).get("mediaType"),
        }
        if m.get("annotations"):
            desc["annotations"] = m["annotations"]
        with lock:
            referrers.setdefault((name, subject), {})[desc["digest"]] = desc
        return subject

    def list_referrers(self, name, digest, query):
        accept = self.headers.get("Accept", "")
        if accept and INDEX not in accept and "*/*" not in accept:
            return self.reply(400, [("Content-Type", "text/plain")], b"Accept must allow an image index\n")
        wanted = urllib.parse.parse_qs(query).get("artifactType")
        with lock:
            found = list(referrers.get((name, digest), {}).values())
        headers = [("Content-Type", INDEX)]
        if wanted:
            found = [d for d in found if d.get("artifactType") in wanted]
            headers.append(("OCI-Filters-Applied", "artifactType"))
        found.sort(key=lambda d: d["digest"])
        body = json.dumps({"schemaVersion": 2, "mediaType": INDEX, "manifests": found}).encode()
        self.reply(200, headers, body)

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = any


def main():
    port, upstream = int(sys.argv[1]), sys.argv[2]
    Handler.upstream = upstream
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
