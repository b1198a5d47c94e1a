#!/usr/bin/env python3
"""The platform of bench/flux-diff, and its score.

  flux-diff-platform.py WORK
      adds to a copy of fixtures/infra-repo what tests/cluster/real_flux_platform.rs
      adds: a chart in the repository, a HelmRelease of it, its Kustomization
  flux-diff-platform.py --manifests WORK KS_DIR URL CRDS
      prints (a v1 List, for `kubectl apply`) the Namespaces the platform's
      objects live in, the Crossplane CRDs of CRDS (the Gateway API's left out:
      platform-routes fails on it), and the Flux objects of KS_DIR: its
      GitRepository pointing at URL (no secretRef), every interval 1h
  flux-diff-platform.py --score OUT
      prints recall, noise and time of drift-check and `flux diff` from OUT
"""

import json
import os
import pathlib
import re
import sys

import yaml

CHART = {
    "charts/hello/Chart.yaml": "apiVersion: v2\nname: hello\nversion: 0.1.0\n",
    "charts/hello/values.yaml": "greeting: hello\n",
    "charts/hello/templates/configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
    "  name: {{ .Release.Name }}-settings\ndata:\n  greeting: {{ .Values.greeting | quote }}\n",
    "infra/k8s/helm-apps/hello.yaml": "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\n"
    "metadata:\n  name: hello\n  namespace: helm-apps\nspec:\n  interval: 1h\n  chart:\n    spec:\n"
    "      chart: ./charts/hello\n      sourceRef:\n        kind: GitRepository\n"
    "        name: plana-pulse-infra\n        namespace: flux-system\n  values:\n    greeting: hi\n",
    "clusters/prod/helm-apps.yaml": "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
    "metadata:\n  name: helm-apps\n  namespace: flux-system\nspec:\n  interval: 1h\n"
    "  path: ./infra/k8s/helm-apps\n  prune: true\n  sourceRef:\n    kind: GitRepository\n"
    "    name: plana-pulse-infra\n",
}


def add_chart(work):
    for rel, text in CHART.items():
        path = pathlib.Path(work, rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def documents(path):
    try:
        return [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]
    except (yaml.YAMLError, UnicodeDecodeError):
        return []


def manifests(work, ks_dir, url, crds):
    work = pathlib.Path(work)
    namespaces = set()
    for path in work.rglob("*.y*ml"):
        for doc in documents(path):
            meta = doc.get("metadata") or {}
            if isinstance(meta, dict) and isinstance(meta.get("namespace"), str):
                namespaces.add(meta["namespace"])
            if doc.get("kind") == "Kustomization":
                for field in (doc.get("namespace"), (doc.get("spec") or {}).get("targetNamespace")):
                    if isinstance(field, str):
                        namespaces.add(field)
    items = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
             for ns in sorted(n for n in namespaces if "$" not in n)]
    items += [crd for crd in documents(pathlib.Path(crds))
              if crd["metadata"]["name"].endswith(".apiextensions.crossplane.io")]
    for path in sorted(pathlib.Path(work, ks_dir).rglob("*.y*ml")):
        for doc in documents(path):
            if doc.get("kind") == "GitRepository":
                doc["spec"]["url"] = url
                doc["spec"].pop("secretRef", None)
                doc["spec"]["interval"] = "1h"
                items.append(doc)
            elif doc.get("kind") == "Kustomization" and doc.get("apiVersion", "").startswith("kustomize.toolkit"):
                doc["spec"]["interval"] = "1h"
                items.append(doc)
    # A root Kustomization whose GitRepository is made by the bootstrap (not
    # in KS_DIR): one of that name, served from the working copy.
    served = {(d["metadata"].get("namespace", "default"), d["metadata"]["name"])
              for d in items if d.get("kind") == "GitRepository"}
    for doc in [d for d in items if d.get("kind") == "Kustomization"]:
        ref = doc["spec"].get("sourceRef") or {}
        key = (ref.get("namespace") or doc["metadata"].get("namespace", "default"), ref.get("name"))
        if ref.get("kind") == "GitRepository" and key not in served:
            served.add(key)
            items.append({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
                          "metadata": {"name": key[1], "namespace": key[0]},
                          "spec": {"interval": "1h", "url": url, "ref": {"branch": "main"}}})
    if os.environ.get("BENCH_PERMISSIVE_CRDS") is not None:
        items[:0] = permissive_crds(work, re.compile(os.environ["BENCH_PERMISSIVE_CRDS"] or "$^"))
    print(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))


# Groups the API server serves itself, or that are not objects at all.
BUILT_IN = {"", "v1", "apps", "batch", "policy", "autoscaling", "rbac.authorization.k8s.io",
            "networking.k8s.io", "storage.k8s.io", "apiextensions.k8s.io", "scheduling.k8s.io",
            "admissionregistration.k8s.io", "coordination.k8s.io", "discovery.k8s.io", "node.k8s.io",
            "certificates.k8s.io", "resource.k8s.io", "flowcontrol.apiserver.k8s.io",
            "apiregistration.k8s.io", "kustomize.config.k8s.io", "config.kubernetes.io"}
FLUX_SERVED = {"source.toolkit.fluxcd.io", "kustomize.toolkit.fluxcd.io", "helm.toolkit.fluxcd.io"}


