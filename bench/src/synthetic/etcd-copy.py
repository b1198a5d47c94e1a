#!/usr/bin/env python3
"""Copies every etcd key under one prefix to another (etcd's v3 JSON gateway):
a second API server started with --etcd-prefix TO then serves a cluster with
the same objects. For the fleet benchmark only (bench/src/fleet.rs).

    etcd-copy.py ETCD_URL FROM TO     e.g. http://127.0.0.1:2379 /registry /c1
"""
import base64
import http.client
import json
import sys
import urllib.parse


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def main() -> None:
    url, source, target = sys.argv[1:4]
    parsed = urllib.parse.urlparse(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port)

    def call(path: str, body: dict) -> dict:
        connection.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        response = connection.getresponse()
        text = response.read()
        if response.status != 200:
            sys.exit(f"{path}: {response.status} {text[:200]!r}")
        return json.loads(text)

    start = (source + "/").encode()
    end = (source + "0").encode()  # '/' + 1: the end of the prefix's range
    copied = 0
    while True:
        page = call("/v3/kv/range", {"key": b64(start), "range_end": b64(end), "limit": 2000})
        kvs = page.get("kvs", [])
        for kv in kvs:
            key = base64.b64decode(kv["key"])
            new = target.encode() + key[len(source):]
            call("/v3/kv/put", {"key": b64(new), "value": kv.get("value", "")})
            copied += 1
        if not page.get("more"):
            break
        start = base64.b64decode(kvs[-1]["key"]) + b"\0"
    print(f"copied {copied} keys from {source} to {target}", file=sys.stderr)


if __name__ == "__main__":
    main()
