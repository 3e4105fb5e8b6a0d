#!/usr/bin/env python3
"""Real clients against weir's secured listeners (issue #15).

Starts `weir serve` with PLAINTEXT, SASL_PLAINTEXT, SASL_SSL and SSL listeners (certificates
made here with the openssl CLI, the broker's key encrypted and opened with ssl_key_password, a
user made with `weir user add`), then for confluent-kafka,
kafka-python and aiokafka: produce and consume in a group with a commit over SASL_SSL with
SCRAM-SHA-512, SASL_PLAINTEXT with SCRAM-SHA-256 and PLAIN, SSL with and without a client
certificate (and kcat and kafkajs), each with the settings one uses against Kafka; a wrong password and an unknown
user are refused. The last line is `security: N passed, N failed`.

    tests/compat/.venv/bin/python tests/compat/test_security.py --weir target/debug/weir
"""

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import traceback

PASSWORD = "alice-Secret-1"
KEY_PASSWORD = "keystore-Secret-2"
RECORDS = 10
STEP_TIMEOUT_S = 60


def sh(*cmd, **kw):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)


def make_pki(d):
    """A CA, a server certificate for 127.0.0.1/localhost and a client certificate."""
    p = lambda n: os.path.join(d, n)  # noqa: E731
    sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", p("ca.key"),
       "-out", p("ca.pem"), "-days", "2", "-subj", "/CN=weir test CA")
    for name, subj, ext in [
        ("server", "/CN=localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1"),
        ("client", "/O=weir/CN=client-one", "extendedKeyUsage=clientAuth"),
    ]:
        sh("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", p(name + ".key"),
           "-out", p(name + ".csr"), "-subj", subj)
        with open(p(name + ".ext"), "w") as f:
            f.write(ext + "\n")
        sh("openssl", "x509", "-req", "-in", p(name + ".csr"), "-CA", p("ca.pem"), "-CAkey",
           p("ca.key"), "-CAcreateserial", "-out", p(name + ".pem"), "-days", "2",
           "-extfile", p(name + ".ext"))
    # The key encrypted (PBES2, AES-256-CBC), opened with ssl_key_password, as Kafka's PEM
    # keystores often are.
    sh("openssl", "pkcs8", "-topk8", "-v2", "aes-256-cbc", "-passout", "pass:" + KEY_PASSWORD,
       "-in", p("server.key"), "-out", p("server.enc.key"))
    with open(p("keystore.pem"), "w") as out:
        for part in ("server.pem", "ca.pem", "server.enc.key"):
            with open(p(part)) as f:
                out.write(f.read())
    return {"ca": p("ca.pem"), "cert": p("client.pem"), "key": p("client.key"),
            "keystore": p("keystore.pem")}


class Weir:
    def __init__(self, weir, work, pki, extra=None, name="data"):
        self.data = os.path.join(work, name)
        os.makedirs(self.data)
        subprocess.run([weir, "user", "add", "alice", "--data-dir", self.data],
                       input=(PASSWORD + "\n").encode(), check=True)
        self.log = open(os.path.join(work, name + "-weir.log"), "wb")
        sets = {
            "listeners": "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0,"
                         "SASL_SSL://127.0.0.1:0,SSL://127.0.0.1:0",
            "sasl_enabled_mechanisms": "SCRAM-SHA-256,SCRAM-SHA-512,PLAIN",
            "ssl_keystore_location": pki["keystore"],
            "ssl_key_password": KEY_PASSWORD,
            "ssl_truststore_location": pki["ca"],
            "ssl_client_auth": "requested",
            "http_listen": "127.0.0.1:0",
            "group_initial_rebalance_delay_ms": "0",
            **(extra or {}),
        }
        cmd = [weir, "serve", "--data-dir", self.data]
        for k, v in sets.items():
            cmd += ["--set", f"{k}={v}"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log)
        self.addrs = {}
        first = self.proc.stdout.readline().decode()
        if not first.startswith("weir: listening on "):
            raise RuntimeError(f"weir did not start: {first!r}")
        self.http = None
        while len(self.addrs) < 4 or self.http is None:
            line = self.proc.stdout.readline().decode()
            m = re.match(r"weir: listener (\S+) (\S+) on (\S+)", line)
            if not line:
                raise RuntimeError("weir stopped printing its addresses")
            if m:
                self.addrs[m.group(1)] = m.group(3)
            elif line.startswith("weir: http on "):
                self.http = line.strip().removeprefix("weir: http on ")
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    def accepted(self):
        """weir_connections_accepted_total from /metrics."""
        import urllib.request
        text = urllib.request.urlopen(f"http://{self.http}/metrics", timeout=10).read().decode()
        m = re.search(r"^weir_connections_accepted_total (\d+)", text, re.M)
        return int(m.group(1))

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


