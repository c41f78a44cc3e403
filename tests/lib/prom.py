#!/usr/bin/env python3
"""prom.py - a strict parser of the Prometheus text exposition format (version 0.0.4).

Usage: prom.py FILE [REQUIRED_FAMILY...]   (FILE "-" reads stdin)
Fails on anything a scraper would reject or warn about: a sample before its family's
TYPE, a family declared twice or interleaved with another, a bad metric or label name,
a bad escape in a label value, a duplicate series, a value that is not a float, a
counter whose name does not end in _total, a family without HELP. Prints a summary;
exits non-zero on the first error.
"""
import math
import re
import sys

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


class ParseError(Exception):
    pass


def parse_labels(s, pos):
    """Parse '{a="x",b="y"}' from s[pos] == '{'; return (labels, end position)."""
    labels = {}
    pos += 1
    while True:
        if s[pos] == "}":
            return labels, pos + 1
        m = LABEL.match(s, pos)
        if not m:
            raise ParseError(f"bad label name at column {pos}")
        name, pos = m.group(0), m.end()
        if s[pos:pos + 2] != '="':
            raise ParseError(f"label {name}: want =\"")
        pos += 2
        value = []
        while s[pos] != '"':
            if s[pos] == "\\":
                esc = s[pos + 1]
                if esc not in '\\"n':
                    raise ParseError(f"label {name}: bad escape \\{esc}")
                value.append("\n" if esc == "n" else esc)
                pos += 2
            elif s[pos] == "\n":
                raise ParseError(f"label {name}: raw newline")
            else:
                value.append(s[pos])
                pos += 1
        pos += 1
        if name in labels:
            raise ParseError(f"label {name} given twice")
        labels[name] = "".join(value)
        if s[pos] == ",":
            pos += 1
        elif s[pos] != "}":
            raise ParseError(f"after label {name}: want , or }}")


def parse_value(v):
    if v in ("+Inf", "-Inf", "NaN"):
        return float(v.replace("Inf", "inf"))
    if not re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", v):
        raise ParseError(f"bad value {v!r}")
    return float(v)


def family_of(name, families):
    """The declared family a sample name belongs to (histogram/summary suffixes too)."""
    if "type" in families.get(name, {}):
        return name
    for suffix in ("_bucket", "_count", "_sum"):
        base = name[: -len(suffix)]
        if name.endswith(suffix) and families.get(base, {}).get("type") in ("histogram",
                                                                               "summary"):
            return base
    raise ParseError(f"sample {name} has no TYPE line before it")


def parse(text):
    families, series, closed, current = {}, set(), set(), None
    if text and not text.endswith("\n"):
        raise ParseError("the last line has no newline")
    for no, line in enumerate(text.split("\n")[:-1], 1):
        try:
            current = parse_line(line, families, series, closed, current)
        except (ParseError, IndexError) as e:
            raise ParseError(f"line {no}: {e}: {line!r}")
    for name, fam in families.items():
        if "type" not in fam:
            raise ParseError(f"family {name} has no TYPE")
        if "help" not in fam:
            raise ParseError(f"family {name} has no HELP")
        if fam["type"] == "counter" and not name.endswith("_total"):
            raise ParseError(f"counter {name} does not end in _total")
    return families


def parse_line(line, families, series, closed, current):
    if line.startswith("# HELP ") or line.startswith("# TYPE "):
        return parse_meta(line, families, closed, current)
    if line.startswith("#") or not line.strip():
        return current
    m = NAME.match(line)
    if not m:
        raise ParseError("bad metric name")
    name, pos, labels = m.group(0), m.end(), {}
    if line[pos] == "{":
        labels, pos = parse_labels(line, pos)
    if line[pos] != " ":
        raise ParseError("want one space before the value")
    parts = line[pos + 1:].split(" ")
    if len(parts) > 2 or (len(parts) == 2 and not re.fullmatch(r"-?\d+", parts[1])):
        raise ParseError("want VALUE [TIMESTAMP]")
    value = parse_value(parts[0])
    fam = family_of(name, families)
    if fam != current:
        raise ParseError(f"sample of {fam} outside its family's block")
    key = (name, tuple(sorted(labels.items())))
    if key in series:
        raise ParseError(f"duplicate series {key}")
    series.add(key)
    families[fam]["samples"].append((name, labels, value))
    if families[fam]["type"] == "counter" and (value < 0 or math.isnan(value)):
        raise ParseError("a counter must be >= 0")
    return current


def parse_meta(line, families, closed, current):
    parts = line.split(" ", 3)
    if len(parts) < 4 or not NAME.fullmatch(parts[2]):
        raise ParseError("bad HELP/TYPE line")
    kind, name, rest = parts[1], parts[2], parts[3]
    if name != current:
        if name in closed or name in families:
            raise ParseError(f"family {name} declared in two places")
        if current:
            closed.add(current)
    fam = families.setdefault(name, {"samples": []})
    if kind == "TYPE":
        if rest not in TYPES or "type" in fam:
            raise ParseError(f"bad or repeated TYPE for {name}")
        if fam["samples"]:
            raise ParseError(f"TYPE of {name} after its samples")
        fam["type"] = rest
    else:
        if "help" in fam:
            raise ParseError(f"HELP of {name} given twice")
        fam["help"] = rest
    return name


def main():
    path, required = sys.argv[1], sys.argv[2:]
    text = sys.stdin.read() if path == "-" else open(path).read()
    try:
        families = parse(text)
    except ParseError as e:
        raise SystemExit(f"FAIL: not valid Prometheus text: {e}")
    for name in required:
        if name not in families or not families[name]["samples"]:
            raise SystemExit(f"FAIL: no samples of {name}")
    nsamples = sum(len(f["samples"]) for f in families.values())
    print(f"valid Prometheus text: {len(families)} families, {nsamples} samples")


if __name__ == "__main__":
    main()
