#!/usr/bin/env python3
"""Pushes artifacts in Flux's format (what `flux push artifact` writes) with the
ORAS Python SDK, independently of drift-check's own code, and makes the tar.gz
layers the tests need, good and bad.

  oci_push.py targz DIR OUT            a deterministic tar.gz of DIR (sorted, mtime 0)
  oci_push.py evil KIND OUT            a crafted layer: dotdot | absolute | symlink-out |
                                       hardlink-out | bomb | not-gzip
  oci_push.py push REF LAYER [options] push LAYER as the artifact's one layer; prints the
                                       manifest digest (sha256:...)
      --media-type T       the layer's media type (Flux's content type by default)
      --extra-layer P:T    another layer after the first (repeatable)
      --revision R         org.opencontainers.image.revision (main@sha1:<sha> by default)
      --annotation K=V     another manifest annotation (repeatable)
      --pad N              an annotation of N bytes (a manifest too large to accept)
      --insecure           plain http
      --ca FILE            the registry's CA (TLS)
      --user U --password P  basic auth
  oci_push.py pull REF DIR [--insecure]  `oras pull` REF into DIR, each tar.gz layer
                                       unpacked (the benchmark's baseline, bench/sources)

Flux's shape: config `application/vnd.cncf.flux.config.v1+json` with body `{}`,
layer `application/vnd.cncf.flux.content.v1.tar+gzip`, manifest annotations
`org.opencontainers.image.source`, `.revision`, `.created`.
"""
import argparse
import gzip
import io
import os
import sys
import tarfile
import tempfile

FLUX_CONFIG = "application/vnd.cncf.flux.config.v1+json"
FLUX_CONTENT = "application/vnd.cncf.flux.content.v1.tar+gzip"


def deterministic_targz(directory, out):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for root, dirs, files in os.walk(directory):
            dirs.sort()
            for name in sorted(files):
                path = os.path.join(root, name)
                rel = os.path.relpath(path, directory)
                info = tar.gettarinfo(path, arcname=rel)
                info.mtime = 0
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                with open(path, "rb") as f:
                    tar.addfile(info, f)
    write_gzip(raw.getvalue(), out)


def write_gzip(data, out):
    with open(out, "wb") as f:
        with gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0) as gz:
            gz.write(data)


def evil(kind, out):
    if kind == "not-gzip":
        with open(out, "wb") as f:
            f.write(b"apiVersion: v1\nkind: ConfigMap\n")
        return
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        def add(name, data=b"x: 1\n"):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

        add("ok.yaml")
        if kind == "dotdot":
            add("apps/../../escaped.yaml")
        elif kind == "absolute":
            add("/tmp/absolute.yaml")
        elif kind in ("symlink-out", "hardlink-out"):
            info = tarfile.TarInfo("link")
            info.type = tarfile.SYMTYPE if kind == "symlink-out" else tarfile.LNKTYPE
            info.linkname = "../../../etc/passwd"
            tar.addfile(info)
        elif kind == "bomb":
            # 64 MiB of zeros: a few KiB once gzipped.
            info = tarfile.TarInfo("bomb.yaml")
            info.size = 64 << 20
            tar.addfile(info, io.BytesIO(bytes(info.size)))
        else:
            sys.exit(f"unknown kind {kind}")
    write_gzip(raw.getvalue(), out)


def push(args):
    import oras.client

    host, _, _ = args.ref.partition("/")
    client = oras.client.OrasClient(
        hostname=host,
        insecure=args.insecure,
        tls_verify=args.ca if args.ca else (not args.insecure),
        auth_backend="basic",
    )
    if args.user:
        client.auth.set_basic_auth(args.user, args.password)
    with tempfile.TemporaryDirectory() as tmp:
        config = os.path.join(tmp, "config.json")
        with open(config, "w") as f:
            f.write("{}")
        annotations = {
            "org.opencontainers.image.source": "https://github.com/example/platform",
            "org.opencontainers.image.revision": args.revision,
            "org.opencontainers.image.created": "2026-12-07T00:00:00Z",
        }
        for kv in args.annotation:
            k, _, v = kv.partition("=")
            annotations[k] = v
        if args.pad:
            annotations["padding"] = "x" * args.pad
        files = [f"{args.layer}:{args.media_type}"] + list(args.extra_layer)
        response = client.push(
            target=args.ref,
            files=files,
            manifest_config=f"{config}:{FLUX_CONFIG}",
            manifest_annotations=annotations,
            disable_path_validation=True,
            quiet=True,
        )
    digest = response.headers.get("Docker-Content-Digest")
    if not digest:
        sys.exit(f"push of {args.ref}: no digest in the answer ({response.status_code})")
    print(digest)


def pull(args):
    import oras.client

    host, _, _ = args.ref.partition("/")
    client = oras.client.OrasClient(hostname=host, insecure=args.insecure)
    with tempfile.TemporaryDirectory() as tmp:
        for path in client.pull(target=args.ref, outdir=tmp):
            with tarfile.open(path, mode="r:gz") as tar:
                tar.extractall(args.dir, filter="data")


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("targz")
    t.add_argument("dir")
    t.add_argument("out")
    e = sub.add_parser("evil")
    e.add_argument("kind")
    e.add_argument("out")
    p = sub.add_parser("push")
    p.add_argument("ref")
    p.add_argument("layer")
    p.add_argument("--media-type", default=FLUX_CONTENT)
    p.add_argument("--extra-layer", action="append", default=[])
    p.add_argument("--revision", default="main@sha1:" + "0" * 40)
    p.add_argument("--annotation", action="append", default=[])
    p.add_argument("--pad", type=int, default=0)
    p.add_argument("--insecure", action="store_true")
    p.add_argument("--ca")
    p.add_argument("--user")
    p.add_argument("--password")
    pl = sub.add_parser("pull")
    pl.add_argument("ref")
    pl.add_argument("dir")
    pl.add_argument("--insecure", action="store_true")
    args = parser.parse_args()
    if args.cmd == "targz":
        deterministic_targz(args.dir, args.out)
    elif args.cmd == "evil":
        evil(args.kind, args.out)
    elif args.cmd == "pull":
        pull(args)
    else:
        push(args)


if __name__ == "__main__":
    main()
