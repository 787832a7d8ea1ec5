"""Scenario files: loading, validation and the normalised model the servers are configured from.

The format is documented in testbed/README.md. Every error names the place in the file
(e.g. "domains[3].policy.status") and what is expected, so a person can fix the file without
reading this code.
"""

import dataclasses
import json
import re
from typing import Any

import yaml

FORMAT_VERSION = 1

CERT_KINDS = (
    "valid",            # RSA-2048 leaf from the test intermediate, full chain served
    "valid-ecdsa",      # ECDSA P-256 leaf from the test intermediate
    "expired",          # valid chain, not_after in the past
    "not-yet-valid",    # valid chain, not_before in the future
    "wrong-name",       # valid chain, names that do not match the host
    "self-signed",      # leaf signed by itself
    "untrusted",        # chain to a root stswatch is not given
    "missing-intermediate",  # leaf only, the intermediate is not served
)
SMTP_BEHAVIOURS = ("none", "no-banner", "long-line", "starttls-454", "inject-after-starttls")
HTTPS_BEHAVIOURS = ("none", "delay", "trickle", "never-close")
TLS_VERSIONS = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")

_HOST_RE = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.)*"
                      r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.?$")


class ScenarioError(Exception):
    """A scenario file that cannot be used; the message says where and why."""


@dataclasses.dataclass
class Cert:
    kind: str = "valid"
    # Names for the certificate; empty means "the host's own name" (or a mismatching name for
    # wrong-name).
    names: list = dataclasses.field(default_factory=list)
    # Bump to issue a new certificate with the same names (a renewal).
    renewal: int = 0
    # Days of validity left (valid kinds); drives "expiring soon" tests.
    days_left: int = 365


@dataclasses.dataclass
class Policy:
    present: bool = True          # False: no policy host (no address for mta-sts.<domain>)
    body: bytes = b""
    status: int = 200
    content_type: Any = "text/plain"  # None: no Content-Type header
    redirect: str = ""            # non-empty: 301 to this location
    behaviour: str = "none"       # delay | trickle | never-close
    delay: float = 0.0
    cert: Cert = dataclasses.field(default_factory=Cert)


@dataclasses.dataclass
class MxHost:
    name: str
    starttls: bool = True
    tls_versions: list = dataclasses.field(default_factory=lambda: ["TLSv1.2", "TLSv1.3"])
    cert: Cert = dataclasses.field(default_factory=Cert)
    behaviour: str = "none"
    # Explicit addresses; empty means one address allocated by the testbed.
    addresses: list = dataclasses.field(default_factory=list)
    ipv6: list = dataclasses.field(default_factory=list)
    # The MX name is a CNAME to this host name (whose own entry carries the addresses).
    cname: str = ""


@dataclasses.dataclass
class TxtSet:
    # Each record is a list of character-strings (joined without spaces by resolvers).
    records: list = dataclasses.field(default_factory=list)
    cname: str = ""


@dataclasses.dataclass
class Domain:
    name: str
    mta_sts: TxtSet = dataclasses.field(default_factory=TxtSet)
    tlsrpt: TxtSet = dataclasses.field(default_factory=TxtSet)
    policy: Policy = dataclasses.field(default_factory=Policy)
    mx: list = dataclasses.field(default_factory=list)  # [(priority, host)]
    description: str = ""


@dataclasses.dataclass
class Scenario:
    domains: list
    mx_hosts: dict  # name (lower case, no trailing dot) -> MxHost
    # Extra DNS records: [(owner, type, rdata)], for what the structured fields do not cover.
    records: list = dataclasses.field(default_factory=list)


def _fail(where, message):
    raise ScenarioError(f"{where}: {message}")


