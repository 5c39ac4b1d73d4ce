#!/usr/bin/env python3
"""Checks contrib/'s dashboards and alert rules against what a live powerd
exports: every powerd_* metric a Prometheus expression uses must be in a
/metrics text, every measurement, field and tag an InfluxQL query names must
be in line protocol that powerd wrote. Exit 1 with the missing names.
  dashboards_check.py prom DASHBOARD.json|RULES.yml METRICS.txt
  dashboards_check.py influx DASHBOARD.json SAMPLES.lp
  dashboards_check.py promrules DASHBOARD.json > RULES.yml   (its exprs as
      recording rules, for `promtool check rules` to parse)
  dashboards_check.py influxql DASHBOARD.json SAMPLES.lp   (its queries, one
      a line, the Grafana macros replaced: the samples' time span)"""
import json
import re
import sys

import yaml

METRIC = re.compile(r"\bpowerd_[a-z0-9_]+")


def prom_exprs(path):
    if path.endswith(".json"):
        d = json.load(open(path))
        for p in d["panels"]:
            for t in p.get("targets", []):
                yield p["title"], t["expr"]
        for v in d["templating"]["list"]:
            yield "variable " + v["name"], v["definition"]
    else:
        for g in yaml.safe_load(open(path))["groups"]:
            for r in g["rules"]:
                yield r.get("alert", r.get("record")), r["expr"]


def exported(metrics_path):
    names = set()
    for line in open(metrics_path):
        if line.strip() and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def check_prom(path, metrics_path):
    have, missing, n = exported(metrics_path), [], 0
    for where, expr in prom_exprs(path):
        for m in METRIC.findall(expr):
            n += 1
            if m not in have:
                missing.append(f"{path}: {where}: {m}")
    if n == 0:
        missing.append(f"{path}: no powerd_ metric found at all")
    return missing


def lp_keys(lp_path):
    """measurement -> set of its tag and field keys"""
    keys = {}
    for line in open(lp_path):
        line = line.rstrip("\n")
        if not line:
            continue
        head, rest = re.split(r"(?<!\\) ", line, maxsplit=1)
        parts = re.split(r"(?<!\\),", head)
        k = keys.setdefault(parts[0], set())
        k.update(p.split("=", 1)[0] for p in parts[1:])
        fields = rest.rsplit(" ", 1)[0]
        # field values may be quoted strings holding commas
        k.update(re.findall(r'(?:^|,)([A-Za-z0-9_]+)=(?:"(?:[^"\\]|\\.)*"|[^,]*)', fields))
    return keys


def influx_queries(path):
    d = json.load(open(path))
    for p in d["panels"]:
        for t in p.get("targets", []):
            yield p["title"], t["query"]
    for v in d["templating"]["list"]:
        yield "variable " + v["name"], v["definition"]


def check_influx(path, lp_path):
    keys, missing, n = lp_keys(lp_path), [], 0
    for where, q in influx_queries(path):
        ms = re.findall(r'FROM "([^"]+)"', q)
        if len(ms) != 1:
            missing.append(f"{path}: {where}: want one FROM \"measurement\": {q}")
            continue
        m = ms[0]
        if m not in keys:
            missing.append(f"{path}: {where}: measurement {m}")
            continue
        # every other double-quoted name is a field or tag key (AS aliases aside)
        q = re.sub(r'\bAS "[^"]+"', "", q)
        for name in re.findall(r'"([^"]+)"', q.replace(f'FROM "{m}"', "")):
            n += 1
            if name not in keys[m]:
                missing.append(f"{path}: {where}: {m}.{name}")
    if n == 0:
        missing.append(f"{path}: no field or tag found at all")
    return missing


def as_rules(path):
    rules = [{"record": f"dashboard:expr{i}", "expr": e.replace("$instance", ".*")}
             for i, (w, e) in enumerate(prom_exprs(path)) if not w.startswith("variable ")]
    print(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))


def as_influxql(path, lp_path):
    times = [int(line.rsplit(" ", 1)[1]) for line in open(lp_path) if line.strip()]
    span = f"time >= {min(times)} AND time <= {max(times)}"
    for where, q in influx_queries(path):
        q = q.replace("$timeFilter", span).replace("$__interval", "1m")
        print(q.replace("/^$meter$/", "/^.*$/"))


def main():
    if sys.argv[1] == "promrules":
        return as_rules(sys.argv[2])
    if sys.argv[1] == "influxql":
        return as_influxql(sys.argv[2], sys.argv[3])
    kind, path, data = sys.argv[1:4]
    missing = check_prom(path, data) if kind == "prom" else check_influx(path, data)
    for m in missing:
        print("missing:", m)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