# (name, listener, settings in Kafka's own terms, with or without a client certificate)
SCENARIOS = [
    ("sasl-ssl-scram-512", "SASL_SSL", "SASL_SSL", "SCRAM-SHA-512", False),
    ("sasl-plaintext-scram-256", "SASL_PLAINTEXT", "SASL_PLAINTEXT", "SCRAM-SHA-256", False),
    ("sasl-plaintext-plain", "SASL_PLAINTEXT", "SASL_PLAINTEXT", "PLAIN", False),
    ("ssl-client-cert", "SSL", "SSL", None, True),
    ("ssl-no-client-cert", "SSL", "SSL", None, False),
]
REFUSED = [("wrong-password", "alice", "not-the-password"), ("unknown-user", "mallory", PASSWORD)]


# --- confluent-kafka ---------------------------------------------------------------------------
def confluent_conf(addr, protocol, mechanism, cert, pki, user="alice", password=PASSWORD):
    c = {"bootstrap.servers": addr, "security.protocol": protocol}
    if mechanism:
        c.update({"sasl.mechanism": mechanism, "sasl.username": user, "sasl.password": password})
    if "SSL" in protocol:
        c["ssl.ca.location"] = pki["ca"]
        if cert:
            c.update({"ssl.certificate.location": pki["cert"], "ssl.key.location": pki["key"]})
    return c


def confluent_roundtrip(conf, topic):
    from confluent_kafka import Consumer, Producer
    p = Producer(conf)
    for i in range(RECORDS):
        p.produce(topic, key=b"k%d" % i, value=b"v%d" % i)
    assert p.flush(STEP_TIMEOUT_S) == 0, "produce not acknowledged"
    c = Consumer({**conf, "group.id": topic + "-g", "auto.offset.reset": "earliest",
                  "enable.auto.commit": False})
    c.subscribe([topic])
    got, deadline = [], time.time() + STEP_TIMEOUT_S
    while len(got) < RECORDS and time.time() < deadline:
        m = c.poll(1.0)
        if m is not None and m.error() is None:
            got.append(m.value())
    assert len(got) == RECORDS, f"consumed {len(got)}"
    c.commit(asynchronous=False)
    c.close()


def confluent_refused(conf):
    from confluent_kafka import KafkaError
    from confluent_kafka.admin import AdminClient
    errors = []
    a = AdminClient({**conf, "error_cb": errors.append})
    try:
        a.list_topics(timeout=10)
        raise AssertionError("listed topics without valid credentials")
    except AssertionError:
        raise
    except Exception:  # noqa: BLE001 - the expected failure; its cause is checked below
        pass
    deadline = time.time() + 10
    while not errors and time.time() < deadline:
        a.poll(0.5)  # error_cb is served by poll
    assert any(e.code() == KafkaError._AUTHENTICATION for e in errors), f"errors: {errors}"


