#!/usr/bin/env python3
"""Writes a Trivy vulnerability DB (trivy-db schema v2: a bbolt file plus
metadata.json) holding the Debian OSV records given, so the real Trivy
scans offline against the same advisories as our DB.

usage: trivy_db.py CACHE_DIR OSV_DIR

Layout written, as trivy-db defines it: bucket `data-source` maps
`debian 12` to the Debian tracker; bucket `debian 12` has one bucket per
source package mapping each CVE to {"FixedVersion"}; bucket `vulnerability`
maps each CVE to its severity. The file is written with PyPI `boltdb`
(a Python port of bolt), whose meta pages lack the FNV-64a checksum bbolt
checks: it is computed here over each meta page's first 56 bytes.
"""
import glob, json, os, struct, sys

from boltdb import BoltDB

cache, osv = sys.argv[1], sys.argv[2]
os.makedirs(os.path.join(cache, "db"), exist_ok=True)
path = os.path.join(cache, "db", "trivy.db")
if os.path.exists(path):
    os.unlink(path)

by_source = {}
severity = {}
for f in sorted(glob.glob(os.path.join(osv, "*.json"))):
    r = json.load(open(f))
    cves = [a for a in r.get("upstream", []) + r.get("aliases", []) if a.startswith("CVE-")]
    if not cves:
        continue
    urgency = r.get("database_specific", {}).get("urgency", "medium")
    for a in r["affected"]:
        if a["package"]["ecosystem"] != "Debian:12":
            continue
        fixed = [e["fixed"] for rg in a.get("ranges", []) for e in rg["events"] if "fixed" in e]
        for c in cves:
            by_source.setdefault(a["package"]["name"], {})[c] = fixed[0] if fixed else ""
            severity[c] = {"low": "LOW", "medium": "MEDIUM", "high": "HIGH"}.get(urgency, "UNKNOWN")

db = BoltDB(path)
with db.update() as tx:
    tx.create_bucket(b"data-source").put(
        b"debian 12",
        json.dumps({"ID": "debian", "Name": "Debian Security Tracker",
                    "URL": "https://salsa.debian.org/security-tracker-team/security-tracker"}).encode())
    deb = tx.create_bucket(b"debian 12")
    for src, cves in sorted(by_source.items()):
        b = deb.create_bucket(src.encode())
        for c, fixed in sorted(cves.items()):
            b.put(c.encode(), json.dumps({"FixedVersion": fixed} if fixed else {}).encode())
    v = tx.create_bucket(b"vulnerability")
    for c, s in sorted(severity.items()):
        v.put(c.encode(), json.dumps({"Title": c, "Severity": s}).encode())
db.close()
BoltDB.__del__ = lambda self: None  # closed above; its own __del__ would close again


def fnv64a(data):
    h = 0xCBF29CE484222325
    for c in data:
        h = ((h ^ c) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


raw = bytearray(open(path, "rb").read())
page = struct.unpack_from("<I", raw, 16 + 8)[0]
for i in range(2):
    off = i * page + 16
    struct.pack_into("<Q", raw, off + 56, fnv64a(raw[off:off + 56]))
open(path, "wb").write(raw)
json.dump({"Version": 2, "NextUpdate": "2099-01-01T00:00:00Z",
           "UpdatedAt": "2026-12-01T00:00:00Z", "DownloadedAt": "2026-12-01T00:00:00Z"},
          open(os.path.join(cache, "db", "metadata.json"), "w"))
print(sum(len(x) for x in by_source.values()))
