"""`aistack serve` security (issue 16): JWT bearer tokens (HS256 with --jwt-secret, RS256 with
--jwt-public-key) beside API keys, and TLS. Tokens are made with PyJWT (and by hand where PyJWT
refuses to make a hostile one: the HS/RS confusion); keys and the self-signed certificate are
generated here with cryptography. Every refusal must be a 401 with an {"error"} body, and the
server must keep serving."""
import base64
import datetime
import hashlib
import hmac
import http.client
import ipaddress
import json
import os
import socket
import ssl
import subprocess
import time
import warnings

import jwt
import numpy as np
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from serve_util import log, start, stop  # noqa: F401  (test_serve_reload imports them from here)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DIGITS = os.path.join(ROOT, "models", "digits_mlp.onnx")
SECRET = "hs256-test-secret-0123456789abcdef-xyz"  # 38 bytes: over HS256's 32-byte minimum
KEY = "plain-api-key"
AUD, ISS = "aistack-test", "https://issuer.example"


def fails_to_start(tool, repo, *extra):
    p = subprocess.run([tool, "serve", "--model-repository", repo, "--port", "0", *extra],
                       capture_output=True, text=True, timeout=60)
    assert "listening" not in p.stdout
    return p.returncode, p.stderr


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("sec")
    os.makedirs(d / "repo" / "digits" / "1")
    with open(DIGITS, "rb") as f, open(d / "repo" / "digits" / "1" / "model.onnx", "wb") as g:
        g.write(f.read())
    (d / "keys.txt").write_text(KEY + "\n")
    (d / "secret").write_text(SECRET + "\n")  # the final newline is not part of the secret
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pub = rsa_key.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    (d / "rsa.pub.pem").write_bytes(pub)
    return {"dir": d, "repo": str(d / "repo"), "keys": str(d / "keys.txt"),
            "secret": str(d / "secret"), "pub": str(d / "rsa.pub.pem"), "pub_bytes": pub,
            "rsa": rsa_key, "other_rsa": other}


def request(addr, method, path, headers=None, body=None, tls_ctx=None):
    c = (http.client.HTTPSConnection(addr.split(":")[0], int(addr.split(":")[1]), timeout=30,
                                     context=tls_ctx) if tls_ctx else
         http.client.HTTPConnection(addr.split(":")[0], int(addr.split(":")[1]), timeout=30))
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        return r.status, dict(r.getheaders()), data
    finally:
        c.close()


def infer_body():
    x = np.load(os.path.join(ROOT, "models", "digits", "test_batch.npy")).astype(np.float32)[:2]
    return json.dumps({"inputs": [{"name": "pixels", "datatype": "FP32", "shape": list(x.shape),
                                   "data": x.ravel().tolist()}]})


def claims(**over):
    now = int(time.time())
    c = {"sub": "alice", "aud": AUD, "iss": ISS, "iat": now, "nbf": now - 5, "exp": now + 300}
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def hs256_by_hand(header, payload, key):
    """What PyJWT refuses to make (an HMAC keyed with a PEM): signing done here."""
    signing = b64(json.dumps(header).encode()) + "." + b64(json.dumps(payload).encode())
    sig = hmac.new(key, signing.encode(), hashlib.sha256).digest()
    return signing + "." + b64(sig)


def assert_401(addr, token, why, path="/v2/models/digits/infer", tls_ctx=None):
    hdr = {"Content-Type": "application/json"}
    if token is not None:
        hdr["Authorization"] = f"Bearer {token}"
    status, headers, body = request(addr, "POST", path, hdr, infer_body(), tls_ctx)
    assert status == 401, (status, body)
    assert headers.get("Content-Type") == "application/json"
    assert headers.get("WWW-Authenticate", "").startswith("Bearer")
    msg = json.loads(body)["error"]
    assert why in msg, msg
    return msg


def assert_200(addr, token, tls_ctx=None):
    status, _, body = request(addr, "POST", "/v2/models/digits/infer",
                              {"Authorization": f"Bearer {token}",
                               "Content-Type": "application/json"}, infer_body(), tls_ctx)
    assert status == 200, body
    out = {o["name"]: o for o in json.loads(body)["outputs"]}
    assert out["digit"]["shape"] == [2]


