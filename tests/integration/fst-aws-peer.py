#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A local AWS IoT peer for the station's tests: moto (server mode) on 127.0.0.1
behind a front that can throttle, answer 5xx, drop the connection, or lose an
answer after the request took effect, and that adds routes moto lacks.

  fst-aws-peer.py PORT_FILE [--tls CERT KEY]

Writes the front's port to PORT_FILE once it listens, then serves until
killed. Exits 77 when moto is not installed (it is not in Debian).

moto derives certificate ids from the PEM text; AWS uses the SHA-256 of the
DER. The peer turns on moto's DER ids (iot.use_valid_cert) so that it
behaves as AWS does, which the station relies on (DescribeCertificate by
the SHA-256 of the DER after a restart).

moto 5.2's CreateCertificateFromCsr signs a key of its own making, not the
CSR's: the peer answers that operation itself, as AWS does (the CSR's key,
signed by a peer CA named as Amazon's, registered in moto's backend).

Control (not signed, on the front):
  POST /__peer/faults  {"throttle_rate": 0.1, "throttle_next": 2, "error_next": 1,
                        "drop_next": 1, "lost_next": 1, "seed": 1,
                        "refuse_op": "PUT /certificates",
                        "unavailable_op": "POST /certificates",
                        "lost_op": "POST /certificates",
                        "gather_op": "POST /certificates", "gather_next": 3}
                       (refuse_op: every request of that method and first
                       path segment is refused, 403 AccessDeniedException,
                       until set to null; unavailable_op: the same, answered
                       503 ServiceUnavailableException; lost_op: only requests of that
                       kind count against lost_next, null for any;
                       gather_op: the next gather_next requests of that kind
                       are answered together, once the last has come, or
                       after 10 s)
  GET  /__peer/stats   request counts, per register outcome, certificates created
                       (and created ACTIVE)
  GET  /__peer/certificates  every certificate moto holds: {"certificates":
                       [{"certificateId": ..., "status": ...}]}