def confluent_admin_scram(weir, pki):
    """AlterUserScramCredentials and DescribeUserScramCredentials through AdminClient: a new
    user authenticates, is described with its iterations, and is refused once deleted."""
    from confluent_kafka.admin import (AdminClient, ScramCredentialInfo, ScramMechanism,
                                       UserScramCredentialDeletion,
                                       UserScramCredentialUpsertion)
    admin = AdminClient(confluent_conf(weir.addrs["SASL_SSL"], "SASL_SSL", "SCRAM-SHA-512",
                                       False, pki))
    info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 4096)
    for f in admin.alter_user_scram_credentials(
            [UserScramCredentialUpsertion("bob", info, b"bob-password")]).values():
        f.result(timeout=STEP_TIMEOUT_S)
    described = admin.describe_user_scram_credentials(["bob"])["bob"].result(STEP_TIMEOUT_S)
    infos = [(i.mechanism, i.iterations) for i in described.scram_credential_infos]
    assert infos == [(ScramMechanism.SCRAM_SHA_256, 4096)], infos
    bob = confluent_conf(weir.addrs["SASL_PLAINTEXT"], "SASL_PLAINTEXT", "SCRAM-SHA-256", False,
                         pki, "bob", "bob-password")
    confluent_roundtrip(bob, "sec-confluent-admin-bob")
    # Too few iterations: refused with UNACCEPTABLE_CREDENTIAL.
    weak = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 1000)
    try:
        admin.alter_user_scram_credentials(
            [UserScramCredentialUpsertion("carol", weak, b"pw")])["carol"].result(10)
        raise AssertionError("1000 iterations accepted")
    except AssertionError:
        raise
    except Exception as e:  # noqa: BLE001
        assert "UNACCEPTABLE_CREDENTIAL" in str(e) or "teration" in str(e), e
    for f in admin.alter_user_scram_credentials(
            [UserScramCredentialDeletion("bob", ScramMechanism.SCRAM_SHA_256)]).values():
        f.result(timeout=STEP_TIMEOUT_S)
    confluent_refused(bob)


def sighup_reloads_and_keeps_serving(weir, pki):
    """SIGHUP reloads the certificates and stops nothing: the broker serves TLS after it."""
    import signal
    weir.proc.send_signal(signal.SIGHUP)
    time.sleep(1)
    assert weir.proc.poll() is None, "weir stopped on SIGHUP"
    confluent_roundtrip(confluent_conf(weir.addrs["SSL"], "SSL", None, True, pki),
                        "sec-after-sighup")


def confluent_reauth(weir_bin, work, pki):
    """KIP-368: with connections_max_reauth_ms=2000 librdkafka re-authenticates its
    connections in place: a producer keeps producing across three lifetimes on the
    connections it has (no new connection accepted), and every record arrives."""
    weir = Weir(weir_bin, work, pki, {"connections_max_reauth_ms": "2000"}, "reauth")
    try:
        from confluent_kafka import Producer
        conf = confluent_conf(weir.addrs["SASL_SSL"], "SASL_SSL", "SCRAM-SHA-512", False, pki)
        p = Producer(conf)
        p.produce("sec-reauth", b"first")
        assert p.flush(STEP_TIMEOUT_S) == 0
        before = weir.accepted()
        for i in range(6):
            time.sleep(1)
            p.produce("sec-reauth", b"r%d" % i)
            assert p.flush(STEP_TIMEOUT_S) == 0, "produce after a session lifetime"
        after = weir.accepted()
        assert after == before, f"{after - before} new connections: not re-authenticated in place"
    finally:
        weir.stop()


# --- kafka-python ------------------------------------------------------------------------------
def kp_conf(addr, protocol, mechanism, cert, pki, user="alice", password=PASSWORD):
    c = {"bootstrap_servers": addr, "security_protocol": protocol}
    if mechanism:
        c.update({"sasl_mechanism": mechanism, "sasl_plain_username": user,
                  "sasl_plain_password": password})
    if "SSL" in protocol:
        c["ssl_cafile"] = pki["ca"]
        if cert:
            c.update({"ssl_certfile": pki["cert"], "ssl_keyfile": pki["key"]})
    return c