def _expect_keys(value, where, allowed):
    if not isinstance(value, dict):
        _fail(where, f"expected a mapping, got {type(value).__name__}")
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        _fail(where, f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")


def _hostname(value, where):
    if not isinstance(value, str) or not _HOST_RE.match(value):
        _fail(where, f"expected a host name, got {value!r}")
    return value.rstrip(".").lower()


def _cert(value, where):
    if value is None:
        return Cert()
    if isinstance(value, str):
        value = {"kind": value}
    _expect_keys(value, where, ("kind", "names", "renewal", "days_left"))
    cert = Cert()
    cert.kind = value.get("kind", "valid")
    if cert.kind not in CERT_KINDS:
        _fail(f"{where}.kind", f"expected one of {', '.join(CERT_KINDS)}, got {cert.kind!r}")
    names = value.get("names", [])
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        _fail(f"{where}.names", "expected a list of names")
    cert.names = names
    cert.renewal = _int(value.get("renewal", 0), f"{where}.renewal", 0, 1_000_000)
    cert.days_left = _int(value.get("days_left", 365), f"{where}.days_left", 1, 3650)
    return cert


def _int(value, where, low, high):
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        _fail(where, f"expected an integer from {low} to {high}, got {value!r}")
    return value


def _txt(value, where):
    """None → no records; a string/list → records; {cname: x} → a CNAME."""
    txt = TxtSet()
    if value is None:
        return txt
    if isinstance(value, dict):
        _expect_keys(value, where, ("records", "cname"))
        if "cname" in value:
            txt.cname = _hostname(value["cname"], f"{where}.cname")
            if "records" in value:
                _fail(where, "give either records or cname, not both")
            return txt
        value = value.get("records", [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        _fail(where, "expected a record, a list of records or {cname: NAME}")
    for i, record in enumerate(value):
        strings = [record] if isinstance(record, str) else record
        if not isinstance(strings, list) or not strings or not all(
                isinstance(s, str) for s in strings):
            _fail(f"{where}[{i}]", "expected a string or a list of strings (character-strings)")
        for s in strings:
            if len(s.encode()) > 255:
                _fail(f"{where}[{i}]", "a character-string holds at most 255 bytes; split it")
        txt.records.append(strings)
    return txt


def _policy(value, where, domain):
    policy = Policy()
    if value is None or value is False:
        policy.present = False
        return policy
    _expect_keys(value, where, ("body", "lines", "line_ending", "status", "content_type",
                                "redirect", "behaviour", "delay", "pad_to", "cert"))
    if "body" in value and "lines" in value:
        _fail(where, "give either body or lines, not both")
    ending = value.get("line_ending", "crlf")
    if ending not in ("crlf", "lf"):
        _fail(f"{where}.line_ending", "expected crlf or lf")
    eol = "\r\n" if ending == "crlf" else "\n"
    if "lines" in value:
        lines = value["lines"]
        if not isinstance(lines, list) or not all(isinstance(x, str) for x in lines):
            _fail(f"{where}.lines", "expected a list of strings")
        body = "".join(line + eol for line in lines)
    elif "body" in value:
        if not isinstance(value["body"], str):
            _fail(f"{where}.body", "expected a string")
        body = value["body"]
    else:
        body = "".join(line + eol for line in (
            "version: STSv1", "mode: enforce", f"mx: *.{domain}", "max_age: 2592000"))
    policy.body = body.encode()
    if "pad_to" in value:
        size = _int(value["pad_to"], f"{where}.pad_to", 0, 64 * 1024 * 1024)
        pad_line = ("x-padding: " + "x" * 60 + eol).encode()
        while len(policy.body) < size:
            policy.body += pad_line
    policy.status = _int(value.get("status", 200), f"{where}.status", 100, 599)
    policy.content_type = value.get("content_type", "text/plain")
    if policy.content_type is not None and not isinstance(policy.content_type, str):
        _fail(f"{where}.content_type", "expected a media type or null")
    policy.redirect = value.get("redirect", "")
    if not isinstance(policy.redirect, str):
        _fail(f"{where}.redirect", "expected a URL")
    policy.behaviour = value.get("behaviour", "none")
    if policy.behaviour not in HTTPS_BEHAVIOURS:
        _fail(f"{where}.behaviour", f"expected one of {', '.join(HTTPS_BEHAVIOURS)}")
    delay = value.get("delay", 0)
    if isinstance(delay, bool) or not isinstance(delay, (int, float)) or not 0 <= delay <= 3600:
        _fail(f"{where}.delay", "expected seconds from 0 to 3600")
    policy.delay = float(delay)
    if policy.delay and policy.behaviour == "none":
        policy.behaviour = "delay"
    policy.cert = _cert(value.get("cert"), f"{where}.cert")
    return policy


def _mx_host(name, value, where):
    host = MxHost(name=name)
    if value is None:
        return host
    _expect_keys(value, where, ("starttls", "tls_versions", "cert", "behaviour", "addresses",
                                "ipv6", "cname"))
    host.starttls = value.get("starttls", True)
    if not isinstance(host.starttls, bool):
        _fail(f"{where}.starttls", "expected true or false")
    versions = value.get("tls_versions", host.tls_versions)
    if not isinstance(versions, list) or not versions or any(v not in TLS_VERSIONS
                                                             for v in versions):
        _fail(f"{where}.tls_versions", f"expected a list drawn from {', '.join(TLS_VERSIONS)}")
    host.tls_versions = versions
    host.cert = _cert(value.get("cert"), f"{where}.cert")
    host.behaviour = value.get("behaviour", "none")
    if host.behaviour not in SMTP_BEHAVIOURS:
        _fail(f"{where}.behaviour", f"expected one of {', '.join(SMTP_BEHAVIOURS)}")
    addresses = value.get("addresses", [])
    if not isinstance(addresses, list) or not all(isinstance(a, str) for a in addresses):
        _fail(f"{where}.addresses", "expected a list of IPv4 addresses (or \"canary\")")
    for a in addresses:
        if a == "canary":
            continue  # The testbed's canary address, outside its range.
        parts = a.split(".")
        if len(parts) != 4 or not all(p.isdigit() and int(p) < 256 for p in parts):
            _fail(f"{where}.addresses", f"{a!r} is not an IPv4 address")
    host.addresses = addresses
    ipv6 = value.get("ipv6", [])
    if not isinstance(ipv6, list) or not all(isinstance(a, str) and ":" in a for a in ipv6):
        _fail(f"{where}.ipv6", "expected a list of IPv6 addresses")
    host.ipv6 = ipv6
    if "cname" in value:
        host.cname = _hostname(value["cname"], f"{where}.cname")
    return host


def parse(data, source="scenario"):
    """Builds a Scenario from the decoded YAML/JSON document `data`."""
    _expect_keys(data, source, ("version", "description", "domains", "mx_hosts", "records"))
    if data.get("version") != FORMAT_VERSION:
        _fail(f"{source}.version", f"expected {FORMAT_VERSION} (the format version), "
              f"got {data.get('version')!r}")
    mx_hosts = {}
    raw_hosts = data.get("mx_hosts") or {}
    if not isinstance(raw_hosts, dict):
        _fail(f"{source}.mx_hosts", "expected a mapping from host name to settings")
    for raw_name, value in raw_hosts.items():
        where = f"{source}.mx_hosts[{raw_name}]"
        name = _hostname(raw_name, where)
        mx_hosts[name] = _mx_host(name, value, where)
    domains = []
    seen = set()
    raw_domains = data.get("domains")
    if not isinstance(raw_domains, list) or not raw_domains:
        _fail(f"{source}.domains", "expected a non-empty list of domains")
    for i, value in enumerate(raw_domains):
        where = f"{source}.domains[{i}]"
        _expect_keys(value, where, ("name", "description", "mta_sts", "tlsrpt", "policy", "mx"))
        name = _hostname(value.get("name"), f"{where}.name")
        if name in seen:
            _fail(f"{where}.name", f"{name} appears twice")
        seen.add(name)
        domain = Domain(name=name, description=str(value.get("description", "")))
        domain.mta_sts = _txt(value.get("mta_sts"), f"{where}.mta_sts")
        domain.tlsrpt = _txt(value.get("tlsrpt"), f"{where}.tlsrpt")
        domain.policy = _policy(value.get("policy"), f"{where}.policy", name)
        raw_mx = value.get("mx", [])
        if not isinstance(raw_mx, list):
            _fail(f"{where}.mx", "expected a list like [\"10 mx1.example.test\"]")
        for j, entry in enumerate(raw_mx):
            mwhere = f"{where}.mx[{j}]"
            if isinstance(entry, str):
                parts = entry.split()
                if len(parts) == 1:
                    parts = ["10", parts[0]]
                if len(parts) != 2 or not parts[0].isdigit():
                    _fail(mwhere, "expected \"PRIORITY HOST\" or \"HOST\"")
                priority, host = int(parts[0]), parts[1]
            elif isinstance(entry, dict):
                _expect_keys(entry, mwhere, ("priority", "host"))
                priority = _int(entry.get("priority", 10), f"{mwhere}.priority", 0, 65535)
                host = entry.get("host")
            else:
                _fail(mwhere, "expected \"PRIORITY HOST\" or {priority, host}")
            host = _hostname(host, mwhere)
            _int(priority, mwhere, 0, 65535)
            domain.mx.append((priority, host))
            mx_hosts.setdefault(host, MxHost(name=host))
        domains.append(domain)
    # Hosts that are CNAME targets need an entry of their own.
    for host in list(mx_hosts.values()):
        if host.cname:
            mx_hosts.setdefault(host.cname, MxHost(name=host.cname))
    records = []
    for i, value in enumerate(data.get("records") or []):
        where = f"{source}.records[{i}]"
        if not isinstance(value, list) or len(value) != 3 or not all(isinstance(x, str)
                                                                     for x in value):
            _fail(where, "expected [OWNER, TYPE, RDATA]")
        records.append((_hostname(value[0], where), value[1].upper(), value[2]))
    return Scenario(domains=domains, mx_hosts=mx_hosts, records=records)


def load(path):
    """Reads and validates a scenario file (YAML or JSON)."""
    try:
        with open(path, "rb") as f:
            text = f.read()
    except OSError as e:
        raise ScenarioError(f"{path}: cannot read: {e.strerror}") from e
    try:
        if path.endswith(".json"):
            data = json.loads(text)
        else:
            # libyaml's loader is ten times faster on generated files of 10 000 domains.
            data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (ValueError, yaml.YAMLError) as e:
        raise ScenarioError(f"{path}: not valid YAML/JSON: {e}") from e
    return parse(data, source=path)
