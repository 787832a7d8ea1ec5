"""The testbed's certificate authority: a root, an intermediate, and leaf certificates of every
kind a scenario can ask for (valid RSA or ECDSA, expired, not yet valid, wrong name, self-signed,
untrusted, served without its intermediate).

The CA lives in DIR/ca and survives `testbed apply`; leaves are cached by their specification, so
a certificate changes only when its scenario entry changes (e.g. `renewal: 2`). One RSA and one
ECDSA key serve every leaf: key generation would otherwise dominate start-up with 10 000 domains.
"""

import datetime
import hashlib
import json
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_DAY = datetime.timedelta(days=1)


def _now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def _pem_key(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _pem_cert(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def _name(common_name, org="stswatch testbed"):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _load_or_make_key(path, make):
    if os.path.exists(path):
        with open(path, "rb") as f:
            return serialization.load_pem_private_key(f.read(), None)
    key = make()
    _write(path, _pem_key(key))
    return key


class Authority:
    """The test CA of one testbed directory. Not thread-safe."""

    def __init__(self, directory):
        self.dir = os.path.join(directory, "ca")
        self.leaf_dir = os.path.join(directory, "certs")
        os.makedirs(self.dir, exist_ok=True)
        os.makedirs(self.leaf_dir, exist_ok=True)
        self.root_file = os.path.join(self.dir, "root.pem")
        self._rsa_key = _load_or_make_key(os.path.join(self.dir, "leaf-rsa.key"),
                                          lambda: rsa.generate_private_key(65537, 2048))
        self._ec_key = _load_or_make_key(os.path.join(self.dir, "leaf-ecdsa.key"),
                                         lambda: ec.generate_private_key(ec.SECP256R1()))
        self.root, self.root_key = self._ca("root", "stswatch testbed root CA", None, None)
        self.inter, self.inter_key = self._ca("intermediate", "stswatch testbed intermediate CA",
                                              self.root, self.root_key)
        # A second hierarchy stswatch is never told about, for "untrusted" certificates.
        other_root, other_root_key = self._ca("untrusted-root", "untrusted root CA", None, None)
        self.other_inter, self.other_inter_key = self._ca(
            "untrusted-intermediate", "untrusted intermediate CA", other_root, other_root_key)

    def _ca(self, stem, common_name, issuer, issuer_key):
        cert_path = os.path.join(self.dir, stem + ".pem")
        key_path = os.path.join(self.dir, stem + ".key")
        key = _load_or_make_key(key_path, lambda: ec.generate_private_key(ec.SECP256R1()))
        if os.path.exists(cert_path):
            with open(cert_path, "rb") as f:
                return x509.load_pem_x509_certificate(f.read()), key
        now = _now()
        subject = _name(common_name)
        builder = (x509.CertificateBuilder()
                   .subject_name(subject)
                   .issuer_name(issuer.subject if issuer else subject)
                   .public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - 2 * _DAY)
                   .not_valid_after(now + 3650 * _DAY)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None if issuer is None
                                                        else 0), critical=True)
                   .add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                                False, False), critical=True)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                                  critical=False))
        if issuer is not None:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                critical=False)
        cert = builder.sign(issuer_key or key, hashes.SHA256())
        _write(cert_path, _pem_cert(cert))
        return cert, key

    def issue(self, cert_spec, host):
        """Returns the path of a PEM file holding the private key followed by the chain to serve
        for `host` under `cert_spec` (a scenario.Cert). Cached by specification."""
        names = list(cert_spec.names) or (["wrong-name.invalid"] if cert_spec.kind == "wrong-name"
                                          else [host])
        ident = json.dumps([cert_spec.kind, names, cert_spec.renewal, cert_spec.days_left])
        digest = hashlib.sha256(ident.encode()).hexdigest()[:24]
        path = os.path.join(self.leaf_dir, f"{host}-{digest}.pem")
        if os.path.exists(path):
            return path
        key = self._ec_key if cert_spec.kind == "valid-ecdsa" else self._rsa_key
        now = _now()
        not_before, not_after = now - _DAY, now + cert_spec.days_left * _DAY
        if cert_spec.kind == "expired":
            not_before, not_after = now - 400 * _DAY, now - _DAY
        elif cert_spec.kind == "not-yet-valid":
            not_before, not_after = now + 30 * _DAY, now + 400 * _DAY
        issuer, issuer_key, chain = self.inter, self.inter_key, [self.inter]
        if cert_spec.kind == "untrusted":
            issuer, issuer_key, chain = self.other_inter, self.other_inter_key, [self.other_inter]
        elif cert_spec.kind == "missing-intermediate":
            chain = []
        subject = _name(names[0][:64])
        builder = (x509.CertificateBuilder()
                   .subject_name(subject)
                   .issuer_name(subject if cert_spec.kind == "self-signed" else issuer.subject)
                   .public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(not_before)
                   .not_valid_after(not_after)
                   .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]),
                                  critical=False)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                                  critical=False))
        if cert_spec.kind == "self-signed":
            cert = builder.sign(key, hashes.SHA256())
            chain = []
        else:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                critical=False)
            cert = builder.sign(issuer_key, hashes.SHA256())
        data = _pem_key(key) + _pem_cert(cert) + b"".join(_pem_cert(c) for c in chain)
        _write(path, data)
        return path
