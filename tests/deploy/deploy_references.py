"""The `references` check of check_deploy.py: the ports, paths, names and metrics that the
Dockerfile, deploy/docker-compose.yml, deploy/k8s/ and deploy/prometheus/ name exist where they
point (see check_deploy.py)."""

import glob
import os
import re

import yaml

from deploy_files import (METRIC_NAME, TARGET_LABELS, by_kind, exec_form, flag_default, flags_of,
                          load_documents, metric_exists, parse_dockerfile, port_of, read_exposition)

class Context:
    """What the checks compare against: Octet's defaults, the image and the exposition."""

    def __init__(self, root, exposition_path):
        self.root = root
        with open(os.path.join(root, "server", "main.cc")) as f:
            main_cc = f.read()
        self.grpc_address = flag_default(main_cc, "grpc_address")
        self.metrics_address = flag_default(main_cc, "metrics_address")
        with open(os.path.join(root, "client", "cli", "flags.cc")) as f:
            match = re.search(r'ABSL_FLAG\(std::string,\s*url,\s*"([^"]*)"', f.read())
        self.cli_url = match.group(1) if match else None
        with open(os.path.join(root, "Dockerfile")) as f:
            self.dockerfile = parse_dockerfile(f.read())
        self.exposition = read_exposition(exposition_path)
        self.models = sorted(
            os.path.basename(os.path.dirname(p))
            for p in glob.glob(os.path.join(root, "examples", "models", "*", "config.pbtxt")))

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    def runtime(self, keyword):
        """Arguments of every KEYWORD instruction of the last (runtime) stage."""
        last = self.dockerfile[-1][2]
        return [args for key, args, stage in self.dockerfile if key == keyword and stage == last]


def check_defaults(ctx, problems):
    problems.check(ctx.grpc_address == "0.0.0.0:8001", "server/main.cc",
                   "--grpc-address defaults to %r; deploy/ assumes 0.0.0.0:8001" % ctx.grpc_address)
    problems.check(ctx.metrics_address == "0.0.0.0:8002", "server/main.cc",
                   "--metrics-address defaults to %r; deploy/ assumes 0.0.0.0:8002"
                   % ctx.metrics_address)
    problems.check(ctx.cli_url and port_of(ctx.cli_url) == 8001, "client/cli/flags.cc",
                   "the CLI's default --url is %r, not port 8001" % ctx.cli_url)
    problems.check(ctx.models, "examples/models", "no example model")


