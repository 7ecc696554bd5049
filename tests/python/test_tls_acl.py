"""TLS and ACL against a real redis-server.

The test makes a CA, a server certificate (for 127.0.0.1) and a client certificate with the
openssl CLI, and starts redis-server with ``--port 0 --tls-port N``: TLS only.
"""
from __future__ import annotations

import logging
import os
import socket
import ssl
import subprocess
import time

import pytest

from redisproc import free_port
from redis_cache_go import exceptions as exc

PASSWORD = "tls-acl-Pa55word"


def _openssl(*args: str, cwd: str) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


# The extensions Python 3.13's ssl.create_default_context() requires (VERIFY_X509_STRICT): a CA
# with a key usage, and certificates that name their issuer's key (authorityKeyIdentifier).
def _make_ca(directory: str, name: str) -> None:
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", "1", "-subj", f"/CN=rcg test {name}",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             cwd=directory)


def _make_cert(directory: str, name: str, ca: str, san: str) -> None:
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=directory)
    with open(os.path.join(directory, f"{name}.ext"), "w") as f:
        f.write(f"subjectAltName={san}\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=serverAuth,clientAuth\nsubjectKeyIdentifier=hash\n"
                "authorityKeyIdentifier=keyid,issuer\n")
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key", "-CAcreateserial",
             "-out", f"{name}.crt", "-days", "1", "-extfile", f"{name}.ext", cwd=directory)


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("tls"))
    _make_ca(d, "ca")
    _make_ca(d, "otherca")
    _make_cert(d, "server", "ca", "IP:127.0.0.1,DNS:localhost")
    _make_cert(d, "client", "ca", "DNS:client")
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
         "--tls-cert-file", f"{d}/server.crt", "--tls-key-file", f"{d}/server.key",
         "--tls-ca-cert-file", f"{d}/ca.crt", "--tls-auth-clients", "optional",
         "--save", "", "--appendonly", "no", "--dir", d],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    context = ssl.create_default_context(cafile=f"{d}/ca.crt")
    deadline = time.monotonic() + 30
    while True:
        assert proc.poll() is None, "redis-server exited (built without TLS?)"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as raw:
                with context.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                    s.sendall(b"ACL SETUSER cacheuser on >" + PASSWORD.encode() + b" ~* +@all\r\n")
                    assert s.recv(100).startswith(b"+OK")
            break
        except OSError:
            assert time.monotonic() < deadline, "TLS redis-server did not come up"
            time.sleep(0.02)
    try:
        yield {"dir": d, "location": f"rediss://127.0.0.1:{port}/0", "port": port}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_tls_with_verification(make_cache, tls_server):
    cache = make_cache(tls_server["location"], {"SSL_CA_CERTS": f"{tls_server['dir']}/ca.crt", "SSL_CERT_REQS": "required"})
    cache.set("k", {"tls": True})
    assert cache.get("k") == {"tls": True}
    assert "rediss" in repr(cache)


def test_tls_with_a_client_certificate_and_server_name(make_cache, tls_server):
    d = tls_server["dir"]
    cache = make_cache(tls_server["location"], {"SSL_CA_CERTS": f"{d}/ca.crt", "SSL_CERTFILE": f"{d}/client.crt",
                                                "SSL_KEYFILE": f"{d}/client.key", "SSL_SERVER_NAME": "localhost"})
    cache.set("k", 1)
    assert cache.get("k") == 1


def test_tls_wrong_ca_is_a_certificate_error(make_cache, tls_server):
    cache = make_cache(tls_server["location"], {"SSL_CA_CERTS": f"{tls_server['dir']}/otherca.crt",
                                                "SOCKET_CONNECT_TIMEOUT": 2})
    with pytest.raises(exc.ConnectionError, match="certificate") as info:
        cache.get("k")
    assert "unknown authority" in str(info.value) or "verify" in str(info.value)