def kp_roundtrip(conf, topic):
    from kafka import KafkaConsumer, KafkaProducer
    p = KafkaProducer(**conf)
    for i in range(RECORDS):
        p.send(topic, key=b"k%d" % i, value=b"v%d" % i)
    p.flush(STEP_TIMEOUT_S)
    p.close()
    c = KafkaConsumer(topic, group_id=topic + "-g", auto_offset_reset="earliest",
                      enable_auto_commit=False, consumer_timeout_ms=STEP_TIMEOUT_S * 1000, **conf)
    got = []
    for m in c:
        got.append(m.value)
        if len(got) == RECORDS:
            break
    assert len(got) == RECORDS, f"consumed {len(got)}"
    c.commit()
    c.close()


def kp_refused(conf):
    from kafka import KafkaProducer
    try:
        p = KafkaProducer(**conf, max_block_ms=10_000)
        p.send("refused", b"x").get(timeout=10)
    except Exception:  # noqa: BLE001
        return
    raise AssertionError("produced without valid credentials")


# --- aiokafka ----------------------------------------------------------------------------------
def aio_conf(addr, protocol, mechanism, cert, pki, user="alice", password=PASSWORD):
    from aiokafka.helpers import create_ssl_context
    c = {"bootstrap_servers": addr, "security_protocol": protocol}
    if mechanism:
        c.update({"sasl_mechanism": mechanism, "sasl_plain_username": user,
                  "sasl_plain_password": password})
    if "SSL" in protocol:
        c["ssl_context"] = create_ssl_context(
            cafile=pki["ca"], certfile=pki["cert"] if cert else None,
            keyfile=pki["key"] if cert else None)
    return c


def aio_roundtrip(conf, topic):
    async def run():
        from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
        p = AIOKafkaProducer(**conf)
        await p.start()
        try:
            for i in range(RECORDS):
                await p.send_and_wait(topic, key=b"k%d" % i, value=b"v%d" % i)
        finally:
            await p.stop()
        c = AIOKafkaConsumer(topic, group_id=topic + "-g", auto_offset_reset="earliest",
                             enable_auto_commit=False, **conf)
        await c.start()
        try:
            got = []
            while len(got) < RECORDS:
                batch = await asyncio.wait_for(c.getmany(timeout_ms=1000), STEP_TIMEOUT_S)
                for msgs in batch.values():
                    got.extend(m.value for m in msgs)
            await c.commit()
        finally:
            await c.stop()
    asyncio.run(asyncio.wait_for(run(), STEP_TIMEOUT_S * 2))


def aio_refused(conf):
    async def run():
        from aiokafka import AIOKafkaProducer
        p = AIOKafkaProducer(**conf, request_timeout_ms=10_000)
        try:
            await asyncio.wait_for(p.start(), 20)
        except Exception:  # noqa: BLE001
            return True
        finally:
            await p.stop()
        return False
    assert asyncio.run(run()), "started without valid credentials"


# --- kafkajs (node) ----------------------------------------------------------------------------
def js_conf(addr, protocol, mechanism, cert, pki, user="alice", password=PASSWORD):
    return {"addr": addr, "protocol": protocol, "mechanism": mechanism, "cert": cert,
            "ca": pki["ca"], "certFile": pki["cert"], "keyFile": pki["key"], "user": user,
            "password": password, "records": RECORDS}


def js_run(conf, mode, topic=""):
    import json
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "test_security_kafkajs.js")
    r = subprocess.run(["node", script, json.dumps({**conf, "mode": mode, "topic": topic})],
                       capture_output=True, timeout=STEP_TIMEOUT_S * 2)
    assert r.returncode == 0, r.stderr.decode(errors="replace")[-2000:]


