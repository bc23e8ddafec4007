"""Checks of the compose demo's metrics files that need no Docker engine; ha/validate.sh runs them.

    metrics_check.py dashboard DASHBOARD_JSON REPO       the Grafana dashboard is usable
    metrics_check.py targets COMPOSE_FILE PROMETHEUS_YML  every metrics listener is scraped

dashboard: the file parses as JSON, has panels, every panel (rows aside) queries something, and
every series a query names (sso_*, histograms by their _bucket/_sum/_count) is recorded by the
code: its name appears as a string literal in a Rust source under sso-server/, sso-client/ or
sso-common/.
targets: every service of the compose file that keeps running (has a restart policy; one-shot
jobs such as sso-init share the center's settings but serve nothing) and sets
SSO_METRICS__LISTEN or DEMO_APP_METRICS__LISTEN is a target SERVICE:PORT of the Prometheus
configuration.
Needs python3-yaml. Exit status 1 and a message per problem on failure.
"""

import glob
import json
import os
import re
import sys

import yaml

sys.dont_write_bytecode = True  # no __pycache__ left beside compose_check.py
from compose_check import load as load_compose  # noqa: E402

SERIES = re.compile(r"\bsso_[a-z0-9_]+")
HISTOGRAM_SUFFIX = re.compile(r"_(bucket|sum|count)$")
LISTEN_SETTINGS = ("SSO_METRICS__LISTEN", "DEMO_APP_METRICS__LISTEN")
CODE = ("sso-server", "sso-client", "sso-common")


def recorded_names(repo):
    """Every string literal of the Rust sources that looks like a series name."""
    names = set()
    for crate in CODE:
        for path in glob.glob(os.path.join(repo, crate, "src", "**", "*.rs"), recursive=True):
            with open(path, encoding="utf-8") as file:
                names.update(re.findall(r'"(sso_[a-z0-9_]+)"', file.read()))
    return names


def check_dashboard(dashboard_path, repo):
    with open(dashboard_path, encoding="utf-8") as file:
        dashboard = json.load(file)
    problems = []
    panels = [panel for panel in dashboard.get("panels") or [] if panel.get("type") != "row"]
    if not panels:
        problems.append("the dashboard has no panels")
    recorded = recorded_names(repo)
    for panel in panels:
        title = panel.get("title") or f"panel {panel.get('id')}"
        exprs = [target.get("expr", "") for target in panel.get("targets") or []]
        if not any(expr.strip() for expr in exprs):
            problems.append(f"{title}: no query")
        for expr in exprs:
            series = SERIES.findall(expr)
            if expr.strip() and not series:
                problems.append(f"{title}: {expr!r} names no sso_* series")
            for name in series:
                base = HISTOGRAM_SUFFIX.sub("", name)
                if name not in recorded and base not in recorded:
                    problems.append(f"{title}: {name} is recorded nowhere in the code")
    for problem in problems:
        print(problem)
    return not problems


def check_targets(compose_path, prometheus_path):
    services = load_compose(compose_path).get("services") or {}
    with open(prometheus_path, encoding="utf-8") as file:
        prometheus = yaml.safe_load(file)
    targets = {
        target
        for job in prometheus.get("scrape_configs") or []
        for group in job.get("static_configs") or []
        for target in group.get("targets") or []
    }
    problems = []
    for name, service in services.items():
        if not service.get("restart"):
            continue
        environment = service.get("environment") or {}
        if isinstance(environment, list):
            environment = dict(item.split("=", 1) for item in environment)
        for setting in LISTEN_SETTINGS:
            listen = environment.get(setting)
            if listen:
                wanted = f"{name}:{str(listen).rsplit(':', 1)[-1]}"
                if wanted not in targets:
                    problems.append(f"{name} serves metrics ({setting}) but {wanted} is not scraped")
    if not any(
        setting in (service.get("environment") or {})
        for service in services.values()
        for setting in LISTEN_SETTINGS
    ):
        problems.append("no service of the compose file serves metrics")
    for problem in problems:
        print(problem)
    return not problems


def main(argv):
    commands = {"dashboard": check_dashboard, "targets": check_targets}
    if len(argv) != 4 or argv[1] not in commands:
        sys.stderr.write(__doc__)
        return 2
    try:
        return 0 if commands[argv[1]](*argv[2:]) else 1
    except (OSError, ValueError, yaml.YAMLError) as error:
        sys.stderr.write(f"{type(error).__name__}: {error}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
