#!/usr/bin/env python3
"""Checks that the PromQL queries of Octet's Grafana dashboards and alert rules ask for metrics
that Octet exposes, with labels those metrics have.

  check_queries.py --exposition EXPOSITION.txt [--dashboard D.json ...] [--rules R.yml ...]
  check_queries.py --self-test

EXPOSITION is a scrape of Octet's /metrics in the text format (tests/metrics'
octet_sample_exposition writes one in which every family has series). A dashboard must parse as
JSON; every "expr" of its panels and every variable query is checked. In a rules file, every
`expr:` is checked (read without a YAML library: the scalar after `expr:` or its indented block).

The PromQL reading is deliberately small: it finds metric names (identifiers that are not
functions, keywords, label lists or Grafana variables) and the label names of their matchers and
of by/on/without/ignoring clauses. It is enough to catch a misspelled or renamed metric or label,
which is what it is for. Uses only the standard library.
"""

import argparse
import json
import re
import sys

# Labels Prometheus adds to every scraped series.
TARGET_LABELS = {"job", "instance"}

KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
            "unless", "bool", "offset", "atan2", "inf", "nan"}
# Aggregation operators, which may take their by/without clause before their parentheses.
AGGREGATIONS = {"sum", "avg", "min", "max", "count", "group", "stddev", "stdvar", "topk",
                "bottomk", "quantile", "count_values"}
LABEL_LIST_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right"}

IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
SAMPLE_LINE = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)(\{(.*)\})?\s+\S+")
LABEL_IN_SAMPLE = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="(?:[^"\\]|\\.)*"')
MATCHER_LABEL = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)")


def read_exposition(text):
    """Returns {sample name: set of label names} of a text exposition."""
    metrics = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = SAMPLE_LINE.match(line)
        if not match:
            raise ValueError("not a sample line: %r" % line)
        labels = set(LABEL_IN_SAMPLE.findall(match.group(3) or ""))
        metrics.setdefault(match.group(1), set()).update(labels)
    return metrics


def parse_query(query):
    """Returns (metric selectors, grouping labels) of a PromQL query.

    A metric selector is (name, label names of its matchers); grouping labels are those named in
    by/without/on/ignoring/group_left/group_right clauses.
    """
    selectors = []
    grouping = set()
    i = 0
    n = len(query)
    while i < n:
        c = query[i]
        if c in "\"'`":  # a string literal outside braces
            end = i + 1
            while end < n and query[end] != c:
                end += 2 if query[end] == "\\" else 1
            i = end + 1
            continue
        if c == "[":  # a range or subquery: [5m], [$__rate_interval], [1h:5m]
            i = query.index("]", i) + 1
            continue
        if c == "$":  # a Grafana variable such as $__range outside a string
            match = IDENTIFIER.match(query, i + 1)
            i = match.end() if match else i + 1
            continue
        if c == "{":  # matchers without a metric name: {__name__=~"..."}
            end = _closing_brace(query, i)
            selectors.append((None, set(MATCHER_LABEL.findall(_strip_strings(query[i + 1:end])))))
            i = end + 1
            continue
        if c.isdigit() or (c == "." and i + 1 < n and query[i + 1].isdigit()):
            match = re.compile(r"[0-9.eE+\-xXa-fA-F]+[smhdwy]?").match(query, i)
            i = match.end()
            continue
        match = IDENTIFIER.match(query, i)
        if not match:
            i += 1
            continue
        word = match.group(0)
        i = match.end()
        rest = query[i:].lstrip()
        if word.lower() in KEYWORDS:
            if word.lower() in LABEL_LIST_KEYWORDS and rest.startswith("("):
                start = query.index("(", i)
                end = query.index(")", start)
                grouping.update(l.strip() for l in query[start + 1:end].split(",") if l.strip())
                i = end + 1
            continue
        if word in AGGREGATIONS and re.match(r"(by|without)\b", rest):
            continue
        if rest.startswith("("):  # a function or an aggregation
            if word == "label_values":  # Grafana: label_values(metric{...}, label) or (label)
                start = query.index("(", i)
                end = _closing_paren(query, start)
                inner = query[start + 1:end]
                args = _split_top_level(inner)
                label = args[-1].strip()
                if len(args) == 2:
                    inner_selectors, _ = parse_query(args[0])
                    for name, labels in inner_selectors:
                        selectors.append((name, labels | {label}))
                else:
                    grouping.add(label)
                i = end + 1
            continue
        labels = set()
        if rest.startswith("{"):
            start = query.index("{", i)
            end = _closing_brace(query, start)
            labels = set(MATCHER_LABEL.findall(_strip_strings(query[start + 1:end])))
            i = end + 1
        selectors.append((word, labels))
    return selectors, grouping


def _strip_strings(text):
    return re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)


def _closing_brace(text, start):
    i = start + 1
    while text[i] != "}":
        if text[i] == '"':
            i += 1
            while text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        i += 1
    return i


def _closing_paren(text, start):
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return i
    raise ValueError("unbalanced parentheses in %r" % text)


