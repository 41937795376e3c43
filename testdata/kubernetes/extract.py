#!/usr/bin/env python3
"""Copy the CronJob, ConfigMap and PersistentVolumeClaim schemas of kubernetes-validate into
testdata/kubernetes/v1.31.0-strict/, each with the definitions it reaches (see testdata/README.md).

Usage: extract.py UNZIPPED_WHEEL_DIR
"""
import json
import os
import sys

VERSION = "v1.31.0-local-strict"
KINDS = ["cronjob-batch-v1.json", "configmap-v1.json", "persistentvolumeclaim-v1.json"]
src = os.path.join(sys.argv[1], "kubernetes_validate", "kubernetes-json-schema", VERSION)
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "v1.31.0-strict")
defs = json.load(open(os.path.join(src, "_definitions.json")))["$defs"]


def refs(node, found):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                found.add(value.split("/")[-1])
            else:
                refs(value, found)
    elif isinstance(node, list):
        for value in node:
            refs(value, found)


def local(node):
    if isinstance(node, dict):
        return {k: ("#/$defs/" + v.split("/")[-1]) if k == "$ref" else local(v) for k, v in node.items()}
    if isinstance(node, list):
        return [local(v) for v in node]
    return node


os.makedirs(out, exist_ok=True)
for name in KINDS:
    top = json.load(open(os.path.join(src, name)))
    todo, seen = set(), set()
    refs(top, todo)
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            found = set()
            refs(defs[n], found)
            todo |= found - seen
    top = local(top)
    top["$defs"] = {n: local(defs[n]) for n in sorted(seen)}
    with open(os.path.join(out, name), "w") as f:
        json.dump(top, f, indent=1, sort_keys=True)