def check_dockerfile(ctx, problems):
    where = "Dockerfile"
    froms = [args for key, args, _ in ctx.dockerfile if key == "FROM"]
    problems.check(len(froms) >= 2, where, "is not multi-stage")
    for args in froms:
        problems.check(args.split()[0].startswith("${"), where,
                       "FROM %s is not a build argument (deploy/test-image.sh overrides it)" % args)

    exposed = {int(p.split("/")[0]) for args in ctx.runtime("EXPOSE") for p in args.split()}
    problems.check({port_of(ctx.grpc_address), port_of(ctx.metrics_address)} <= exposed, where,
                   "EXPOSE %s lacks the server's default ports" % sorted(exposed))

    entrypoint = [exec_form(a) for a in ctx.runtime("ENTRYPOINT")]
    problems.check(entrypoint and entrypoint[-1] == ["octet-server"], where,
                   "ENTRYPOINT is %s, expected [\"octet-server\"] (exec form: it gets SIGTERM)"
                   % entrypoint)
    cmd = [exec_form(a) for a in ctx.runtime("CMD")]
    cmd = cmd[-1] if cmd else None
    problems.check(cmd, where, "has no exec-form CMD")
    flags = flags_of(cmd or [])
    problems.check(flags.get("--model-repository") == "/models", where,
                   "CMD does not serve /models: %s" % cmd)
    for flag, address in (("--grpc-address", ctx.grpc_address),
                          ("--metrics-address", ctx.metrics_address)):
        if flag in flags:
            problems.check(port_of(flags[flag]) == port_of(address), where,
                           "CMD's %s is not the exposed port" % flag)

    copies = [args.split() for args in ctx.runtime("COPY")]
    models_copied = [c for c in copies if c[-1] == "/models" and "examples/models" in c]
    problems.check(models_copied, where, "does not copy examples/models to /models")
    for binary in ("octet-server", "octet"):
        problems.check(any(binary in " ".join(c) and "/usr/local/bin/" in c[-1] for c in copies),
                       where, "does not install %s in /usr/local/bin" % binary)
    build_runs = " ".join(args for key, args, stage in ctx.dockerfile
                          if key == "RUN" and stage != ctx.dockerfile[-1][2])
    problems.check(re.search(r"--target\s+octet-server\s+octet\b", build_runs), where,
                   "the build stage does not build just octet-server and octet")

    user = ctx.runtime("USER")
    problems.check(user and re.fullmatch(r"\d+(:\d+)?", user[-1]), where,
                   "USER %s is not numeric (Kubernetes' runAsNonRoot needs a uid)" % user)
    problems.check(user and not user[-1].startswith("0"), where, "runs as root")
    ctx.uid = int(user[-1].split(":")[0]) if user and user[-1][0].isdigit() else None

    healthchecks = ctx.runtime("HEALTHCHECK")
    problems.check(len(healthchecks) == 1, where, "has %d HEALTHCHECKs" % len(healthchecks))
    if healthchecks:
        options, _, command = healthchecks[0].partition(" CMD ")
        test = exec_form(command.strip())
        problems.check(test and test[0] == "octet" and test[-1] == "health", where,
                       "HEALTHCHECK does not run `octet ... health`: %s" % healthchecks[0])
        url = None
        for i, arg in enumerate(test or []):
            if arg == "--url" and i + 1 < len(test):
                url = test[i + 1]
            elif arg.startswith("--url="):
                url = arg.split("=", 1)[1]
        url = url or ctx.cli_url
        problems.check(url and url.rsplit(":", 1)[0] in ("localhost", "127.0.0.1")
                       and port_of(url) == port_of(ctx.grpc_address), where,
                       "HEALTHCHECK asks %s, not the server's own gRPC port" % url)
        timeout = re.search(r"--timeout=(\d+)s", options)
        cli_timeout = None
        for i, arg in enumerate(test or []):
            if arg == "--timeout" and i + 1 < len(test):
                cli_timeout = re.fullmatch(r"(\d+)s", test[i + 1])
        problems.check(timeout and cli_timeout and int(cli_timeout.group(1)) < int(timeout.group(1)),
                       where, "HEALTHCHECK's octet --timeout must be below its --timeout")