# --- kcat (Debian's, librdkafka 2.0.2) ---------------------------------------------------------
def kcat_conf(addr, protocol, mechanism, cert, pki, user="alice", password=PASSWORD):
    x = ["-b", addr, "-X", f"security.protocol={protocol}"]
    if mechanism:
        x += ["-X", f"sasl.mechanisms={mechanism}", "-X", f"sasl.username={user}",
              "-X", f"sasl.password={password}"]
    if "SSL" in protocol:
        x += ["-X", f"ssl.ca.location={pki['ca']}"]
        if cert:
            x += ["-X", f"ssl.certificate.location={pki['cert']}",
                  "-X", f"ssl.key.location={pki['key']}"]
    return x


def kcat_roundtrip(x, topic):
    lines = "".join(f"v{i}\n" for i in range(RECORDS))
    subprocess.run(["kcat", *x, "-P", "-t", topic], input=lines.encode(), check=True,
                   timeout=STEP_TIMEOUT_S, capture_output=True)
    # A balanced consumer in a group, to the end, committing (kcat -G).
    r = subprocess.run(["kcat", *x, "-G", topic + "-g", "-o", "beginning", "-e", topic],
                       check=True, timeout=STEP_TIMEOUT_S, capture_output=True)
    got = [ln for ln in r.stdout.decode().splitlines() if ln.startswith("v")]
    assert len(got) == RECORDS, f"consumed {got}"


def kcat_refused(x):
    r = subprocess.run(["kcat", *x, "-L", "-m", "5"], timeout=STEP_TIMEOUT_S,
                       capture_output=True)
    err = r.stderr.decode()
    assert r.returncode != 0 and "uthentication" in err, err[-1000:]


CLIENTS = [
    ("confluent", confluent_conf, confluent_roundtrip, confluent_refused),
    ("kafka-python", kp_conf, kp_roundtrip, kp_refused),
    ("aiokafka", aio_conf, aio_roundtrip, aio_refused),
    ("kcat", kcat_conf, kcat_roundtrip, kcat_refused),
    ("kafkajs", js_conf, lambda c, t: js_run(c, "roundtrip", t), lambda c: js_run(c, "refused")),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weir", required=True)
    ap.add_argument("--only", help="comma-separated clients")
    args = ap.parse_args()
    only = set(filter(None, (args.only or "").split(",")))
    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="weir-security-") as work:
        pki = make_pki(work)
        weir = Weir(os.path.abspath(args.weir), work, pki)
        try:
            for client, conf, roundtrip, refused in CLIENTS:
                if only and client not in only:
                    continue
                steps = [(name, lambda l=listener, p=proto, m=mech, c=cert, n=name:
                          roundtrip(conf(weir.addrs[l], p, m, c, pki),
                                    f"sec-{client}-{n}"))
                         for name, listener, proto, mech, cert in SCENARIOS]
                steps += [(name, lambda u=user, pw=pw:
                           refused(conf(weir.addrs["SASL_SSL"], "SASL_SSL", "SCRAM-SHA-512",
                                        False, pki, u, pw)))
                          for name, user, pw in REFUSED]
                if client == "confluent":
                    steps += [("admin-scram-credentials", lambda: confluent_admin_scram(weir, pki)),
                              ("sighup", lambda: sighup_reloads_and_keeps_serving(weir, pki)),
                              ("reauth", lambda: confluent_reauth(os.path.abspath(args.weir),
                                                                  work, pki))]
                for name, step in steps:
                    started = time.time()
                    try:
                        step()
                        passed += 1
                        print(f"security: {client} {name} ok ({time.time() - started:.1f}s)",
                              flush=True)
                    except Exception:  # noqa: BLE001
                        failed += 1
                        print(f"security: {client} {name} FAILED", flush=True)
                        traceback.print_exc()
        finally:
            weir.stop()
            if failed:
                with open(os.path.join(work, "data-weir.log"), "rb") as f:
                    sys.stdout.write(f.read()[-4000:].decode(errors="replace"))
    print(f"security: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
