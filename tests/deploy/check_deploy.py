#!/usr/bin/env python3
"""Checks that Octet's deployment files agree with Octet and with each other.

  check_deploy.py parse --root SRC
  check_deploy.py references --root SRC --exposition EXPOSITION.txt
  check_deploy.py libraries --root SRC BINARY...
  check_deploy.py --self-test

`parse`: every YAML file under deploy/ parses (each document of a multi-document file), and
so do the YAML documents embedded in ConfigMaps (prometheus-adapter's config.yaml).

`references`: the ports, paths, names and metrics that the Dockerfile, deploy/docker-compose.yml,
deploy/k8s/ and deploy/prometheus/ name exist where they point: octet-server's default ports
(server/main.cc) and the CLI's default URL, the image's /models, user and HEALTHCHECK, the
Kubernetes objects' selectors, ports, probes, volumes and users, the prometheus-adapter rule and
the HPA's metric, the ServiceMonitor's port, the compose services' mounts and the Grafana and
Prometheus files they mount, and every octet_* metric named in deploy/ (against EXPOSITION, a
scrape of /metrics in which every family has series: tests/metrics' octet_sample_exposition).

`libraries`: every shared library that BINARY... (octet-server, octet) link comes from a
package that the Dockerfile's runtime stage installs, or from one of their dependencies.

Needs PyYAML (Debian: python3-yaml). Without it the check is skipped (exit 77), except in CI
(CI=true), where it fails. Exit status 1 lists every problem found.
"""

import argparse
import os
import re
import subprocess
import sys

SKIP = 77

try:
    import yaml
except ImportError:
    if os.environ.get("CI") == "true":
        print("PyYAML is missing; CI needs it (scripts/install-deps.sh test: python3-yaml)",
              file=sys.stderr)
        sys.exit(1)
    print("skipped: PyYAML is missing (scripts/install-deps.sh test installs python3-yaml)")
    sys.exit(SKIP)

from deploy_files import (METRIC_NAME, Problems, exec_form, flags_of, load_documents,
                          metric_exists, parse_dockerfile, runtime_packages, yaml_files)
from deploy_references import check_adapter_rule, check_references

# ---- parse ----

def check_parse(root, problems):
    files = yaml_files(root)
    problems.check(files, "deploy/", "no YAML files found")
    for path in files:
        where = os.path.relpath(path, root)
        try:
            documents = load_documents(path)
        except yaml.YAMLError as error:
            problems.check(False, where, "does not parse: %s" % error)
            continue
        problems.check(documents, where, "is empty")
        for doc in documents:
            if not isinstance(doc, dict) or doc.get("kind") != "ConfigMap":
                continue
            for key, value in (doc.get("data") or {}).items():
                if key.endswith((".yaml", ".yml")):
                    try:
                        yaml.safe_load(value)
                    except yaml.YAMLError as error:
                        problems.check(False, "%s data.%s" % (where, key),
                                       "does not parse: %s" % error)
    return len(files)


# ---- libraries ----

def dependency_closure(packages):
    """The packages and everything they depend on, as dpkg on this machine knows them."""
    closure, todo = set(), list(packages)
    while todo:
        package = todo.pop()
        if package in closure:
            continue
        closure.add(package)
        result = subprocess.run(["dpkg-query", "-W", "-f=${Depends},${Pre-Depends}", package],
                                capture_output=True, text=True)
        for alternative in result.stdout.split(","):
            names = [a.strip().split()[0].split(":")[0] for a in alternative.split("|")
                     if a.strip()]
            todo.extend(names)
    return closure


def check_libraries(root, binaries, problems):
    if subprocess.run(["which", "dpkg-query"], capture_output=True).returncode != 0:
        print("skipped: dpkg-query is missing (not a Debian machine)")
        return SKIP
    with open(os.path.join(root, "Dockerfile")) as f:
        wanted = runtime_packages(f.read())
    problems.check(wanted, "Dockerfile", "the runtime stage installs no packages")
    available = dependency_closure(wanted)
    for binary in binaries:
        output = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
        for line in output.splitlines():
            match = re.search(r"=>\s*(/\S+)", line)
            if not match:
                problems.check("not found" not in line, binary, line.strip())
                continue
            library = match.group(1)
            owner = None
            for candidate in (library, os.path.realpath(library),
                              "/usr" + library if not library.startswith("/usr") else library):
                result = subprocess.run(["dpkg-query", "-S", candidate],
                                        capture_output=True, text=True)
                if result.returncode == 0:
                    owner = result.stdout.split(":")[0].split(",")[0].strip()
                    break
            problems.check(owner, os.path.basename(binary),
                           "%s belongs to no Debian package" % library)
            if owner:
                problems.check(owner in available, os.path.basename(binary),
                               "needs %s from %s, which the runtime stage does not install"
                               % (library, owner))
    return 0


