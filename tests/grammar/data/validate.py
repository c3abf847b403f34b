#!/usr/bin/python3
"""Validates generated JSON documents against their schema with python3-jsonschema.

Usage: validate.py SCHEMA_FILE SAMPLES_FILE  (one JSON document per line)
OpenAPI's `nullable: true` is rewritten to a null alternative first, since JSON Schema
validators ignore it. Format checks (date, time, date-time, uuid) are enabled.
Prints one line per invalid sample and exits 1 if any; exits 0 when all validate.
"""
import datetime
import json
import re
import sys

import jsonschema

RFC3339_TIME = r"(\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})"


def check_time(text):
    m = re.fullmatch(RFC3339_TIME, text)
    if not m:
        return False
    datetime.time(int(m[1]), int(m[2]), int(m[3]))  # raises ValueError when out of range
    return True


def check_date_time(text):
    m = re.fullmatch(r"(\d{4}-\d{2}-\d{2})[Tt](.*)", text)
    if not m:
        return False
    datetime.date.fromisoformat(m[1])
    return check_time(m[2])


def rewrite_nullable(node):
    if isinstance(node, dict):
        node = {k: rewrite_nullable(v) for k, v in node.items()}
        if node.pop("nullable", False):
            node = {"anyOf": [node, {"type": "null"}]}
        return node
    if isinstance(node, list):
        return [rewrite_nullable(v) for v in node]
    return node


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        schema = rewrite_nullable(json.load(f))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    checker = cls.FORMAT_CHECKER
    checker.checks("time", raises=ValueError)(lambda v: not isinstance(v, str) or check_time(v))
    checker.checks("date-time", raises=ValueError)(
        lambda v: not isinstance(v, str) or check_date_time(v))
    validator = cls(schema, format_checker=checker)
    bad = 0
    total = 0
    with open(sys.argv[2], encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            total += 1
            try:
                doc = json.loads(json.loads(line))  # each line is the output as a JSON string
            except ValueError as e:
                print(f"not JSON: {line}: {e}")
                bad += 1
                continue
            errors = list(validator.iter_errors(doc))
            if errors:
                print(f"invalid: {line}: {errors[0].message}")
                bad += 1
    print(f"{total - bad}/{total} valid")
    sys.exit(1 if bad or total == 0 else 0)


main()
