"""Turns a scenario into the configuration of every server of one testbed: the DNS zone, the
nginx policy hosts, the MTA's listeners and the hostile servers' listeners.

Address plan of a testbed on network 127.N (all loopback, so nothing leaves the machine):
  127.N.0.1      DNS (knotd, port 53)
  127.N.0.2      nginx: every policy host without a hostile behaviour (port 443)
  127.N.0.3      hostile HTTPS: policy hosts with delay / trickle / never-close (port 443)
  127.N.1.1 ...  one address per MX host (port 25): the MTA, or a hostile SMTP server
  127.255.N.1    the canary: an address outside the testbed range; the hostile server logs any
                 connection to it, so tests can prove the prober refused to connect.
"""

import dataclasses
import json
import os

from . import scenario as scn

CANARY = "canary"


@dataclasses.dataclass
class Listener:
    host: str          # MX host name
    address: str
    starttls: bool
    tls_versions: list
    cert_file: str     # key followed by chain
    behaviour: str     # "none" → the MTA; otherwise a hostile SMTP behaviour


@dataclasses.dataclass
class Site:
    host: str          # mta-sts.<domain>
    address: str
    policy: scn.Policy
    cert_file: str
    body_file: str


@dataclasses.dataclass
class World:
    net: str
    dns_address: str
    web_address: str
    hostile_web_address: str
    canary_address: str
    zone: str
    sites: list
    listeners: list


def net_addresses(net):
    return {
        "dns": f"{net}.0.1",
        "web": f"{net}.0.2",
        "hostile_web": f"{net}.0.3",
        "canary": "127.255." + net.split(".")[1] + ".1",
    }


class Allocator:
    """Stable host → address assignment, persisted so `testbed apply` keeps addresses."""

    def __init__(self, net, path):
        self.net = net
        self.path = path
        self.assigned = {}
        if os.path.exists(path):
            with open(path) as f:
                self.assigned = json.load(f)
        self.used = set(self.assigned.values())
        self.next = 0

    def address(self, host):
        if host in self.assigned:
            return self.assigned[host]
        while True:
            self.next += 1
            third, fourth = 1 + (self.next - 1) // 254, 1 + (self.next - 1) % 254
            if third > 254:
                raise scn.ScenarioError("more MX hosts than the 64 000 addresses of a testbed")
            candidate = f"{self.net}.{third}.{fourth}"
            if candidate not in self.used:
                break
        self.assigned[host] = candidate
        self.used.add(candidate)
        return candidate

    def save(self):
        with open(self.path, "w") as f:
            json.dump(self.assigned, f, indent=0, sort_keys=True)


def _txt_rdata(strings):
    out = []
    for s in strings:
        escaped = ""
        for byte in s.encode():
            c = chr(byte)
            if c in '"\\':
                escaped += "\\" + c
            elif 0x20 <= byte < 0x7F:
                escaped += c
            else:
                escaped += f"\\{byte:03d}"
        out.append(f'"{escaped}"')
    return " ".join(out)


def build(sc, directory, net, authority, serial):
    """Builds the World for scenario `sc` in `directory`; writes policy bodies and certificates."""
    addrs = net_addresses(net)
    alloc = Allocator(net, os.path.join(directory, "addresses.json"))
    www = os.path.join(directory, "www")
    os.makedirs(www, exist_ok=True)

    lines = [
        "$TTL 30",
        f". SOA ns.testbed. hostmaster.testbed. {serial} 3600 600 86400 30",
        ". NS ns.testbed.",
        f"ns.testbed. A {addrs['dns']}",
    ]
    sites = []
    for d in sc.domains:
        if d.mta_sts.cname:
            lines.append(f"_mta-sts.{d.name}. CNAME {d.mta_sts.cname}.")
        for record in d.mta_sts.records:
            lines.append(f"_mta-sts.{d.name}. TXT {_txt_rdata(record)}")
        if d.tlsrpt.cname:
            lines.append(f"_smtp._tls.{d.name}. CNAME {d.tlsrpt.cname}.")
        for record in d.tlsrpt.records:
            lines.append(f"_smtp._tls.{d.name}. TXT {_txt_rdata(record)}")
        for priority, host in d.mx:
            lines.append(f"{d.name}. MX {priority} {host}.")
        if d.policy.present:
            host = f"mta-sts.{d.name}"
            address = addrs["web"] if d.policy.behaviour == "none" else addrs["hostile_web"]
            lines.append(f"{host}. A {address}")
            body_file = os.path.join(www, host + ".txt")
            _write_if_changed(body_file, d.policy.body)
            sites.append(Site(host=host, address=address, policy=d.policy,
                              cert_file=authority.issue(d.policy.cert, host), body_file=body_file))
    listeners = []
    aliases = {}
    for host in sc.mx_hosts.values():
        if host.cname:
            aliases.setdefault(host.cname, []).append(host.name)
    for host in sc.mx_hosts.values():
        if host.cname:
            lines.append(f"{host.name}. CNAME {host.cname}.")
            continue
        cert = host.cert
        if not cert.names and host.name in aliases and cert.kind != "wrong-name":
            # Senders validate the name in the MX record, which is the alias.
            cert = dataclasses.replace(cert, names=[host.name] + aliases[host.name])
        addresses = host.addresses or [alloc.address(host.name)]
        for address in addresses:
            if address == CANARY:
                address = addrs["canary"]
            lines.append(f"{host.name}. A {address}")
            # Addresses outside this testbed's range get no server: the canary logs instead.
            if address.startswith(net + ".") or address == addrs["canary"]:
                listeners.append(Listener(host=host.name, address=address,
                                          starttls=host.starttls,
                                          tls_versions=host.tls_versions,
                                          cert_file=authority.issue(cert, host.name),
                                          behaviour=("canary" if address == addrs["canary"]
                                                     else host.behaviour)))
        for address in host.ipv6:
            lines.append(f"{host.name}. AAAA {address}")
    for owner, rtype, rdata in sc.records:
        lines.append(f"{owner}. {rtype} {rdata}")
    alloc.save()
    return World(net=net, dns_address=addrs["dns"], web_address=addrs["web"],
                 hostile_web_address=addrs["hostile_web"], canary_address=addrs["canary"],
                 zone="\n".join(lines) + "\n", sites=sites, listeners=listeners)


