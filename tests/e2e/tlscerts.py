# SPDX-License-Identifier: MIT
"""Certificates for the TLS tests, made with the `openssl` command line (Debian openssl).

make_certs(directory) writes, all EC P-256 (fast), signed by a test CA unless said otherwise:
  ca.pem ca.key              the CA (trusted by the clients)
  server.pem server.key      CN=localhost, SAN localhost and 127.0.0.1, valid 2 days
  renewed.pem renewed.key    the same names, another key and CN=renewed.localhost: a renewal
  expired.pem                server.key's certificate, expired yesterday
  other.key                  a key that matches none of the certificates
  client.pem client.key      a client certificate (mutual TLS)
and returns a dict of the paths. spki_hash(pem) is the base64 SHA-256 of a certificate's public
key, for Chromium's --ignore-certificate-errors-spki-list.
"""

import base64
import hashlib
import os
import subprocess


def _run(*args, cwd):
    done = subprocess.run(["openssl", *args], cwd=cwd, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if done.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (" ".join(args), done.stderr.decode()))
    return done.stdout


def _key(name, cwd):
    _run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", name, cwd=cwd)


def _signed(name, key, cn, days, cwd, server=True):
    _run("req", "-new", "-key", key, "-subj", "/CN=" + cn, "-out", name + ".csr", cwd=cwd)
    ext = name + ".ext"
    with open(os.path.join(cwd, ext), "w", encoding="ascii") as f:
        if server:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
        else:
            f.write("extendedKeyUsage=clientAuth\n")
    _run("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
         "-CAcreateserial", "-days", str(days), "-extfile", ext, "-out", name + ".pem", cwd=cwd)


def make_certs(directory):
    os.makedirs(directory, exist_ok=True)
    _key("ca.key", directory)
    _run("req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=mtw test CA", "-days", "2",
         "-out", "ca.pem", cwd=directory)
    _key("server.key", directory)
    _signed("server", "server.key", "localhost", 2, directory)
    _key("renewed.key", directory)
    _signed("renewed", "renewed.key", "renewed.localhost", 2, directory)
    _signed("expired", "server.key", "localhost", -1, directory)
    _key("other.key", directory)
    _key("client.key", directory)
    _signed("client", "client.key", "test client", 2, directory, server=False)
    names = ["ca.pem", "ca.key", "server.pem", "server.key", "renewed.pem", "renewed.key",
             "expired.pem", "other.key", "client.pem", "client.key"]
    return {n: os.path.join(directory, n) for n in names}


def spki_hash(pem_path):
    pub = _run("x509", "-in", pem_path, "-noout", "-pubkey", cwd=os.path.dirname(pem_path))
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub,
                         stdout=subprocess.PIPE, check=True).stdout
    return base64.b64encode(hashlib.sha256(der).digest()).decode("ascii")