def permissive_crds(work, missing):
    """A permissive CRD (any field kept) for each kind of the repository
    whose group the API server does not serve: on a real cluster the
    platform's HelmReleases (or flux-operator, for Flux's notification and
    image kinds, at its own version) install them. Kinds matching `missing`
    (`Kind.group`) are left out: their Kustomizations fail as on a cluster
    without the CRD."""
    kinds = {}
    for path in pathlib.Path(work).rglob("*.y*ml"):
        for doc in documents(path):
            api, kind = doc.get("apiVersion"), doc.get("kind")
            if not (isinstance(api, str) and isinstance(kind, str) and isinstance(doc.get("metadata"), dict)):
                continue
            group, _, version = api.rpartition("/")
            if group in BUILT_IN or group in FLUX_SERVED or "$" in api or missing.search(f"{kind}.{group}"):
                continue
            kinds.setdefault((group, kind), set()).add(version)
    crds = []
    for (group, kind), versions in sorted(kinds.items()):
        plural = kind.lower() + ("es" if kind.lower().endswith(("s", "x", "ch")) else "s")
        ordered = sorted(versions)
        crds.append({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{group}"},
            "spec": {"group": group, "scope": "Cluster" if kind.startswith("Cluster") else "Namespaced",
                     "names": {"kind": kind, "plural": plural, "singular": kind.lower(),
                               "listKind": f"{kind}List"},
                     "versions": [{"name": v, "served": True, "storage": v == ordered[-1],
                                   "schema": {"openAPIV3Schema": {"type": "object",
                                                                  "x-kubernetes-preserve-unknown-fields": True}}}
                                  for v in ordered]}})
        if group.endswith(".k8s.io"):
            crds[-1]["metadata"]["annotations"] = {
                "api-approved.kubernetes.io": "https://github.com/kubernetes/enhancements/pull/1111"}
    return crds


def edits(out):
    rows = []
    for line in pathlib.Path(out, "edits.txt").read_text().splitlines():
        kind, ns, name = line.split()[:3]
        rows.append((kind, None if ns == "-" else ns, name))
    return rows


def drift_check(out, run):
    report = json.loads(pathlib.Path(out, f"{run}-drift-check.json").read_text())
    objects = {(f["object"]["kind"], f["object"].get("namespace"), f["object"]["name"])
               for f in report["findings"] if not f["explained"]}
    return objects, report


def flux_diff(out, run):
    objects, failed = set(), []
    current = None
    for line in pathlib.Path(out, f"{run}-flux-diff.txt").read_text().splitlines():
        if line.startswith("### "):
            current = line[4:]
        m = re.match(r"► (\S+) (drifted|created|deleted)", line)
        if m:
            parts = m.group(1).split("/")
            kind, ns, name = (parts[0], None, parts[1]) if len(parts) == 2 else parts
            objects.add((kind, ns, name))
        if line.startswith("✗"):
            failed.append(current)
    return objects, failed


def score(out):
    seeded = edits(out)
    time = lambda tool, run: float(pathlib.Path(out, f"{run}-{tool}.time").read_text())
    dc_untouched, report = drift_check(out, "untouched")
    dc_edited, _ = drift_check(out, "edited")
    fd_untouched, fd_failed = flux_diff(out, "untouched")
    fd_edited, _ = flux_diff(out, "edited")
    print(f"platform: {report['summary']['kustomizations']} Kustomizations, "
          f"{report['summary']['objects']} objects; {len(seeded)} edits")
    print(f"{'':28} {'drift-check':>14} {'flux diff':>14}")
    print(f"{'untouched: objects reported':28} {len(dc_untouched):>14} {len(fd_untouched):>14}")
    found_dc = [e for e in seeded if e in dc_edited]
    found_fd = [e for e in seeded if e in fd_edited]
    print(f"{'edits found (recall)':28} {f'{len(found_dc)}/{len(seeded)}':>14} {f'{len(found_fd)}/{len(seeded)}':>14}")
    noise_dc = dc_edited - set(seeded)
    noise_fd = fd_edited - set(seeded)
    print(f"{'edited: other objects':28} {len(noise_dc):>14} {len(noise_fd):>14}")
    for run in ("untouched", "edited"):
        label = f"wall time, {run} (s)"
        print(f"{label:28} {time('drift-check', run):>14.2f} {time('flux-diff', run):>14.2f}")
    print("per edit (drift-check / flux diff):")
    for e in seeded:
        name = "/".join(p for p in e if p)
        print(f"  {name}: {'found' if e in dc_edited else 'MISSED'} / {'found' if e in fd_edited else 'MISSED'}")
    for label, objs in (("drift-check, untouched", dc_untouched), ("flux diff, untouched", fd_untouched),
                        ("drift-check, edited, not an edit", noise_dc), ("flux diff, edited, not an edit", noise_fd)):
        for o in sorted(objs, key=str):
            print(f"  {label}: {'/'.join(p for p in o if p)}")
    if fd_failed:
        print(f"flux diff failed on: {', '.join(fd_failed)}")


def main(argv):
    if argv[:1] == ["--manifests"]:
        manifests(*argv[1:5])
    elif argv[:1] == ["--score"]:
        score(argv[1])
    elif len(argv) == 1:
        add_chart(argv[0])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