def check_compose(ctx, problems):
    where = "deploy/docker-compose.yml"
    compose = load_documents(ctx.path(where))[0]
    services = compose.get("services", {})
    octet = services.get("octet", {})

    def host_path(source):
        return os.path.normpath(os.path.join(ctx.path("deploy"), source))

    build = octet.get("build", {})
    problems.check(os.path.isfile(os.path.join(host_path(build.get("context", ".")),
                                               build.get("dockerfile", "Dockerfile"))),
                   where, "octet's build does not point at the Dockerfile")
    ports = {str(p) for p in octet.get("ports", [])}
    for port in (port_of(ctx.grpc_address), port_of(ctx.metrics_address)):
        problems.check("%d:%d" % (port, port) in ports, where, "octet does not publish %d" % port)
    flags = flags_of(octet.get("command", []))
    problems.check(flags.get("--model-repository") == "/models", where,
                   "octet does not serve /models, the image's repository")

    # Every bind mount's source exists; remember where each container path comes from.
    mounts = {}
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source, target = volume.split(":")[:2]
            if source.startswith((".", "/")):
                problems.check(os.path.exists(host_path(source)), where,
                               "%s mounts %s, which does not exist" % (name, source))
                mounts[(name, target)] = host_path(source)

    # Prometheus: its config file is in the mounted folder, and scrapes the octet service.
    prometheus = services.get("prometheus", {})
    config = flags_of(prometheus.get("command", [])).get("--config.file",
                                                         "/etc/prometheus/prometheus.yml")
    config_dir, config_name = os.path.split(config)
    host_dir = mounts.get(("prometheus", config_dir))
    problems.check(host_dir == ctx.path("deploy", "prometheus"), where,
                   "prometheus does not mount deploy/prometheus at %s" % config_dir)
    if host_dir:
        prometheus_yml = load_documents(os.path.join(host_dir, config_name))[0]
        for rule_file in prometheus_yml.get("rule_files", []):
            problems.check(os.path.isfile(os.path.join(host_dir, rule_file)),
                           "deploy/prometheus/" + config_name, "rule file %s is missing" % rule_file)
        targets = [t for job in prometheus_yml.get("scrape_configs", [])
                   for sc in job.get("static_configs", []) for t in sc.get("targets", [])]
        problems.check("octet:%d" % port_of(ctx.metrics_address) in targets,
                       "deploy/prometheus/" + config_name,
                       "does not scrape octet:%d (the compose service)" % port_of(ctx.metrics_address))

    # Grafana: provisioning mounted where Grafana reads it; the dashboard provider's folder is
    # where the dashboards are mounted; the data source is the compose Prometheus.
    grafana = services.get("grafana", {})
    provisioning = ctx.path("deploy", "grafana", "provisioning")
    for kind in sorted(os.listdir(provisioning)):
        problems.check(mounts.get(("grafana", "/etc/grafana/provisioning/" + kind))
                       == os.path.join(provisioning, kind),
                       where, "grafana does not mount provisioning/%s" % kind)
    for path in glob.glob(os.path.join(provisioning, "dashboards", "*.y*ml")):
        for provider in load_documents(path)[0].get("providers", []):
            folder = provider.get("options", {}).get("path")
            problems.check(mounts.get(("grafana", folder)) == ctx.path("deploy", "grafana",
                                                                       "dashboards"),
                           where, "grafana does not mount deploy/grafana/dashboards at %s" % folder)
    for path in glob.glob(os.path.join(provisioning, "datasources", "*.y*ml")):
        for source in load_documents(path)[0].get("datasources", []):
            url = source.get("url", "")
            match = re.fullmatch(r"https?://([^:/]+):(\d+)/?", url)
            problems.check(match and match.group(1) in services and match.group(2) == "9090",
                           os.path.relpath(path, ctx.root),
                           "data source %s is not the compose Prometheus (prometheus:9090)" % url)
    home = (grafana.get("environment") or {}).get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
    if home:
        folder, name = os.path.split(home)
        problems.check(mounts.get(("grafana", folder)) and
                       os.path.isfile(os.path.join(mounts[("grafana", folder)], name)),
                       where, "the home dashboard %s is not mounted" % home)

    # The load generator asks the octet service for an example model.
    load = services.get("load")
    if load:
        command = load.get("command", [])
        url = flags_of(command).get("--url", "")
        problems.check(url == "octet:%d" % port_of(ctx.grpc_address), where,
                       "load does not call octet:%d" % port_of(ctx.grpc_address))
        problems.check("perf" in command and
                       command[command.index("perf") + 1] in ctx.models,
                       where, "load's perf does not name an example model")


def check_container(container, where, ctx, problems, volumes):
    """Checks one octet-server container of a pod spec; returns its flags."""
    flags = flags_of(container.get("args", []))
    ports = {p.get("name"): p.get("containerPort") for p in container.get("ports", [])}
    grpc = port_of(flags.get("--grpc-address", ctx.grpc_address))
    problems.check(grpc in ports.values(), where, "gRPC port %d is not a container port" % grpc)
    repository = flags.get("--model-repository")
    mount_paths = {m.get("mountPath"): m.get("name") for m in container.get("volumeMounts", [])}
    for name in mount_paths.values():
        problems.check(name in volumes, where, "mounts volume %s, which is not defined" % name)
    image_has_repository = repository == "/models"
    problems.check(repository in mount_paths or image_has_repository or
                   repository == "/mnt/models", where,
                   "--model-repository=%s is neither mounted nor the image's /models" % repository)
    security = container.get("securityContext", {})
    problems.check(security.get("readOnlyRootFilesystem") is True, where,
                   "the root filesystem is not read-only")
    problems.check(security.get("allowPrivilegeEscalation") is False, where,
                   "allows privilege escalation")
    return flags, ports


