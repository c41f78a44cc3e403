#!/usr/bin/python3
"""prom_client.py - scrape ksmvmm's HTTP /metrics and check it with a real parser: the
Prometheus client library's own text parser (Debian's python3-prometheus-client, installed
for the system Python: run this with /usr/bin/python3).

  prom_client.py scrape URL OUT        GET URL: want 200 and the 0.0.4 text content type;
                                       write the body to OUT
  prom_client.py status METHOD URL     print the HTTP status of METHOD URL
  prom_client.py check FILE [--report REPORT.json] [--same-series OTHER] [FAMILY...]
      FILE parses; every FAMILY has samples; every per-guest sample (ksmvmm_guest_*,
      ksmvmm_device_*, ksmvmm_sharing_pages) has a domain and a UUID label, and with
      --report each domain's uuid is the one `ksmctl report --json` gives it; with
      --same-series, OTHER (e.g. `ksmctl metrics`) has exactly the same series.
"""
import json
import re
import sys
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
PER_GUEST = ("ksmvmm_guest_", "ksmvmm_device_", "ksmvmm_sharing_pages")
CONTENT_TYPE = "text/plain; version=0.0.4"


def fail(msg):
    raise SystemExit(f"FAIL: {msg}")


def request(method, url):
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


def scrape(url, out):
    status, ctype, body = request("GET", url)
    if status != 200:
        fail(f"GET {url}: status {status}: {body[:200]!r}")
    if not ctype.startswith(CONTENT_TYPE):
        fail(f"GET {url}: Content-Type {ctype!r}, want {CONTENT_TYPE}")
    open(out, "wb").write(body)
    print(f"GET {url}: 200, {len(body)} bytes, {ctype}")


def samples(text):
    """{(sample name, sorted labels): value} of @text, parsed by prometheus_client."""
    out, families = {}, 0
    try:
        for fam in text_string_to_metric_families(text):
            families += 1
            for s in fam.samples:
                key = (s.name, tuple(sorted(s.labels.items())))
                if key in out:
                    fail(f"series {key} twice")
                out[key] = s.value
    except ValueError as e:
        fail(f"prometheus_client cannot parse it: {e}")
    return out, families


def check_guest_labels(series, uuids):
    n = 0
    for (name, labels), _ in series.items():
        if not name.startswith(PER_GUEST):
            continue
        lab = dict(labels)
        for dom, uid in (("domain", "uuid"), ("peer_domain", "peer_uuid")):
            if dom == "peer_domain" and dom not in lab:
                continue
            if not lab.get(dom) or not UUID.fullmatch(lab.get(uid, "")):
                fail(f"{name}{lab}: no {dom} or no valid {uid} label")
            if uuids is not None and uuids.get(lab[dom]) != lab[uid]:
                fail(f"{name}{lab}: the report gives {lab[dom]} the uuid {uuids.get(lab[dom])}")
        n += 1
    if n == 0:
        fail("no per-guest series at all")
    return n


def check(args):
    path, report, other, required = args[0], None, None, []
    rest = iter(args[1:])
    for a in rest:
        if a == "--report":
            report = next(rest)
        elif a == "--same-series":
            other = next(rest)
        else:
            required.append(a)
    series, families = samples(open(path).read())
    names = {name for name, _ in series}
    for fam in required:
        if fam not in names:
            fail(f"no samples of {fam}")
    uuids = None
    if report:
        doc = json.load(open(report))
        uuids = {g["name"]: g["uuid"] for g in doc["guests"]}
    n = check_guest_labels(series, uuids)
    if other:
        theirs, _ = samples(open(other).read())
        if set(theirs) != set(series):
            diff = sorted(set(theirs) ^ set(series))[:5]
            fail(f"{other} and {path} differ in their series, e.g. {diff}")
    print(f"prometheus_client parsed {families} families, {len(series)} samples; "
          f"{n} per-guest samples carry domain and uuid")


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "scrape":
        scrape(args[0], args[1])
    elif cmd == "status":
        print(request(args[0], args[1])[0])
    elif cmd == "check":
        check(args)
    else:
        fail(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
