#!/usr/bin/python3
"""Independent checks of text generated under the GBNF grammars in data/gbnf.

Usage: check_gbnf.py LANGUAGE SAMPLES_FILE   (one JSON-encoded string per line)
LANGUAGE: arithmetic (Python's own parser), csv (Python's csv module), chess (a SAN
tokenizer), minilang (a recursive-descent parser written here). Exit 1 on any failure.
"""
import ast
import csv
import io
import json
import re
import sys


def check_arithmetic(text):
    allowed = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Constant, ast.Add, ast.Sub,
               ast.Mult, ast.Div, ast.USub)
    tree = ast.parse(text, mode="eval")
    for node in ast.walk(tree):
        if not isinstance(node, allowed):
            raise ValueError(f"unexpected {type(node).__name__}")
        if isinstance(node, ast.Constant) and type(node.value) is not int:
            raise ValueError("non-integer constant")
    if "  " in text or text != text.strip():
        raise ValueError("stray spaces")


def check_csv(text):
    if not text.endswith("\n"):
        raise ValueError("no final newline")
    rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    if not 2 <= len(rows) <= 6:
        raise ValueError(f"{len(rows)} records")
    for row in rows:
        if len(row) != 3:
            raise ValueError(f"record with {len(row)} fields: {row}")


SAN = re.compile(r"(O-O-O|O-O|[KQRBN][a-h]?[1-8]?x?[a-h][1-8]|([a-h]x)?[a-h][1-8](=[QRBN])?)[+#]?")


def check_chess(text):
    tokens = text.split(" ")
    i = 0
    pairs = 0
    while i < len(tokens):
        if not re.fullmatch(r"[1-9][0-9]?\.", tokens[i]):
            raise ValueError(f"move number expected at {tokens[i]!r}")
        i += 1
        moves = 0
        while i < len(tokens) and moves < 2 and SAN.fullmatch(tokens[i]):
            i += 1
            moves += 1
        if moves == 0:
            raise ValueError("a move number without a move")
        pairs += 1
    if not 1 <= pairs <= 10:
        raise ValueError(f"{pairs} move pairs")


class MiniLang:
    """statement := (ident " = " expr ";" | "print(" expr ");" | while | if) "\\n" """

    def __init__(self, text):
        self.s, self.i = text, 0

    def eat(self, lit):
        if not self.s.startswith(lit, self.i):
            raise ValueError(f"expected {lit!r} at {self.i}: {self.s[self.i:self.i + 20]!r}")
        self.i += len(lit)

    def peek(self, lit):
        return self.s.startswith(lit, self.i)

    def regex(self, pattern):
        m = re.compile(pattern).match(self.s, self.i)
        if not m:
            raise ValueError(f"expected /{pattern}/ at {self.i}")
        self.i = m.end()
        return m.group(0)

    def program(self):
        self.statement()
        while self.i < len(self.s):
            self.statement()

    def block(self):
        self.eat(" {\n")
        while not self.peek("}"):
            self.statement()
        self.eat("}")

    def statement(self):
        if self.peek("print("):
            self.eat("print(")
            self.expr()
            self.eat(");")
        elif self.peek("while ("):
            self.eat("while (")
            self.cond()
            self.eat(")")
            self.block()
        elif self.peek("if ("):
            self.eat("if (")
            self.cond()
            self.eat(")")
            self.block()
            if self.peek(" else"):
                self.eat(" else")
                self.block()
        else:
            self.regex(r"[a-z_][a-z0-9_]{0,15}(?![a-z0-9_])")
            self.eat(" = ")
            self.expr()
            self.eat(";")
        self.eat("\n")

    def cond(self):
        self.expr()
        self.regex(r" (<=|>=|==|!=|<|>) ")
        self.expr()

    def operand(self):
        if self.peek("("):
            self.eat("(")
            self.expr()
            self.eat(")")
        else:
            self.regex(r"([a-z_][a-z0-9_]{0,15}|[0-9]{1,6})(?![a-z0-9_])")

    def expr(self):
        self.operand()
        while re.match(r" [-+*] ", self.s[self.i:self.i + 3]):
            self.i += 3
            self.operand()


CHECKS = {"arithmetic": check_arithmetic, "csv": check_csv, "chess": check_chess,
          "minilang": lambda text: MiniLang(text).program()}


def main():
    check = CHECKS[sys.argv[1]]
    bad = total = 0
    with open(sys.argv[2], encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            total += 1
            text = json.loads(line)
            try:
                check(text)
            except (ValueError, SyntaxError, csv.Error) as e:
                bad += 1
                print(f"rejected {text!r}: {e}")
    print(f"{total - bad}/{total} accepted")
    sys.exit(1 if bad or total == 0 else 0)


main()