def check_kubernetes(ctx, problems):
    k8s = ctx.path("deploy", "k8s")
    documents = []
    for path in sorted(glob.glob(os.path.join(k8s, "*.yaml"))):
        if os.path.basename(path) == "kustomization.yaml":
            continue
        for doc in load_documents(path):
            doc["_file"] = os.path.relpath(path, ctx.root)
            documents.append(doc)
    objects = by_kind(documents)

    kustomization = load_documents(os.path.join(k8s, "kustomization.yaml"))[0]
    for resource in kustomization.get("resources", []):
        problems.check(os.path.isfile(os.path.join(k8s, resource)), "deploy/k8s/kustomization.yaml",
                       "resource %s does not exist" % resource)

    deployments = objects.get("Deployment", [])
    problems.check(len(deployments) == 1, "deploy/k8s", "expected one Deployment")
    if not deployments:
        return
    deployment = deployments[0]
    where = deployment["_file"]
    pod = deployment["spec"]["template"]
    pod_labels = pod["metadata"]["labels"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    problems.check(selector.items() <= pod_labels.items(), where,
                   "the selector does not match the pod's labels")
    spec = pod["spec"]
    security = spec.get("securityContext", {})
    problems.check(security.get("runAsNonRoot") is True, where, "runAsNonRoot is not set")
    problems.check(security.get("runAsUser") == getattr(ctx, "uid", None), where,
                   "runAsUser %s is not the image's user %s"
                   % (security.get("runAsUser"), getattr(ctx, "uid", None)))
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    for volume in volumes.values():
        claim = volume.get("persistentVolumeClaim", {}).get("claimName")
        if claim:
            claims = [c["metadata"]["name"] for c in objects.get("PersistentVolumeClaim", [])]
            problems.check(claim in claims, where, "claims %s, which deploy/k8s does not define"
                           % claim)
    for init in spec.get("initContainers", []):
        for mount in init.get("volumeMounts", []):
            problems.check(mount["name"] in volumes, where,
                           "init container mounts undefined volume %s" % mount["name"])
    containers = [c for c in spec["containers"] if c.get("name") == "octet"]
    problems.check(containers, where, "has no container named octet")
    if not containers:
        return
    container = containers[0]
    flags, ports = check_container(container, where, ctx, problems, volumes)
    grpc_port = port_of(flags.get("--grpc-address", ctx.grpc_address))
    metrics_port = port_of(flags.get("--metrics-address", ctx.metrics_address))
    problems.check(ports.get("grpc") == grpc_port == 8001, where, "port `grpc` is not 8001")
    problems.check(ports.get("metrics") == metrics_port == 8002, where,
                   "port `metrics` is not 8002")
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        port = container.get(probe, {}).get("grpc", {}).get("port")
        problems.check(port in (grpc_port, "grpc"), where,
                       "%s is not a gRPC probe of port %d" % (probe, grpc_port))
    resources = container.get("resources", {})
    problems.check(resources.get("requests") and resources.get("limits"), where,
                   "the octet container lacks resource requests or limits")
    for value in container.get("args", []):
        for name in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", value):
            problems.check(any(e.get("name") == name for e in container.get("env", [])), where,
                           "argument %s refers to undefined $(%s)" % (value, name))
    tmp = [m for m in container.get("volumeMounts", []) if m.get("mountPath") == "/tmp"]
    problems.check(tmp and "emptyDir" in volumes.get(tmp[0]["name"], {}), where,
                   "no emptyDir at /tmp beside the read-only root filesystem")

    # Service: selects the pods; its target ports are container ports.
    services = objects.get("Service", [])
    problems.check(services, "deploy/k8s", "no Service")
    for service in services:
        where = service["_file"]
        problems.check(service["spec"]["selector"].items() <= pod_labels.items(), where,
                       "the selector does not match the Deployment's pods")
        for port in service["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            problems.check(target in ports or target in ports.values(), where,
                           "targetPort %s is not a container port" % target)
        names = {p["name"]: p for p in service["spec"]["ports"]}
        problems.check(names.get("grpc", {}).get("port") == 8001 and
                       names.get("metrics", {}).get("port") == 8002, where,
                       "ports grpc/metrics are not 8001/8002")

    # ServiceMonitor: selects the Service, scrapes its metrics port at /metrics.
    for monitor in objects.get("ServiceMonitor", []):
        where = monitor["_file"]
        problems.check(monitor.get("apiVersion") == "monitoring.coreos.com/v1", where,
                       "apiVersion is not monitoring.coreos.com/v1")
        match = monitor["spec"]["selector"]["matchLabels"]
        selected = [s for s in services if match.items() <= s["metadata"]["labels"].items()]
        problems.check(selected, where, "selects no Service")
        for endpoint in monitor["spec"]["endpoints"]:
            problems.check(all(endpoint.get("port") in {p.get("name") for p in s["spec"]["ports"]}
                               for s in selected), where,
                           "endpoint port %s is not a Service port name" % endpoint.get("port"))
            problems.check(endpoint.get("path", "/metrics") == "/metrics", where,
                           "scrapes %s, not /metrics" % endpoint.get("path"))

    # prometheus-adapter: its rule exposes a metric made of Octet's series and target labels.
    adapter_metrics = set()
    for config_map in objects.get("ConfigMap", []):
        where = config_map["_file"]
        for key, text in (config_map.get("data") or {}).items():
            if not key.endswith((".yaml", ".yml")):
                continue
            for rule in (yaml.safe_load(text) or {}).get("rules", []):
                check_adapter_rule(rule, where, ctx, problems)
                name = rule.get("name", {})
                adapter_metrics.add(name.get("as") or rule.get("seriesQuery", "").split("{")[0])

    # HPA: scales the Deployment on a metric that the adapter serves.
    for hpa in objects.get("HorizontalPodAutoscaler", []):
        where = hpa["_file"]
        target = hpa["spec"]["scaleTargetRef"]
        problems.check(target.get("kind") == "Deployment" and
                       target.get("name") == deployment["metadata"]["name"], where,
                       "does not scale the Deployment")
        for metric in hpa["spec"].get("metrics", []):
            if metric.get("type") in ("Pods", "Object", "External"):
                source = metric.get(metric["type"].lower(), {})
                name = source.get("metric", {}).get("name")
                problems.check(name in adapter_metrics, where,
                               "metric %s is not one the prometheus-adapter rule serves" % name)
                problems.check(metric_exists(name, ctx.exposition), where,
                               "metric %s is not in Octet's exposition" % name)


def check_adapter_rule(rule, where, ctx, problems):
    series = rule.get("seriesQuery", "")
    metrics_query = rule.get("metricsQuery", "")
    name = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", series)
    problems.check(name and metric_exists(name.group(0), ctx.exposition), where,
                   "seriesQuery %r names no metric of Octet's exposition" % series)
    if not name:
        return
    labels = set(ctx.exposition.get(name.group(0), set())) | TARGET_LABELS
    for matcher in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)", series):
        problems.check(matcher in labels, where, "seriesQuery matches unknown label %s" % matcher)
    overrides = rule.get("resources", {}).get("overrides", {})
    for label in overrides:
        problems.check(label in labels, where, "resource override of unknown label %s" % label)
    problems.check({"namespace", "pod"} <= set(overrides), where,
                   "pods are not mapped (namespace and pod overrides), so a Pods metric fails")
    problems.check("<<.Series>>" in metrics_query and "<<.LabelMatchers>>" in metrics_query,
                   where, "metricsQuery does not use <<.Series>> and <<.LabelMatchers>>")
    # The query as the adapter runs it for the HPA: grouped by the pod.
    concrete = (metrics_query.replace("<<.Series>>", name.group(0))
                .replace("<<.LabelMatchers>>", 'namespace="default",pod=~"octet-.*"')
                .replace("<<.GroupBy>>", "pod"))
    for metric in METRIC_NAME.findall(concrete):
        problems.check(metric_exists(metric, ctx.exposition), where,
                       "metricsQuery names %s, which Octet does not expose" % metric)
    for group in re.findall(r"\bby\s*\(([^)]*)\)", concrete):
        for label in (l.strip() for l in group.split(",") if l.strip()):
            problems.check(label in labels, where, "metricsQuery groups by unknown %s" % label)