@pytest.fixture(scope="module")
def hs_server(tool, files):
    p, addr = start(tool, files["repo"], "--api-keys", files["keys"], "--jwt-secret",
                    files["secret"], "--jwt-audience", AUD, "--jwt-issuer", ISS)
    yield addr
    stop(p)
    # the access log never holds a token or a key
    text = log(p)
    assert SECRET not in text and KEY not in text and "eyJ" not in text


@pytest.fixture(scope="module")
def rs_server(tool, files):
    p, addr = start(tool, files["repo"], "--jwt-public-key", files["pub"], "--jwt-leeway", "5")
    yield addr
    stop(p)


def test_hs256_valid_and_api_key_beside_it(hs_server):
    tritonclient = pytest.importorskip("tritonclient.http")
    tok = jwt.encode(claims(), SECRET, algorithm="HS256")
    assert_200(hs_server, tok)
    # the real client, with the token as a header
    c = tritonclient.InferenceServerClient(hs_server)
    x = np.load(os.path.join(ROOT, "models", "digits", "test_batch.npy")).astype(np.float32)[:3]
    inp = tritonclient.InferInput("pixels", list(x.shape), "FP32")
    inp.set_data_from_numpy(x)
    r = c.infer("digits", [inp], headers={"Authorization": f"Bearer {tok}"})
    assert r.as_numpy("digit").shape == (3,)
    with pytest.raises(Exception, match="401|missing bearer|credentials"):
        c.infer("digits", [inp])
    # either credential: the API key still works, in both headers
    assert_200(hs_server, KEY)
    assert request(hs_server, "GET", "/v2", {"X-API-Key": KEY})[0] == 200
    # aud as a list holding ours; no nbf, no exp (optional claims)
    assert_200(hs_server, jwt.encode(claims(aud=["other", AUD]), SECRET, algorithm="HS256"))
    assert_200(hs_server, jwt.encode(claims(exp=None, nbf=None), SECRET, algorithm="HS256"))


def test_only_health_without_credentials(hs_server):
    for path in ("/v2/health/live", "/v2/health/ready"):
        assert request(hs_server, "GET", path)[0] == 200
    for method, path in (("GET", "/v2"), ("GET", "/v2/models/digits"),
                         ("GET", "/v2/models/digits/ready"), ("GET", "/v2/models/digits/config"),
                         ("POST", "/v2/repository/index"), ("GET", "/v2/models/nope"),
                         ("GET", "/nothing")):
        status, _, body = request(hs_server, method, path)
        assert status == 401, (path, status)
        assert "missing credentials" in json.loads(body)["error"]


def test_hs256_refusals(hs_server, files):
    now = int(time.time())
    assert_401(hs_server, None, "missing credentials")
    assert_401(hs_server, jwt.encode(claims(exp=now - 120), SECRET, algorithm="HS256"), "expired")
    assert_401(hs_server, jwt.encode(claims(nbf=now + 120), SECRET, algorithm="HS256"),
               "not yet valid")
    # within the default 60 s leeway either way
    assert_200(hs_server, jwt.encode(claims(exp=now - 20), SECRET, algorithm="HS256"))
    assert_200(hs_server, jwt.encode(claims(nbf=now + 20), SECRET, algorithm="HS256"))
    assert_401(hs_server, jwt.encode(claims(aud="someone-else"), SECRET, algorithm="HS256"), "aud")
    assert_401(hs_server, jwt.encode(claims(aud=None), SECRET, algorithm="HS256"), "aud")
    assert_401(hs_server, jwt.encode(claims(iss="https://evil.example"), SECRET,
                                     algorithm="HS256"), "iss")
    assert_401(hs_server, jwt.encode(claims(iss=None), SECRET, algorithm="HS256"), "iss")
    assert_401(hs_server, jwt.encode(claims(exp="tomorrow"), SECRET, algorithm="HS256"), "exp")
    # bad signature: another secret, and a payload changed after signing
    assert_401(hs_server, jwt.encode(claims(), SECRET + "x", algorithm="HS256"), "signature")
    h, p, s = jwt.encode(claims(), SECRET, algorithm="HS256").split(".")
    forged = b64(json.dumps(claims(sub="admin")).encode())
    assert_401(hs_server, f"{h}.{forged}.{s}", "signature")
    # alg none, signed or not; an RS256 token at an HS256 server
    assert_401(hs_server, jwt.encode(claims(), None, algorithm="none"), "alg none")
    none_head = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    assert_401(hs_server, f"{none_head}.{p}.{s}", "alg none")
    assert_401(hs_server, jwt.encode(claims(), files["rsa"], algorithm="RS256"), "not HS256")
    assert_401(hs_server, hs256_by_hand({"alg": "HS256", "crit": ["x"], "x": 1}, claims(),
                                        SECRET.encode()), "crit")
    # garbage
    for g in ("garbage", "a.b", "a.b.c.d", "...", "eyJhbGciOiJIUzI1NiJ9.e30", "%%%.%%%.%%%",
              b64(b"not json") + ".e30.sig", "x" * 9000):
        assert_401(hs_server, g, "invalid token")
    # still serving
    assert_200(hs_server, jwt.encode(claims(), SECRET, algorithm="HS256"))