# ---- self-test ----

def self_test():
    dockerfile = parse_dockerfile(
        "ARG B=x\nFROM ${B} AS build\nRUN a \\\n  # note\n  && b\nFROM ${B}\n"
        "RUN apt-get install -y -qq --no-install-recommends \\\n  liba libb >/dev/null \\\n"
        " && rm -rf x\nHEALTHCHECK --timeout=5s CMD [\"octet\", \"health\"]\n")
    assert [k for k, _, _ in dockerfile] == ["ARG", "FROM", "RUN", "FROM", "RUN", "HEALTHCHECK"]
    assert dockerfile[2] == ("RUN", "a  && b", "build"), dockerfile[2]
    assert dockerfile[5][2] == "${B}"
    assert runtime_packages("FROM x AS a\nRUN apt-get install p\nFROM y\n"
                            "RUN apt-get install -y q r >/dev/null && s\n") == {"q", "r"}
    assert exec_form('["a", "b"]') == ["a", "b"] and exec_form("a b") is None
    assert flags_of(["--model_repository=/m", "--x", "y"]) == {"--model-repository": "/m"}
    exposition = {"octet_request_duration_seconds_bucket": {"le"}, "octet_pending_requests": set()}
    assert metric_exists("octet_request_duration_seconds", exposition)
    assert metric_exists("octet_pending_requests", exposition)
    assert not metric_exists("octet_pending_request", exposition)
    assert METRIC_NAME.findall("a octet_x_total{b} octet_") == ["octet_x_total"]
    problems = Problems()
    ctx = type("C", (), {"exposition": exposition})()
    check_adapter_rule({"seriesQuery": 'octet_pending_requests{namespace!="",pod!=""}',
                        "resources": {"overrides": {"namespace": {}, "pod": {}}},
                        "metricsQuery": "sum by (<<.GroupBy>>) (<<.Series>>{<<.LabelMatchers>>})"},
                       "rule", ctx, problems)
    assert not problems.items, problems.items
    check_adapter_rule({"seriesQuery": 'octet_pending_request{model!=""}',
                        "metricsQuery": "sum(<<.Series>>)"}, "rule", ctx, problems)
    text = "\n".join(problems.items)
    for expected in ("names no metric", "unknown label model", "pods are not mapped",
                     "does not use <<.Series>> and <<.LabelMatchers>>",
                     "names octet_pending_request,"):
        assert expected in text, (expected, text)
    print("self-test passed")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", nargs="?", choices=["parse", "references", "libraries"])
    parser.add_argument("binaries", nargs="*")
    parser.add_argument("--root", default=os.path.join(os.path.dirname(__file__), "..", ".."))
    parser.add_argument("--exposition")
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_intermixed_args()
    if args.self_test:
        return self_test()
    root = os.path.abspath(args.root)
    problems = Problems()
    status = 0
    if args.command == "parse":
        count = check_parse(root, problems)
        summary = "%d YAML files under deploy/ parse" % count
    elif args.command == "references":
        if not args.exposition:
            parser.error("references needs --exposition")
        check_references(root, args.exposition, problems)
        summary = "Dockerfile, compose, Kubernetes and KServe files agree with Octet"
    elif args.command == "libraries":
        if not args.binaries:
            parser.error("libraries needs the binaries")
        status = check_libraries(root, args.binaries, problems)
        summary = "the runtime stage installs every library of %s" % " ".join(
            os.path.basename(b) for b in args.binaries)
    else:
        parser.error("a command or --self-test is required")
    if problems.items:
        for item in problems.items:
            print("FAIL " + item)
        return 1
    if status != SKIP:
        print(summary)
    return status


if __name__ == "__main__":
    sys.exit(main())