def test_tls_cert_reqs_none_skips_verification(make_cache, tls_server):
    cache = make_cache(tls_server["location"], {"SSL_CA_CERTS": f"{tls_server['dir']}/otherca.crt", "SSL_CERT_REQS": "none"})
    cache.set("k", "unverified")
    assert cache.get("k") == "unverified"


def test_acl_user_over_tls(make_cache, tls_server):
    location = tls_server["location"].replace("rediss://", f"rediss://cacheuser:{PASSWORD}@")
    cache = make_cache(location, {"SSL_CA_CERTS": f"{tls_server['dir']}/ca.crt"})
    cache.set("acl", "yes")
    assert cache.get("acl") == "yes"
    assert PASSWORD not in repr(cache)


def test_wrong_password_names_the_user_not_the_password(make_cache, tls_server, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = "not-the-Pa55word"
    location = tls_server["location"].replace("rediss://", f"rediss://cacheuser:{wrong}@")
    cache = make_cache(location, {"SSL_CA_CERTS": f"{tls_server['dir']}/ca.crt", "IGNORE_EXCEPTIONS": True})
    with pytest.raises(exc.AuthenticationError) as info:
        cache.get("k")  # fail-open does not hide a configuration mistake
    message = str(info.value)
    assert "cacheuser" in message
    assert wrong not in message and wrong not in repr(cache) and wrong not in repr(info.value)
    assert wrong not in caplog.text


def test_near_cache_over_tls_with_an_acl_user(make_cache, tls_server):
    """LOCAL_CACHE's tracking connection speaks TLS and authenticates like the data connections;
    another client's write reaches it as an invalidation."""
    location = tls_server["location"].replace("rediss://", f"rediss://cacheuser:{PASSWORD}@")
    options = {"SSL_CA_CERTS": f"{tls_server['dir']}/ca.crt"}
    cache = make_cache(location, {**options, "LOCAL_CACHE": {}}, KEY_PREFIX="tls")
    other = make_cache(location, options, KEY_PREFIX="tls")
    cache.set("k", 1)
    deadline = time.monotonic() + 30
    while cache.local_cache_stats()["hits"] < 3:  # tracking confirmed, k filled, then served
        assert cache.get("k") == 1
        assert time.monotonic() < deadline, f"never served from the near-cache: {cache.local_cache_stats()}"
    other.set("k", 2)
    while cache.get("k") != 2:
        assert time.monotonic() < deadline, "the other client's write never invalidated the near-cache"


def test_raw_client_speaks_tls_as_the_acl_user_with_the_client_certificate(make_cache, tls_server):
    """get_client() connects as the cache does: TLS, CA, client certificate,
    SSL_SERVER_NAME and the OPTIONS ACL user."""
    d = tls_server["dir"]
    cache = make_cache(tls_server["location"], {"SSL_CA_CERTS": f"{d}/ca.crt", "SSL_CERTFILE": f"{d}/client.crt",
                                                "SSL_KEYFILE": f"{d}/client.key", "SSL_SERVER_NAME": "localhost",
                                                "USERNAME": "cacheuser", "PASSWORD": PASSWORD})
    client = cache.get_client("k", write=True)
    assert client.acl_whoami() in ("cacheuser", b"cacheuser")
    assert client.hset("raw-tls", mapping={"a": 1}) == 1
    cache.set("k", 1)
    assert client.exists(":1:k") == 1
    assert PASSWORD not in repr(cache.clients)


def test_raw_client_checks_the_certificate_against_ssl_server_name(make_cache, tls_server):
    import redis

    d = tls_server["dir"]
    cache = make_cache(tls_server["location"], {"SSL_CA_CERTS": f"{d}/ca.crt", "SSL_SERVER_NAME": "elsewhere.example",
                                                "SOCKET_CONNECT_TIMEOUT": 2})
    with pytest.raises(redis.ConnectionError, match="(?i)hostname|certificate"):
        cache.get_client().ping()
    with pytest.raises(exc.ConnectionError, match="certificate"):
        cache.get("k")  # the cache refuses the same server for the same reason