def check_kserve(ctx, problems):
    documents = []
    for path in sorted(glob.glob(ctx.path("deploy", "k8s", "kserve", "*.yaml"))):
        for doc in load_documents(path):
            doc["_file"] = os.path.relpath(path, ctx.root)
            documents.append(doc)
    objects = by_kind(documents)
    runtimes = {r["metadata"]["name"]: r for r in objects.get("ServingRuntime", [])}
    services = objects.get("InferenceService", [])
    problems.check(services, "deploy/k8s/kserve", "no InferenceService")

    def check_h2c(container, annotations, where):
        flags, ports = check_container(container, where, ctx, problems, {})
        grpc = port_of(flags.get("--grpc-address", ctx.grpc_address))
        problems.check(ports.get("h2c") == grpc == 8001, where,
                       "the container's port is not h2c 8001 (gRPC over HTTP/2 cleartext)")
        problems.check(container.get("name") == "kserve-container", where,
                       "the container is not named kserve-container")
        metrics = port_of(flags.get("--metrics-address", ctx.metrics_address))
        problems.check(annotations.get("prometheus.kserve.io/port") == str(metrics), where,
                       "prometheus.kserve.io/port is not the metrics port %d" % metrics)
        problems.check(annotations.get("prometheus.kserve.io/path") == "/metrics", where,
                       "prometheus.kserve.io/path is not /metrics")

    for runtime in runtimes.values():
        where = runtime["_file"]
        problems.check("grpc-v2" in runtime["spec"].get("protocolVersions", []), where,
                       "the runtime does not declare grpc-v2 (KServe v2 over gRPC)")
        for container in runtime["spec"]["containers"]:
            check_h2c(container, runtime["spec"].get("annotations", {}), where)
            problems.check(flags_of(container.get("args", [])).get("--model-repository")
                           == "/mnt/models", where,
                           "the runtime does not serve /mnt/models, where KServe puts storageUri")
    for service in services:
        where = service["_file"]
        problems.check(service.get("apiVersion") == "serving.kserve.io/v1beta1", where,
                       "apiVersion is not serving.kserve.io/v1beta1")
        predictor = service["spec"]["predictor"]
        model = predictor.get("model")
        if model:
            problems.check(model.get("runtime") in runtimes, where,
                           "runtime %s is not defined in deploy/k8s/kserve" % model.get("runtime"))
            runtime = runtimes.get(model.get("runtime"), {"spec": {}})
            problems.check(model.get("protocolVersion") in
                           runtime["spec"].get("protocolVersions", []), where,
                           "protocolVersion %s is not one the runtime declares"
                           % model.get("protocolVersion"))
            formats = [f["name"] for f in runtime["spec"].get("supportedModelFormats", [])]
            problems.check(model.get("modelFormat", {}).get("name") in formats, where,
                           "the model format is not one the runtime supports")
            uri = model.get("storageUri", "")
            if uri.startswith("pvc://"):
                claims = [c["metadata"]["name"] for path in glob.glob(ctx.path("deploy", "k8s",
                                                                               "*.yaml"))
                          for c in load_documents(path) if c.get("kind") == "PersistentVolumeClaim"]
                problems.check(uri[len("pvc://"):].split("/")[0] in claims, where,
                               "storageUri %s names no PVC of deploy/k8s" % uri)
        else:
            containers = predictor.get("containers", [])
            problems.check(containers, where, "neither a model nor a custom container")
            for container in containers:
                check_h2c(container, service["metadata"].get("annotations", {}), where)


