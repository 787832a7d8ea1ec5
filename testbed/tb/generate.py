"""Writes scenario files of many domains over a few shared MX hosts, for benchmarks.

Domain i is d<i>.bench.test; MX host j is mx<j>.bench-mx.test. Every domain publishes a correct
enforce setup (record, TLS-RPT, policy covering *.bench-mx.test) unless a fault picks it. Faults
are drawn deterministically from the seed, each affecting the given fraction of domains:

  no-mta-sts       no _mta-sts record and no policy host
  bad-id           an id the grammar refuses
  policy-404       the policy URL answers 404
  policy-cert-expired   the policy host's certificate expired
  mx-not-covered   the policy lists only mx.elsewhere.test
  mx-cert-expired  the domain's MX is a broken host (expired certificate), shared by all such domains
  mx-no-starttls   the domain's MX does not offer STARTTLS, shared likewise
  testing          testing mode instead of enforce
"""

import random

FAULTS = ("no-mta-sts", "bad-id", "policy-404", "policy-cert-expired", "mx-not-covered",
          "mx-cert-expired", "mx-no-starttls", "mx-silent", "testing")


def _parse_faults(text):
    faults = {}
    for item in filter(None, (x.strip() for x in text.split(","))):
        kind, _, fraction = item.partition("=")
        if kind not in FAULTS:
            raise SystemExit(f"testbed: unknown fault {kind!r}; known: {', '.join(FAULTS)}")
        try:
            faults[kind] = float(fraction)
        except ValueError:
            raise SystemExit(f"testbed: fault {kind} needs a fraction, e.g. {kind}=0.01")
        if not 0 <= faults[kind] <= 1:
            raise SystemExit(f"testbed: fraction of {kind} must be from 0 to 1")
    return faults


def _q(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write(out, domains, mx_hosts, faults_text, seed):
    if domains < 1 or mx_hosts < 1:
        raise SystemExit("testbed: --domains and --mx-hosts must be at least 1")
    faults = _parse_faults(faults_text)
    rng = random.Random(seed)
    out.write(f"# Generated: {domains} domains over {mx_hosts} MX hosts, faults: "
              f"{faults_text or 'none'}, seed {seed}\nversion: 1\nmx_hosts:\n")
    for j in range(mx_hosts):
        out.write(f"  mx{j}.bench-mx.test: {{}}\n")
    out.write("  broken-cert.bench-mx.test: {cert: expired}\n")
    out.write("  no-starttls.bench-mx.test: {starttls: false}\n")
    if "mx-silent" in faults:
        # Slow checks: MX hosts that accept connections and never speak (one per MX index, so
        # the slow domains spread over as many keys as the others).
        for j in range(mx_hosts):
            out.write(f"  silent{j}.bench-mx.test: {{behaviour: no-banner}}\n")
    out.write("domains:\n")
    for i in range(domains):
        name = f"d{i}.bench.test"
        hit = {kind for kind, fraction in faults.items() if rng.random() < fraction}
        mx = f"mx{i % mx_hosts}.bench-mx.test"
        if "mx-cert-expired" in hit:
            mx = "broken-cert.bench-mx.test"
        elif "mx-no-starttls" in hit:
            mx = "no-starttls.bench-mx.test"
        elif "mx-silent" in hit:
            mx = f"silent{i % mx_hosts}.bench-mx.test"
        out.write(f"  - name: {name}\n    mx: [\"10 {mx}\"]\n")
        if "no-mta-sts" in hit:
            continue
        record_id = "2024-01-01" if "bad-id" in hit else f"2024{i:010d}"
        out.write(f"    mta_sts: {_q('v=STSv1; id=' + record_id + ';')}\n")
        out.write(f"    tlsrpt: {_q('v=TLSRPTv1; rua=mailto:tlsrpt@' + name)}\n")
        mode = "testing" if "testing" in hit else "enforce"
        pattern = "mx.elsewhere.test" if "mx-not-covered" in hit else "*.bench-mx.test"
        policy = [f"lines: [\"version: STSv1\", \"mode: {mode}\", \"mx: {pattern}\", "
                  f"\"max_age: 2592000\"]"]
        if "policy-404" in hit:
            policy.append("status: 404")
        if "policy-cert-expired" in hit:
            policy.append("cert: expired")
        out.write("    policy: {" + ", ".join(policy) + "}\n")
