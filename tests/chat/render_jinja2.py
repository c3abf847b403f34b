"""Renders a chat template with Jinja2 set up as Hugging Face transformers sets it up
(apply_chat_template: a sandboxed environment with trim_blocks, lstrip_blocks and loop
controls; tojson, raise_exception and strftime_now), for compare_reference.test.mjs.

Usage: render_jinja2.py TEMPLATE CONTEXTS.json
CONTEXTS.json holds a list of contexts; prints a JSON list with {"text": ...} or
{"error": ...} for each. Needs Debian's python3-jinja2 (run with /usr/bin/python3).
"""

import json
import sys
from datetime import datetime

from jinja2.exceptions import TemplateError
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


def raise_exception(message):
    raise TemplateError(message)


def tojson(value, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(
        value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
    )


def strftime_now(format):
    return datetime.now().strftime(format)


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        source = f.read()
    with open(sys.argv[2], encoding="utf-8") as f:
        contexts = json.load(f)
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    template = env.from_string(source)
    results = []
    for context in contexts:
        try:
            results.append({"text": template.render(**context)})
        except Exception as e:  # the template's own errors and Python's (e.g. str + list)
            results.append({"error": f"{type(e).__name__}: {e}"})
    json.dump(results, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