def test_rs256(rs_server, files):
    now = int(time.time())
    assert_200(rs_server, jwt.encode(claims(), files["rsa"], algorithm="RS256"))
    # no --jwt-audience / --jwt-issuer here: aud and iss are not checked
    assert_200(rs_server, jwt.encode(claims(aud="x", iss="y"), files["rsa"], algorithm="RS256"))
    assert_401(rs_server, None, "missing bearer token")
    assert_401(rs_server, jwt.encode(claims(), files["other_rsa"], algorithm="RS256"),
               "signature")
    # HS/RS confusion: an HS256 token whose HMAC key is the server's own public key (PEM bytes)
    assert_401(rs_server, hs256_by_hand({"alg": "HS256", "typ": "JWT"}, claims(),
                                        files["pub_bytes"]), "not RS256")
    # the same with a second alg member: our JSON parser reads the first, libjwt's the last
    signing = (b64(b'{"alg":"RS256","alg":"HS256","typ":"JWT"}') + "." +
               b64(json.dumps(claims()).encode()))
    dup = signing + "." + b64(hmac.new(files["pub_bytes"], signing.encode(),
                                       hashlib.sha256).digest())
    assert_401(rs_server, dup, "duplicate member")
    assert_401(rs_server, jwt.encode(claims(), SECRET, algorithm="HS256"), "not RS256")
    assert_401(rs_server, jwt.encode(claims(), None, algorithm="none"), "alg none")
    # --jwt-leeway 5: 30 s late is too late here
    assert_401(rs_server, jwt.encode(claims(exp=now - 30), files["rsa"], algorithm="RS256"),
               "expired")
    assert_401(rs_server, jwt.encode(claims(nbf=now + 30), files["rsa"], algorithm="RS256"),
               "not yet valid")
    assert_401(rs_server, "garbage", "invalid bearer token")
    assert_200(rs_server, jwt.encode(claims(), files["rsa"], algorithm="RS256"))


def test_rate_limit_per_subject(tool, files):
    p, addr = start(tool, files["repo"], "--jwt-secret", files["secret"], "--rate-limit", "2")
    try:
        alice = jwt.encode(claims(sub="alice"), SECRET, algorithm="HS256")
        alice2 = jwt.encode(claims(sub="alice", iat=1), SECRET, algorithm="HS256")
        bob = jwt.encode(claims(sub="bob"), SECRET, algorithm="HS256")
        codes = [request(addr, "GET", "/v2/models/digits", {"Authorization": f"Bearer {t}"})[0]
                 for t in (alice, alice2, alice)]
        # a burst of 2 for alice, whichever of her tokens; her third request is refused
        assert codes[:2] == [200, 200] and codes[2] == 429, codes
        status, headers, body = request(addr, "GET", "/v2/models/digits",
                                        {"Authorization": f"Bearer {alice2}"})
        assert status == 429 and int(headers["Retry-After"]) >= 1 and "error" in json.loads(body)
        # bob has his own bucket
        assert request(addr, "GET", "/v2/models/digits", {"Authorization": f"Bearer {bob}"})[0] == 200
        # a refused token takes nothing from anyone and gets its 401
        assert request(addr, "GET", "/v2/models/digits", {"Authorization": "Bearer x.y.z"})[0] == 401
    finally:
        stop(p)