def _split_top_level(text):
    parts, depth, current = [], 0, ""
    for c in text:
        if c in "({[":
            depth += 1
        elif c in ")}]":
            depth -= 1
        if c == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += c
    parts.append(current)
    return parts


def dashboard_queries(dashboard):
    """Yields (where, query) for every panel target and variable query of a dashboard."""
    def walk(node, where):
        if isinstance(node, dict):
            title = node.get("title") or node.get("name") or where
            if isinstance(node.get("expr"), str):
                yield title, node["expr"]
            for key, value in node.items():
                if key != "expr":
                    yield from walk(value, title)
        elif isinstance(node, list):
            for value in node:
                yield from walk(value, where)

    yield from walk(dashboard.get("panels", []), "panels")
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") != "query":
            continue
        query = variable.get("query")
        if isinstance(query, dict):
            query = query.get("query")
        if query:
            yield "variable $" + variable["name"], query


def rules_queries(text):
    """Yields (where, expr) for every `expr:` of a Prometheus rules file."""
    lines = text.splitlines()
    alert = "rules"
    i = 0
    while i < len(lines):
        line = lines[i]
        named = re.match(r"^\s*-?\s*(alert|record):\s*(\S+)", line)
        if named:
            alert = named.group(2)
        match = re.match(r"^(\s*)-?\s*expr:\s*(.*)$", line)
        i += 1
        if not match:
            continue
        value = match.group(2).strip()
        if value and value[0] not in "|>":
            yield alert, value.strip("'\"")
            continue
        indent = len(match.group(1))
        block = []
        while i < len(lines) and (not lines[i].strip() or
                                  len(lines[i]) - len(lines[i].lstrip()) > indent):
            block.append(lines[i])
            i += 1
        yield alert, "\n".join(block)


def check(where, query, exposed, problems):
    selectors, grouping = parse_query(query)
    if not any(name for name, _ in selectors):
        problems.append("%s: no metric found in %r" % (where, query))
    labels_in_query = set()
    for name, labels in selectors:
        if name is None:
            continue
        if name not in exposed:
            problems.append("%s: metric %s is not in Octet's exposition" % (where, name))
            continue
        labels_in_query |= exposed[name]
        for label in sorted(labels - exposed[name] - TARGET_LABELS - {"__name__"}):
            problems.append("%s: metric %s has no label %s" % (where, name, label))
    for label in sorted(grouping - labels_in_query - TARGET_LABELS):
        problems.append("%s: no metric of the query has label %s" % (where, label))


def self_test():
    selectors, grouping = parse_query(
        'histogram_quantile(0.99, sum by (le, model) (rate(octet_x_bucket{model=~"$m", '
        'version!="a,b}"}[$__rate_interval]))) / on (model) group_left () octet_y > 0.5 '
        'and octet_z offset 5m')
    assert selectors == [("octet_x_bucket", {"model", "version"}), ("octet_y", set()),
                         ("octet_z", set())], selectors
    assert grouping == {"le", "model"}, grouping
    selectors, grouping = parse_query('label_values(octet_ready{job=~"$job"}, version)')
    assert selectors == [("octet_ready", {"job", "version"})], selectors
    exposed = read_exposition('# HELP a x\na_total{model="m",le="1"} 1\nb 2\n')
    assert exposed == {"a_total": {"model", "le"}, "b": set()}, exposed
    problems = []
    check("t", 'sum by (model) (rate(a_total{model="x"}[5m])) + b', exposed, problems)
    assert problems == [], problems
    check("t", 'sum by (precision) (rate(a_totl{modle="x"}[5m])) + b{version="1"}', exposed,
          problems)
    assert problems == ["t: metric a_totl is not in Octet's exposition",
                        "t: metric b has no label version",
                        "t: no metric of the query has label precision"], problems
    rules = list(rules_queries(
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: |\n          up\n"
        "            > 0\n        for: 1m\n      - alert: B\n        expr: 'b == 1'\n"))
    assert rules == [("A", "          up\n            > 0"), ("B", "b == 1")], rules
    print("self-test passed")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exposition")
    parser.add_argument("--dashboard", action="append", default=[])
    parser.add_argument("--rules", action="append", default=[])
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args()
    if args.self_test:
        self_test()
        return 0
    if not args.exposition:
        parser.error("--exposition is required")

    with open(args.exposition) as f:
        exposed = read_exposition(f.read())
    problems = []
    checked = 0
    for path in args.dashboard:
        with open(path) as f:
            try:
                dashboard = json.load(f)
            except json.JSONDecodeError as e:
                problems.append("%s does not parse as JSON: %s" % (path, e))
                continue
        for where, query in dashboard_queries(dashboard):
            check("%s: %s" % (path, where), query, exposed, problems)
            checked += 1
    for path in args.rules:
        with open(path) as f:
            for where, query in rules_queries(f.read()):
                check("%s: %s" % (path, where), query, exposed, problems)
                checked += 1
    if checked == 0 and not problems:
        problems.append("no query found in %s" % (args.dashboard + args.rules))
    for problem in problems:
        print(problem, file=sys.stderr)
    print("%d queries checked, %d problems" % (checked, len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