"""
import http.client
import logging
import http.server
import json
import os
import random
import socket
import ssl
import sys
import threading

try:
    from moto.server import ThreadedMotoServer
    from moto import settings as moto_settings
except ImportError:
    print("moto is not installed in this Python (not in Debian): skipping", file=sys.stderr)
    sys.exit(77)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


logging.getLogger("werkzeug").setLevel(logging.ERROR)
PARENT = os.getppid()


def watch_parent():
    # the test that started the peer died without stopping it: stop too
    while os.getppid() == PARENT:
        threading.Event().wait(0.5)
    os._exit(0)


threading.Thread(target=watch_parent, daemon=True).start()
moto_settings.default_user_config.setdefault("iot", {})["use_valid_cert"] = True
MOTO_PORT = free_port()
moto = ThreadedMotoServer(ip_address="127.0.0.1", port=MOTO_PORT, verbose=False)
moto.start()

lock = threading.Lock()
faults = dict(throttle_rate=0.0, throttle_next=0, error_next=0, drop_next=0, lost_next=0,
              refuse_op=None, unavailable_op=None, lost_op=None, gather_op=None,
              gather_next=0)
gathered = threading.Condition(lock)
rng = random.Random(1)
stats = dict(requests=0, throttled=0, errors=0, dropped=0, lost=0, register_ok=0,
             register_conflict=0, describe=0, created=0, created_active=0, by_op={})
registered_ids = {}
peer_ca_key = None
tasks = {}


def moto_s3():
    import boto3
    return boto3.client("s3", endpoint_url=f"http://127.0.0.1:{MOTO_PORT}", region_name="us-east-1",
                        aws_access_key_id="peer", aws_secret_access_key="peer")


def take(name):
    if faults[name] > 0:
        faults[name] -= 1
        return True
    return False


class Front(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # one write per answer (headers and body): no Nagle / delayed-ACK stall
    wbufsize = 1 << 16
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def reply(self, status, body, headers=None):
        data = json.dumps(body).encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def drop(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        if path == "/__peer/faults":
            with lock:
                cfg = json.loads(body or b"{}")
                if "seed" in cfg:
                    rng.seed(cfg.pop("seed"))
                faults.update(cfg)
            return self.reply(200, faults)
        if path == "/__peer/create-bucket":
            moto_s3().create_bucket(Bucket=json.loads(body)["name"])
            return self.reply(200, {})
        if path == "/__peer/stats":
            with lock:
                return self.reply(200, dict(stats, registered_ids=registered_ids))
        if path == "/__peer/certificates":
            return self.list_certificates()
        op = self.command + " " + "/".join(path.split("/")[:2])
        with lock:
            stats["requests"] += 1
            stats["by_op"][op] = stats["by_op"].get(op, 0) + 1
            throttle = take("throttle_next") or rng.random() < faults["throttle_rate"]
            error = not throttle and take("error_next")
            dropped = not throttle and not error and take("drop_next")
            lost = (not throttle and not error and not dropped
                    and faults["lost_op"] in (None, op) and take("lost_next"))
        if throttle:
            with lock:
                stats["throttled"] += 1
            return self.reply(429, {"message": "Rate exceeded"},
                              {"x-amzn-ErrorType": "ThrottlingException:"})
        if error:
            with lock:
                stats["errors"] += 1
            return self.reply(503, {"message": "Service unavailable"},
                              {"x-amzn-ErrorType": "ServiceUnavailableException:"})
        if dropped:
            with lock:
                stats["dropped"] += 1
            return self.drop()
        if faults["gather_op"] is not None and op == faults["gather_op"]:
            with lock:
                if faults["gather_next"] > 0:
                    faults["gather_next"] -= 1
                    gathered.notify_all()
                    gathered.wait_for(lambda: faults["gather_next"] == 0, timeout=10)
        if faults["refuse_op"] is not None and op == faults["refuse_op"]:
            with lock:
                stats["errors"] += 1
            return self.reply(403, {"message": "Refused by the test peer"},
                              {"x-amzn-ErrorType": "AccessDeniedException:"})
        if faults["unavailable_op"] is not None and op == faults["unavailable_op"]:
            with lock:
                stats["errors"] += 1
            return self.reply(503, {"message": "Unavailable at the test peer"},
                              {"x-amzn-ErrorType": "ServiceUnavailableException:"})
        if self.command == "GET" and path == "/cacertificates":
            return self.list_ca_certificates()
        if self.command == "POST" and path == "/certificates":
            return self.create_certificate_from_csr(body, lost)
        if path.startswith("/thing-registration-tasks") or path.startswith("/__peer/reports/"):
            return self.registration_task(path, body)
        status, headers, data = self.forward(body)
        if self.command == "POST" and path == "/keys-and-certificate" and status == 200:
            with lock:
                stats["created"] += 1
                if "setAsActive=true" in self.path:
                    stats["created_active"] += 1
        if path.startswith("/certificate/register"):
            with lock:
                if status == 200:
                    stats["register_ok"] += 1
                    cid = json.loads(data)["certificateId"]
                    registered_ids[cid] = registered_ids.get(cid, 0) + 1
                elif status == 409:
                    stats["register_conflict"] += 1
        if self.command == "GET" and path.startswith("/certificates/"):
            with lock:
                stats["describe"] += 1
        if lost:
            with lock:
                stats["lost"] += 1
            return self.drop()
        self.send_response(status)
        for k, v in headers:
            if k.lower() not in ("transfer-encoding", "connection", "content-length", "server", "date"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def forward(self, body):
        c = http.client.HTTPConnection("127.0.0.1", MOTO_PORT, timeout=30)
        hdrs = {k: v for k, v in self.headers.items() if k.lower() not in ("connection",)}
        c.request(self.command, self.path, body=body, headers=hdrs)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, r.getheaders(), data

    def list_certificates(self):
        # every device certificate of every region with its status, straight
        # from moto's backend: no paging, no signature, for the tests' checks
        from moto.iot.models import iot_backends
        out = []
        for account in iot_backends:
            for region in iot_backends[account]:
                for cert in list(iot_backends[account][region].certificates.values()):
                    out.append({"certificateId": cert.certificate_id, "status": cert.status})
        return self.reply(200, {"certificates": out})

    def list_ca_certificates(self):
        # moto 5.2 has no ListCACertificates route: answer from its backend
        from moto.iot.models import iot_backends
        out = []
        for account in iot_backends:
            for region in iot_backends[account]:
                for ca in iot_backends[account][region].ca_certificates.values():
                    out.append({"certificateArn": ca.arn, "certificateId": ca.certificate_id,
                                "status": ca.status})
        return self.reply(200, {"certificates": out})

    def create_certificate_from_csr(self, body, lost):
        import datetime
        from urllib.parse import parse_qs
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from moto.iot.models import iot_backends
        global peer_ca_key
        csr = x509.load_pem_x509_csr(json.loads(body)["certificateSigningRequest"].encode())
        if not csr.is_signature_valid:
            return self.reply(400, {"message": "the CSR signature does not verify"},
                              {"x-amzn-ErrorType": "InvalidRequestException:"})
        query = parse_qs(self.path.split("?", 1)[1]) if "?" in self.path else {}
        active = query.get("setAsActive", ["false"])[0] == "true"
        with lock:
            if peer_ca_key is None:
                peer_ca_key = ec.generate_private_key(ec.SECP256R1())
        # the issuer name AWS IoT's certificates carry: one OU attribute
        issuer = x509.Name([x509.NameAttribute(
            x509.NameOID.ORGANIZATIONAL_UNIT_NAME,
            "Amazon Web Services O=Amazon.com Inc. L=Seattle ST=Washington C=US")])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(x509.Name([
                    x509.NameAttribute(x509.NameOID.COMMON_NAME, "AWS IoT Certificate")]))
                .issuer_name(issuer).public_key(csr.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=1))
                .not_valid_after(datetime.datetime(2049, 12, 31, 23, 59, 59))
                .sign(peer_ca_key, hashes.SHA256()))
        pem = cert.public_bytes(serialization.Encoding.PEM).decode()
        backend = iot_backends["123456789012"][self.region()]
        made = backend.register_certificate_without_ca(pem, "ACTIVE" if active else "INACTIVE")
        with lock:
            stats["created"] += 1
            if active:
                stats["created_active"] += 1
            if lost:
                stats["lost"] += 1
        if lost:
            return self.drop()
        return self.reply(200, {"certificateArn": made.arn, "certificateId": made.certificate_id,
                                "certificatePem": pem})

    def region(self):
        auth = self.headers.get("Authorization", "")
        try:
            return auth.split("Credential=", 1)[1].split("/")[2]
        except IndexError:
            return "us-east-1"

    def registration_task(self, path, body):
        # moto 5.2 has no bulk registration: the peer runs the task at once,
        # with moto's IoT backend, after checking the template and each line
        from urllib.parse import parse_qs
        from moto.iot.models import iot_backends
        parts = path.split("/")
        if path.startswith("/__peer/reports/"):
            data = tasks[parts[3]]["reports"][parts[4]]
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        if self.command == "POST" and len(parts) == 2:
            req = json.loads(body)
            template = json.loads(req["templateBody"])
            params = set(template.get("Parameters", {}))
            for name, res in template.get("Resources", {}).items():
                for prop, value in res.get("Properties", {}).items():
                    if isinstance(value, dict) and value.get("Ref") not in params:
                        return self.reply(400, {"message": f"{name}.{prop}: no parameter {value}"},
                                          {"x-amzn-ErrorType": "InvalidRequestException:"})
            try:
                obj = moto_s3().get_object(Bucket=req["inputFileBucket"], Key=req["inputFileKey"])
                lines = obj["Body"].read().decode().splitlines()
            except Exception as e:
                return self.reply(400, {"message": f"cannot read the input file: {e}"},
                                  {"x-amzn-ErrorType": "InvalidRequestException:"})
            backend = iot_backends["123456789012"][self.region()]
            results, errors = [], []
            for offset, line in enumerate(lines):
                try:
                    values = json.loads(line)
                    if set(values) != params:
                        raise ValueError(f"parameters {sorted(values)} are not {sorted(params)}")
                    cert = backend.register_certificate_without_ca(values["CertificatePem"], "ACTIVE")
                    thing = backend.create_thing(values["ThingName"], None, None)
                    backend.attach_thing_principal(values["ThingName"], cert.arn)
                    policy = template["Resources"].get("policy", {}).get("Properties", {})
                    if "PolicyName" in policy:
                        backend.attach_policy(policy["PolicyName"], cert.arn)
                    results.append({"offset": offset, "response": {"ResourceArns": {
                        "certificate": cert.arn, "thing": thing.arn}}})
                except Exception as e:
                    errors.append({"offset": offset, "errorCode": type(e).__name__,
                                   "errorMessage": str(e)})
            task_id = "task-%d" % (len(tasks) + 1)
            tasks[task_id] = dict(success=len(results), failure=len(errors), reports={
                "RESULTS": "".join(json.dumps(x) + "\n" for x in results).encode(),
                "ERRORS": "".join(json.dumps(x) + "\n" for x in errors).encode()})
            return self.reply(200, {"taskId": task_id})
        task = tasks.get(parts[2])
        if task is None:
            return self.reply(404, {"message": "no such task"},
                              {"x-amzn-ErrorType": "ResourceNotFoundException:"})
        if len(parts) == 3:
            return self.reply(200, {"taskId": parts[2], "status": "Completed",
                                    "successCount": task["success"], "failureCount": task["failure"]})
        kind = parse_qs(self.path.split("?", 1)[1])["reportType"][0]
        host = "%s:%d" % server.server_address
        scheme = "https" if "--tls" in sys.argv else "http"
        links = [f"{scheme}://{host}/__peer/reports/{parts[2]}/{kind}"] if task["reports"][kind] else []
        return self.reply(200, {"resourceLinks": links, "reportType": kind})

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_any


class Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # a client killed mid-request (the SIGKILL test) is expected


server = Server(("127.0.0.1", 0), Front)
server.daemon_threads = True
if "--tls" in sys.argv:
    i = sys.argv.index("--tls")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[i + 1], sys.argv[i + 2])
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
tmp = sys.argv[1] + ".tmp"
with open(tmp, "w") as f:
    f.write(str(server.server_address[1]))
os.rename(tmp, sys.argv[1])
try:
    server.serve_forever()
finally:
    moto.stop()
