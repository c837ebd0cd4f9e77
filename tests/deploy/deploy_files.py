"""Reading Octet's deployment files for tests/deploy's checks: YAML documents, the Dockerfile's
instructions, command-line flags, and a Prometheus text exposition. Standard library and PyYAML."""

import glob
import json
import os
import re
import shlex

import yaml

# Labels that the Prometheus Operator adds to what a ServiceMonitor scrapes, beside Prometheus'
# own job and instance.
TARGET_LABELS = {"job", "instance", "namespace", "pod", "service", "endpoint", "container"}
METRIC_NAME = re.compile(r"\boctet_[a-z0-9_]*[a-z0-9]\b")
HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")


class Problems:
    """Collects failed expectations, so that one run reports all of them."""

    def __init__(self):
        self.items = []

    def check(self, condition, where, message):
        if not condition:
            self.items.append("%s: %s" % (where, message))
        return bool(condition)


def yaml_files(root):
    pattern = os.path.join(root, "deploy", "**", "*.y*ml")
    return sorted(p for p in glob.glob(pattern, recursive=True)
                  if p.endswith((".yml", ".yaml")))


def load_documents(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def parse_dockerfile(text):
    """Returns [(INSTRUCTION, arguments, stage)]; line continuations joined, comments dropped."""
    instructions = []
    logical = ""
    stage = None
    for line in text.splitlines():
        stripped = line.strip()
        if not logical and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):  # a comment inside a continued instruction
            continue
        if stripped.endswith("\\"):
            logical += stripped[:-1] + " "
            continue
        logical += stripped
        keyword, _, arguments = logical.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            parts = arguments.split()
            stage = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else parts[0]
        instructions.append((keyword, arguments.strip(), stage))
        logical = ""
    return instructions


def exec_form(arguments):
    """The JSON (exec) form of CMD/ENTRYPOINT/HEALTHCHECK CMD as a list, or None."""
    try:
        value = json.loads(arguments)
    except ValueError:
        return None
    return value if isinstance(value, list) else None


def flag_default(main_cc, flag):
    match = re.search(r'ABSL_FLAG\(std::string,\s*%s,\s*"([^"]*)"' % flag, main_cc)
    return match.group(1) if match else None


def port_of(address):
    return int(address.rsplit(":", 1)[1])


def read_exposition(path):
    """{sample name: label names} of a text exposition (as tests/metrics/check_queries.py)."""
    metrics = {}
    with open(path) as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            match = re.match(r"([A-Za-z_:][A-Za-z0-9_:]*)(\{(.*)\})?\s", line)
            if not match:
                raise ValueError("not a sample line: %r" % line)
            labels = set(re.findall(r'([A-Za-z_][A-Za-z0-9_]*)="', match.group(3) or ""))
            metrics.setdefault(match.group(1), set()).update(labels)
    return metrics


def metric_exists(name, exposition):
    if name in exposition:
        return True
    return any(name == family + suffix or family == name + suffix
               for family in exposition for suffix in HISTOGRAM_SUFFIXES)


def flags_of(args):
    """{--flag: value} of `--flag=value` arguments (dashes and underscores alike)."""
    flags = {}
    for arg in args:
        if arg.startswith("--") and "=" in arg:
            name, value = arg.split("=", 1)
            flags[name.replace("_", "-")] = value
    return flags


def by_kind(documents):
    objects = {}
    for doc in documents:
        objects.setdefault(doc.get("kind"), []).append(doc)
    return objects


def runtime_packages(dockerfile_text):
    """Packages that the runtime stage's `apt-get install` names."""
    instructions = parse_dockerfile(dockerfile_text)
    last = instructions[-1][2]
    packages = set()
    for key, args, stage in instructions:
        if key != "RUN" or stage != last or "apt-get install" not in args:
            continue
        words = shlex.split(args.split("apt-get install", 1)[1].split("&&")[0])
        packages.update(w for w in words if not w.startswith("-") and not w.startswith(">"))
    return packages