def test_rate_limit_many_subjects(tool, files):
    """Past the subject table's first size (64 slots): buckets that are not full again are kept
    through the table's rebuilds and growth (a refill takes 100 s here)."""
    p, addr = start(tool, files["repo"], "--jwt-secret", files["secret"], "--rate-limit", "0.01")
    try:
        toks = [jwt.encode(claims(sub=f"user{i}"), SECRET, algorithm="HS256") for i in range(150)]
        hdr = [{"Authorization": f"Bearer {t}"} for t in toks]
        assert [request(addr, "GET", "/v2", h)[0] for h in hdr] == [200] * 150
        assert [request(addr, "GET", "/v2", h)[0] for h in hdr[::7]] == [429] * len(hdr[::7])
    finally:
        stop(p)


def test_jwt_startup_errors(tool, files):
    d = files["dir"]
    (d / "short").write_text("too-short\n")
    rc, err = fails_to_start(tool, files["repo"], "--jwt-secret", str(d / "short"))
    assert rc == 1 and "--jwt-secret" in err and "32" in err, err
    rc, err = fails_to_start(tool, files["repo"], "--jwt-secret", str(d / "missing"))
    assert rc == 1 and "No such file" in err, err
    rc, err = fails_to_start(tool, files["repo"], "--jwt-public-key", files["secret"])
    assert rc == 1 and "not a PEM public key" in err, err
    ec_pub = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    (d / "ec.pem").write_bytes(ec_pub)
    rc, err = fails_to_start(tool, files["repo"], "--jwt-public-key", str(d / "ec.pem"))
    assert rc == 1 and "RSA" in err, err
    (d / "broken.pem").write_text("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    rc, err = fails_to_start(tool, files["repo"], "--jwt-public-key", str(d / "broken.pem"))
    assert rc == 1 and "--jwt-public-key" in err, err
    rc, err = fails_to_start(tool, files["repo"], "--jwt-secret", files["secret"],
                             "--jwt-public-key", files["pub"])
    assert rc == 1 and "one of" in err, err
    rc, err = fails_to_start(tool, files["repo"], "--jwt-audience", "x")
    assert rc == 2 and "need --jwt-secret" in err, err
    rc, err = fails_to_start(tool, files["repo"], "--jwt-secret", files["secret"],
                             "--jwt-leeway", "3600")
    assert rc == 2 and "600" in err, err


# ---- TLS ----

def self_signed(d, name, key=None, days=30, not_before=None):
    """A self-signed certificate for 127.0.0.1 and localhost, its own CA."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "aistack test")])
    nb = datetime.datetime.fromtimestamp(not_before or (time.time() - 60), datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(nb).not_valid_after(nb + datetime.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                 x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    (d / f"{name}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / f"{name}.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return str(d / f"{name}.crt"), str(d / f"{name}.key")


@pytest.fixture(scope="module")
def tls_server(tool, files):
    cert, key = self_signed(files["dir"], "server")
    p, addr = start(tool, files["repo"], "--tls-cert", cert, "--tls-key", key, "--api-keys",
                    files["keys"], scheme="https")
    yield addr, cert
    stop(p)


def test_tls_tritonclient_and_curl(tls_server):
    tritonclient = pytest.importorskip("tritonclient.http")
    import gevent.ssl
    addr, cert = tls_server
    x = np.load(os.path.join(ROOT, "models", "digits", "test_batch.npy")).astype(np.float32)[:3]
    clients = [
        tritonclient.InferenceServerClient(addr, ssl=True, ssl_options={"ca_certs": cert}),
        tritonclient.InferenceServerClient(
            addr, ssl=True, ssl_options={"ca_certs": cert},
            ssl_context_factory=gevent.ssl.create_default_context),
    ]
    outs = []
    for c in clients:
        assert c.is_server_live() and c.is_server_ready()
        inp = tritonclient.InferInput("pixels", list(x.shape), "FP32")
        inp.set_data_from_numpy(x)
        r = c.infer("digits", [inp], headers={"X-API-Key": KEY})
        outs.append(r.as_numpy("probabilities"))
        assert c.get_model_metadata("digits", headers={"X-API-Key": KEY})["name"] == "digits"
        c.close()
    assert outs[0].shape == (3, 10) and outs[0].tobytes() == outs[1].tobytes()
    # without our CA the client refuses the server (the certificate is checked)
    c = tritonclient.InferenceServerClient(addr, ssl=True)
    with pytest.raises(Exception, match="(?i)certificate|ssl"):
        c.is_server_live()
    # curl with --cacert; without it curl refuses the certificate (exit 60)
    url = f"https://{addr}/v2/models/digits/ready"
    r = subprocess.run(["curl", "-sS", "--cacert", cert, "-H", f"X-API-Key: {KEY}", "-w",
                        "\n%{http_code}", url], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.endswith("\n200"), r
    assert json.loads(r.stdout.rsplit("\n", 1)[0])["ready"] is True
    r = subprocess.run(["curl", "-sS", "--cacert", cert, "-w", "\n%{http_code}", url],
                       capture_output=True, text=True, timeout=60)
    assert r.stdout.endswith("\n401"), r  # TLS does not replace the key
    r = subprocess.run(["curl", "-sS", url], capture_output=True, text=True, timeout=60)
    assert r.returncode == 60, r


def test_tls_versions_and_plaintext(tls_server):
    addr, cert = tls_server
    host, port = addr.split(":")
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        ctx = ssl.create_default_context(cafile=cert)
        ctx.minimum_version = ctx.maximum_version = version
        assert request(addr, "GET", "/v2/health/live", tls_ctx=ctx)[0] == 200
    # TLS 1.1 is refused by the server (the client's own floor lowered to offer it)
    ctx = ssl.create_default_context(cafile=cert)
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises((ssl.SSLError, ConnectionError)):
        request(addr, "GET", "/v2/health/live", tls_ctx=ctx)
    # plain HTTP to the TLS port: no HTTP answer, the connection closed, the server unharmed
    for _ in range(3):
        s = socket.create_connection((host, int(port)), timeout=10)
        s.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n")
        got = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
        except (ConnectionResetError, socket.timeout):
            pass
        s.close()
        assert not got.startswith(b"HTTP/"), got
    with pytest.raises((http.client.HTTPException, ConnectionError, OSError)):
        request(addr, "GET", "/v2/health/live")
    ctx = ssl.create_default_context(cafile=cert)
    assert request(addr, "GET", "/v2/health/ready", tls_ctx=ctx)[0] == 200


def test_tls_startup_errors(tool, files):
    d = files["dir"]
    cert, key = self_signed(d, "good")
    other_cert, other_key = self_signed(d, "other")
    (d / "garbage.pem").write_text("not a certificate\n")
    rc, err = fails_to_start(tool, files["repo"], "--tls-cert", str(d / "garbage.pem"),
                             "--tls-key", key)
    assert rc == 1 and "--tls-cert" in err and "garbage.pem" in err, err
    rc, err = fails_to_start(tool, files["repo"], "--tls-cert", cert, "--tls-key",
                             str(d / "garbage.pem"))
    assert rc == 1 and "--tls-key" in err and "private key" in err, err
    rc, err = fails_to_start(tool, files["repo"], "--tls-cert", cert, "--tls-key", other_key)
    assert rc == 1 and "match" in err.lower(), err
    rc, err = fails_to_start(tool, files["repo"], "--tls-cert", cert, "--tls-key",
                             str(d / "nope.key"))
    assert rc == 1 and "nope.key" in err and "No such file" in err, err
    enc = ec.generate_private_key(ec.SECP256R1())
    (d / "enc.key").write_bytes(enc.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pass")))
    rc, err = fails_to_start(tool, files["repo"], "--tls-cert", cert, "--tls-key",
                             str(d / "enc.key"))
    assert rc == 1 and "unencrypted" in err, err
    rc, err = fails_to_start(tool, files["repo"], "--tls-cert", cert)
    assert rc == 2 and "go together" in err, err
