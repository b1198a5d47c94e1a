#!/usr/bin/env python3
"""The platform of bench/sources: 20 sources on the test servers, 500
Kustomizations, and a live snapshot of what Flux applied from them.

  sources-platform.py generate DIR     make the sources and DIR/live
  sources-platform.py change DIR       commit to one repo and push one artifact (the
                                       Kustomizations applied them); DIR/live follows
  sources-platform.py baseline DIR     fetch the 20 artifacts one after another with git,
                                       oras and boto3; prints the seconds it took

Servers from the exports of scripts/services/{git-servers,oci-registry,s3}.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

GIT, OCI, BUCKETS = 10, 5, 5
PER_SOURCE, CONFIGMAPS = 25, 8
HERE = os.path.dirname(os.path.abspath(__file__))
FETCHERS = os.path.join(HERE, "..", "tests", "fetchers")
env = os.environ


def run(*args, cwd=None, extra_env=None):
    out = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True,
                         env={**os.environ, **(extra_env or {})})
    if out.returncode != 0:
        sys.exit(f"{' '.join(args[:3])}...: exit {out.returncode}: {out.stderr.strip()[-2000:]}")
    return out.stdout.strip()


def configmap(source, k, c, version):
    data = f'  v: "{version}"\n' if (k, c) == (0, 0) else f'  index: "{c}"\n'
    return (f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {source}-k{k}-c{c}\n"
            f"  namespace: bench\ndata:\n{data}")


def write_tree(root, source, version):
    for k in range(PER_SOURCE):
        os.makedirs(f"{root}/k{k}", exist_ok=True)
        for c in range(CONFIGMAPS):
            with open(f"{root}/k{k}/c{c}.yaml", "w") as f:
                f.write(configmap(source, k, c, version))


def git(cwd, *args):
    return run("git", "-c", "user.name=bench", "-c", "user.email=bench@example.com", *args, cwd=cwd)


def publish(d, state, name):
    """Makes the source's current version available; records its revision."""
    s = state["sources"][name]
    tree = f"{d}/src/{name}"
    write_tree(tree, name, s["version"])
    if s["kind"] == "GitRepository":
        if not os.path.isdir(f"{tree}/.git"):
            git(tree, "init", "-q", "-b", "main")
        git(tree, "add", "-A")
        git(tree, "commit", "-qm", f"version {s['version']}")
        sha = git(tree, "rev-parse", "HEAD")
        bare = f"{env['DRIFT_CHECK_TEST_GIT_ROOT']}/{name}.git"
        if os.path.isdir(bare):
            git(tree, "push", "-q", "--force", bare, "main")
        else:
            run("git", "clone", "-q", "--bare", tree, bare)
        s["revision"] = f"main@sha1:{sha}"
    elif s["kind"] == "OCIRepository":
        python = env["DRIFT_CHECK_TEST_ORAS_PYTHON"]
        layer = f"{d}/src/{name}-{s['version']}.tgz"
        run(python, f"{FETCHERS}/oci_push.py", "targz", tree, layer)
        tag = f"v{s['version']}"
        digest = run(python, f"{FETCHERS}/oci_push.py", "push",
                     f"{env['DRIFT_CHECK_TEST_OCI_REGISTRY']}/{name}:{tag}", layer, "--insecure")
        s["revision"] = f"{tag}@{digest}"
    else:
        python = env["DRIFT_CHECK_TEST_S3_PYTHON"]
        run(python, f"{FETCHERS}/s3_admin.py", "put", name, tree)
        s["revision"] = run(python, f"{FETCHERS}/s3_admin.py", "revision", name, "", "")


def b64(text):
    import base64
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


