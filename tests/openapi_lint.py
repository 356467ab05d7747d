#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Lint doc/openapi.yaml offline: the OpenAPI 3.0 JSON Schema (tests/oas-3.0-schema.json) and rules of our own.
"""usage: openapi_lint.py OPENAPI.yaml [SCHEMA.json]

Prints one line per problem and exits 1 when there is any. Needs python3-yaml and
python3-jsonschema (scripts/deps.sh). The rules beyond the schema catch what the
schema lets through and linters refuse:
  - nullable without a type beside it (OpenAPI 3.0 ties nullable to type: beside
    an allOf/oneOf/$ref alone it means nothing);
  - a $ref that does not resolve inside the document;
  - a path template parameter that is not declared "in: path" (or the reverse);
  - an operationId used twice;
  - a 201 response without a Location header.
"""
import json
import os
import re
import sys

import jsonschema
import yaml

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def resolve(doc, ref):
    if not ref.startswith("#/"):
        return None
    node = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def walk(node, where, visit):
    visit(node, where)
    if isinstance(node, dict):
        for k, v in node.items():
            walk(v, where + "/" + str(k), visit)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            walk(v, where + "/" + str(i), visit)


def deref(doc, node):
    seen = 0
    while isinstance(node, dict) and "$ref" in node and seen < 16:
        node = resolve(doc, node["$ref"])
        seen += 1
    return node


def lint(doc, schema):
    problems = []
    validator = jsonschema.Draft4Validator(schema)
    for e in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
        problems.append("schema: /%s: %s" % ("/".join(str(p) for p in e.absolute_path),
                                             e.message[:300]))

    def visit(node, where):
        if not isinstance(node, dict):
            return
        if "$ref" in node and isinstance(node["$ref"], str):
            if resolve(doc, node["$ref"]) is None:
                problems.append("%s: $ref %s does not resolve" % (where, node["$ref"]))
        # Schema objects: a dict under components/schemas, or any "schema", "items",
        # "properties/*", "allOf/*"... is checked alike, by its keys.
        if node.get("nullable") is True and "type" not in node:
            problems.append("%s: nullable without type (put type beside it, or use "
                            "oneOf with a nullable schema)" % where)

    walk(doc, "", visit)

    op_ids = {}
    for path, item in (doc.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        templ = set(re.findall(r"{([^}]+)}", path))
        shared = [deref(doc, p) for p in item.get("parameters", [])]
        for method in HTTP_METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            where = "%s %s" % (method.upper(), path)
            params = shared + [deref(doc, p) for p in op.get("parameters", [])]
            declared = {p.get("name") for p in params if isinstance(p, dict) and p.get("in") == "path"}
            for name in sorted(templ - declared):
                problems.append("%s: path parameter {%s} is not declared" % (where, name))
            for name in sorted(declared - templ):
                problems.append("%s: parameter %s is in: path but not in the path" % (where, name))
            oid = op.get("operationId")
            if oid is not None:
                if oid in op_ids:
                    problems.append("%s: operationId %s is also %s" % (where, oid, op_ids[oid]))
                op_ids[oid] = where
            responses = op.get("responses") or {}
            created = deref(doc, responses.get("201", responses.get(201)))
            if isinstance(created, dict) and "Location" not in (created.get("headers") or {}):
                problems.append("%s: a 201 without a Location header" % where)
    return problems


def main():
    if len(sys.argv) not in (2, 3):
        sys.stderr.write(__doc__)
        return 2
    schema_path = sys.argv[2] if len(sys.argv) == 3 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "oas-3.0-schema.json")
    try:
        with open(sys.argv[1], encoding="utf-8") as f:
            doc = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        print("yaml: %s" % str(e).replace("\n", " "))
        return 1
    with open(schema_path, encoding="utf-8") as f:
        schema = json.load(f)
    problems = lint(doc, schema)
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