def _write_if_changed(path, data):
    if os.path.exists(path):
        with open(path, "rb") as f:
            if f.read() == data:
                return
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _plain(site):
    """A policy host nginx can serve from the shared server block: 200, text/plain."""
    p = site.policy
    return not p.redirect and p.status == 200 and p.content_type == "text/plain"


def nginx_config(world, directory):
    """One nginx for every policy host of the testbed, SNI-routed.

    Plain policy hosts share one server block whose certificate and body are looked up by SNI
    (maps), so 10 000 domains cost no start-up time; hosts with a special status, redirect or
    content type get a server block of their own. An unknown name gets no certificate, so its
    handshake fails."""
    prefix = os.path.join(directory, "nginx")
    out = [
        "worker_processes 2;",
        f"pid {prefix}/nginx.pid;",
        f"error_log {prefix}/error.log warn;",
        "events { worker_connections 4096; }",
        "http {",
        f"  access_log {prefix}/access.log;",
        "  server_tokens off;",
        "  ssl_protocols TLSv1.2 TLSv1.3;",
        "  ssl_session_cache off;",
        f"  client_body_temp_path {prefix}/tmp; proxy_temp_path {prefix}/tmp;",
        f"  fastcgi_temp_path {prefix}/tmp; uwsgi_temp_path {prefix}/tmp;",
        f"  scgi_temp_path {prefix}/tmp;",
        "  server_names_hash_max_size 65536; server_names_hash_bucket_size 128;",
        "  map_hash_max_size 1048576; map_hash_bucket_size 256;",
        "  map $ssl_server_name $stsw_cert {",
        "    default \"\";",
    ]
    plain = [s for s in world.sites if s.address == world.web_address and _plain(s)]
    special = [s for s in world.sites if s.address == world.web_address and not _plain(s)]
    out += [f"    {s.host} {s.cert_file};" for s in plain]
    out += ["  }", "  map $ssl_server_name $stsw_body {", "    default \"\";"]
    out += [f"    {s.host} {s.body_file};" for s in plain]
    out += [
        "  }",
        "  server {",
        f"    listen {world.web_address}:443 ssl default_server;",
        "    ssl_certificate $stsw_cert;",
        "    ssl_certificate_key $stsw_cert;",
        "    location = /.well-known/mta-sts.txt {",
        "      if ($stsw_body = \"\") { return 404; }",
        "      types { }",
        "      default_type text/plain;",
        "      alias $stsw_body;",
        "    }",
        "    location / { return 404; }",
        "  }",
    ]
    for site in special:
        p = site.policy
        out += [
            "  server {",
            f"    listen {world.web_address}:443 ssl;",
            f"    server_name {site.host};",
            f"    ssl_certificate {site.cert_file};",
            f"    ssl_certificate_key {site.cert_file};",
            "    location = /.well-known/mta-sts.txt {",
        ]
        if p.redirect:
            out.append(f"      return 301 {json.dumps(p.redirect)};")
        elif p.status != 200:
            out.append(f"      return {p.status};")
        else:
            content_type = json.dumps(p.content_type if p.content_type is not None else "")
            out += ["      types { }", f"      default_type {content_type};",
                    f"      alias {site.body_file};"]
        out += ["    }", "    location / { return 404; }", "  }"]
    out.append("}")
    return "\n".join(out) + "\n"


def hostile_config(world):
    """Listeners of testbed/hostile.py: hostile SMTP hosts, the canary and hostile policy hosts."""
    listeners = []
    seen = set()
    for listener in world.listeners:
        if listener.behaviour == "none" or listener.address in seen:
            continue
        seen.add(listener.address)
        listeners.append({"protocol": "smtp", "address": listener.address, "port": 25,
                          "hostname": listener.host, "behaviour": listener.behaviour,
                          "cert": listener.cert_file})
    sites = {}
    for site in world.sites:
        if site.address != world.hostile_web_address:
            continue
        p = site.policy
        sites[site.host] = {"behaviour": p.behaviour, "delay": p.delay,
                            "body_file": site.body_file, "content_type": p.content_type,
                            "status": p.status, "cert": site.cert_file}
    if sites:
        listeners.append({"protocol": "https", "address": world.hostile_web_address,
                          "port": 443, "sites": sites})
    return {"listeners": listeners}