def check_metric_names(ctx, problems):
    """Every octet_* name in deploy/ (but the dashboard and alert rules, which tests/metrics
    checks with their labels) and in the Dockerfile is a metric that Octet exposes."""
    skip = {ctx.path("deploy", "grafana", "dashboards"), ctx.path("deploy", "prometheus")}
    paths = [ctx.path("Dockerfile")]
    for directory, _, names in os.walk(ctx.path("deploy")):
        if any(directory.startswith(s) for s in skip):
            continue
        paths += [os.path.join(directory, n) for n in names
                  if n.endswith((".yml", ".yaml", ".md", ".sh"))]
    found = 0
    for path in sorted(paths):
        with open(path) as f:
            text = f.read()
        for name in sorted(set(METRIC_NAME.findall(text))):
            found += 1
            problems.check(metric_exists(name, ctx.exposition), os.path.relpath(path, ctx.root),
                           "names %s, which Octet does not expose" % name)
    problems.check(found, "deploy/", "names no octet_ metric at all")


def check_references(root, exposition, problems):
    ctx = Context(root, exposition)
    check_defaults(ctx, problems)
    check_dockerfile(ctx, problems)
    check_compose(ctx, problems)
    check_kubernetes(ctx, problems)
    check_kserve(ctx, problems)
    check_metric_names(ctx, problems)
