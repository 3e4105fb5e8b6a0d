"""The series the shipped dashboard and alert rules use exist in weir's /metrics (issue #16).

Called by check.py with a live `weir serve`'s /metrics text (after data was produced and a group
committed, so the per-topic and per-group families have series) and a function querying the
Prometheus that scrapes it. Checks:
- `promtool check rules docs/prometheus/alerts.yml` passes;
- every metric name in the PromQL of docs/prometheus/alerts.yml and docs/grafana/weir.json
  (panel targets and template-variable queries) is a sample name in /metrics (a histogram's
  `_bucket`, `_sum` and `_count` are sample names there; `up` is Prometheus's own);
- every dashboard expression, its variables substituted, is accepted by Prometheus's query API;
- the dashboard's shape: schema version, a Prometheus datasource variable every panel uses,
  unique panel ids, panels inside the 24-column grid and not overlapping.
Alone: `python3 tests/prometheus/series_used.py --names` prints the names it extracts.
"""

import json
import os
import re
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
RULES = os.path.join(ROOT, "docs", "prometheus", "alerts.yml")
DASHBOARD = os.path.join(ROOT, "docs", "grafana", "weir.json")

# Series Prometheus makes itself for every target; they are not in /metrics.
SYNTHETIC = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
            "unless", "offset", "bool", "inf", "nan"}
# Grafana's built-in variables, and the values they get when the expressions are run here.
GRAFANA_VARS = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "5m"}


def rule_exprs():
    """The `expr` of every rule in alerts.yml: block scalars (`expr: |`) or one-liners."""
    exprs = []
    lines = open(RULES).read().splitlines()
    i = 0
    while i < len(lines):
        m = re.match(r"^(\s*)expr:\s*(.*)$", lines[i])
        i += 1
        if not m:
            continue
        indent, rest = len(m.group(1)), m.group(2)
        if rest in ("|", ">", "|-", ">-"):
            body = []
            while i < len(lines) and (not lines[i].strip()
                                      or len(lines[i]) - len(lines[i].lstrip()) > indent):
                body.append(lines[i])
                i += 1
            exprs.append("\n".join(body))
        else:
            exprs.append(rest)
    return exprs


def alert_expr(name):
    """The expr of the rule `alert: name` (the first `expr:` after it)."""
    text = open(RULES).read()
    at = text.index(f"- alert: {name}\n")
    before = text[:at].count("expr:")
    return rule_exprs()[before]


def dashboard_exprs():
    """Every panel target's expr and every query variable's query in weir.json."""
    dash = json.load(open(DASHBOARD))
    out = []

    def walk(panels):
        for p in panels:
            out.extend(t["expr"] for t in p.get("targets", []) if t.get("expr"))
            walk(p.get("panels", []))
    walk(dash["panels"])
    for v in dash["templating"]["list"]:
        if v["type"] == "query":
            out.append(v["query"]["query"] if isinstance(v["query"], dict) else v["query"])
    return out


def metric_names(expr):
    """The metric names an expression selects. Grafana's `label_values(SELECTOR, label)`
    counts its selector only."""
    e = re.sub(r"label_values\((.*),\s*[A-Za-z_]\w*\s*\)", r"(\1)", expr)
    e = re.sub(r'"(?:[^"\\]|\\.)*"|`[^`]*`|\'(?:[^\'\\]|\\.)*\'', '""', e)  # strings
    e = re.sub(r"\{[^}]*\}", " ", e)  # label matchers
    e = re.sub(r"\[[^\]]*\]", " ", e)  # range and subquery windows
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    names = set()
    for m in re.finditer(r"(?<![\w$.])([A-Za-z_:][\w:]*)(\s*\()?", e):
        word, call = m.group(1), m.group(2)
        if not call and word.lower() not in KEYWORDS:
            names.add(word)
    return names


def exposed_names(metrics_text):
    """Sample names in a /metrics text, with the family names of its `# TYPE` lines (a family
    without series yet, such as produce errors before the first error, still exists) and a
    histogram family's `_bucket`, `_sum` and `_count`."""
    names = set()
    for line in metrics_text.splitlines():
        if line.startswith("# TYPE "):
            _, _, family, kind = line.split(" ", 3)
            names.add(family)
            if kind == "histogram":
                names.update(family + s for s in ("_bucket", "_sum", "_count"))
        elif line and not line.startswith("#"):
            names.add(re.split(r"[ {]", line, maxsplit=1)[0])
    return names


def substitute(expr):
    for k, v in GRAFANA_VARS.items():
        expr = expr.replace(k, v)
    return re.sub(r"\$\w+", ".*", expr)


def dashboard_shape():
    """What Grafana needs to import the file: problems found, empty when none."""
    dash = json.load(open(DASHBOARD))
    problems = []
    if not 36 <= dash.get("schemaVersion", 0) <= 41:
        problems.append(f"schemaVersion {dash.get('schemaVersion')}")
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    if variables.get("datasource", {}).get("type") != "datasource" \
            or variables["datasource"].get("query") != "prometheus":
        problems.append("no Prometheus datasource variable")
    ids = [p["id"] for p in dash["panels"]]
    if len(ids) != len(set(ids)):
        problems.append(f"duplicate panel ids {ids}")
    cells = set()
    for p in dash["panels"]:
        g = p["gridPos"]
        if g["x"] + g["w"] > 24:
            problems.append(f"panel {p['title']!r} wider than the grid")
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"])
                for y in range(g["y"], g["y"] + g["h"])}
        if mine & cells:
            problems.append(f"panel {p['title']!r} overlaps another")
        cells |= mine
        if p["type"] != "row" and p.get("datasource", {}).get("uid") != "${datasource}":
            problems.append(f"panel {p['title']!r} not on the datasource variable")
        if p["type"] != "row" and not p.get("targets"):
            problems.append(f"panel {p['title']!r} has no query")
    return problems


def run(checks, metrics_text, query):
    """Adds the checks to `checks` (check.py's Checks); `query(q)` runs an instant query and
    raises when Prometheus refuses it."""
    lint = subprocess.run(["promtool", "check", "rules", RULES], capture_output=True)
    checks.check("promtool check rules alerts.yml", lint.returncode == 0,
                 (lint.stdout + lint.stderr).decode().strip().replace("\n", " | ")[:500])

    shape = dashboard_shape()
    checks.check("dashboard: importable shape", not shape, "; ".join(shape))

    exposed = exposed_names(metrics_text) | SYNTHETIC
    rules, panels = rule_exprs(), dashboard_exprs()
    for what, exprs in (("alert rules", rules), ("dashboard", panels)):
        used = set().union(*map(metric_names, exprs))
        missing = sorted(used - exposed)
        checks.check(f"{what}: every series used is in /metrics", bool(used) and not missing,
                     f"{len(exprs)} expressions, {len(used)} names"
                     + (f", missing {missing}" if missing else ""))

    bad = []
    for e in panels:
        if e.startswith("label_values("):
            continue
        try:
            query(substitute(e))
        except Exception as err:  # HTTP 400 from Prometheus: not valid PromQL
            bad.append(f"{e!r}: {err}")
    checks.check("dashboard: Prometheus accepts every expression", not bad, "; ".join(bad)[:800])


if __name__ == "__main__":
    if sys.argv[1:] != ["--names"]:
        sys.exit(__doc__)
    for what, exprs in (("rules", rule_exprs()), ("dashboard", dashboard_exprs())):
        print(what, len(exprs), sorted(set().union(*map(metric_names, exprs))))