def live(d, state):
    ca = open(env["DRIFT_CHECK_TEST_GIT_CA"], "rb").read()
    flux = [
        {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
         "metadata": {"name": "git-auth", "namespace": "flux-system"},
         "data": {"username": b64(env["DRIFT_CHECK_TEST_GIT_HTTP_USER"]),
                  "password": b64(env["DRIFT_CHECK_TEST_GIT_HTTP_PASSWORD"]), "ca.crt": b64(ca)}},
        {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
         "metadata": {"name": "s3-keys", "namespace": "flux-system"},
         "data": {"accesskey": b64(env["DRIFT_CHECK_TEST_S3_ACCESS_KEY"]),
                  "secretkey": b64(env["DRIFT_CHECK_TEST_S3_SECRET_KEY"])}},
    ]
    objects = []
    for name, s in sorted(state["sources"].items()):
        if s["kind"] == "GitRepository":
            spec = {"interval": "1m", "url": f"{env['DRIFT_CHECK_TEST_GIT_HTTPS']}/{name}.git",
                    "ref": {"branch": "main"}, "secretRef": {"name": "git-auth"}}
        elif s["kind"] == "OCIRepository":
            spec = {"interval": "1m", "url": f"oci://{env['DRIFT_CHECK_TEST_OCI_REGISTRY']}/{name}",
                    "ref": {"tag": f"v{s['version']}"}, "insecure": True}
        else:
            spec = {"interval": "1m", "provider": "generic", "bucketName": name, "insecure": True,
                    "endpoint": env["DRIFT_CHECK_TEST_S3_URL"].removeprefix("http://"),
                    "secretRef": {"name": "s3-keys"}}
        flux.append({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": s["kind"],
                     "metadata": {"name": name, "namespace": "flux-system"}, "spec": spec,
                     "status": {"artifact": {"revision": s["revision"]}}})
        for k in range(PER_SOURCE):
            ks = f"{name}-k{k}"
            flux.append({
                "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
                "metadata": {"name": ks, "namespace": "flux-system"},
                "spec": {"interval": "10m", "path": f"./k{k}", "prune": True,
                         "sourceRef": {"kind": s["kind"], "name": name}},
                "status": {"lastAppliedRevision": s["revision"], "lastAttemptedRevision": s["revision"],
                           "conditions": [{"type": "Ready", "status": "True",
                                           "reason": "ReconciliationSucceeded",
                                           "message": f"Applied revision: {s['revision']}",
                                           "lastTransitionTime": "2026-12-01T09:00:00Z"}]}})
            for c in range(CONFIGMAPS):
                data = {"v": str(s["version"])} if (k, c) == (0, 0) else {"index": str(c)}
                objects.append({
                    "apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": f"{name}-k{k}-c{c}", "namespace": "bench",
                                 "labels": {"kustomize.toolkit.fluxcd.io/name": ks,
                                            "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}},
                    "data": data})
    os.makedirs(f"{d}/live", exist_ok=True)
    for path, items in [("flux-system.json", flux), ("bench.json", objects)]:
        with open(f"{d}/live/{path}", "w") as f:
            json.dump({"apiVersion": "v1", "kind": "List", "items": items}, f)


def save(d, state):
    with open(f"{d}/state.json", "w") as f:
        json.dump(state, f)


def load(d):
    with open(f"{d}/state.json") as f:
        return json.load(f)


def generate(d):
    os.makedirs(f"{d}/src", exist_ok=True)
    state = {"sources": {}}
    for i in range(GIT):
        state["sources"][f"bench-git-{i}"] = {"kind": "GitRepository", "version": 1}
    for i in range(OCI):
        state["sources"][f"bench-oci-{i}"] = {"kind": "OCIRepository", "version": 1}
    for i in range(BUCKETS):
        state["sources"][f"bench-bucket-{i}"] = {"kind": "Bucket", "version": 1}
    for name in state["sources"]:
        publish(d, state, name)
    live(d, state)
    save(d, state)


def change(d):
    state = load(d)
    for name in ("bench-git-0", "bench-oci-0"):
        state["sources"][name]["version"] += 1
        publish(d, state, name)
    live(d, state)
    save(d, state)


def baseline(d):
    state = load(d)
    start = time.monotonic()
    with tempfile.TemporaryDirectory() as out:
        for name, s in sorted(state["sources"].items()):
            dest = f"{out}/{name}"
            if s["kind"] == "GitRepository":
                url = env["DRIFT_CHECK_TEST_GIT_HTTPS"].replace(
                    "https://",
                    f"https://{env['DRIFT_CHECK_TEST_GIT_HTTP_USER']}:{env['DRIFT_CHECK_TEST_GIT_HTTP_PASSWORD']}@")
                run("git", "clone", "-q", "--depth", "1", f"{url}/{name}.git", dest,
                    extra_env={"GIT_SSL_CAINFO": env["DRIFT_CHECK_TEST_GIT_CA"]})
            elif s["kind"] == "OCIRepository":
                run(env["DRIFT_CHECK_TEST_ORAS_PYTHON"], f"{FETCHERS}/oci_push.py", "pull",
                    f"{env['DRIFT_CHECK_TEST_OCI_REGISTRY']}/{name}:v{s['version']}", dest, "--insecure")
            else:
                run(env["DRIFT_CHECK_TEST_S3_PYTHON"], f"{FETCHERS}/s3_admin.py", "get", name, dest)
    print(f"{time.monotonic() - start:.3f}")


if __name__ == "__main__":
    cmd, d = sys.argv[1], sys.argv[2]
    {"generate": generate, "change": change, "baseline": baseline}[cmd](d)
