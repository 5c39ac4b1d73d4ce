#!/usr/bin/python3
"""A loopback stand-in for CloudWatch's PutMetricData (Query API, 2010-08-01).

It checks each request the way AWS does, independently of the client under
test: the SigV4 signature is recomputed with botocore (Debian's
python3-botocore) from the method, path, query, signed headers and body that
arrived, and the PutMetricData parameters are validated against the limits in
the API reference.  Errors come back as AWS-style XML (<ErrorResponse>).

  cloudwatch_fake.py --record FILE --cred AKID:SECRET[:TOKEN] ... \
                     [--port N] [--port-file FILE] [--region R]

--port 0 (the default) picks a free port; the port is printed on stdout and
written to --port-file once the server listens.  Every accepted datum is
appended to the JSON-lines --record file before the response is sent.

Control (unsigned, loopback only):
  GET /_control?fail=500|503|throttle|400|echo&count=N[&after=K]
      the next N PutMetricData requests (after K more succeed) fail that way
  GET /_control?reset=1      clear failures and counters
  GET /_stats                JSON counters
"""
import argparse
import datetime
import hashlib
import hmac
import json
import math
import os
import re
import sys
import threading
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

SERVICE = "monitoring"
VERSION = "2010-08-01"
# The reference says "1 MB" per POST; the stricter reading is enforced.
MAX_BODY = 1000000
MAX_DATUMS = 1000
MAX_DIMENSIONS = 30
MAX_PAST = datetime.timedelta(days=14)
MAX_FUTURE = datetime.timedelta(hours=2)
MAX_SKEW = datetime.timedelta(minutes=15)
VALUE_MAX = 1.174271e108
VALUE_MIN = 8.515920e-109
UNITS = {
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes",
    "Gigabytes", "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits",
    "Percent", "Count", "Bytes/Second", "Kilobytes/Second", "Megabytes/Second",
    "Gigabytes/Second", "Terabytes/Second", "Bits/Second", "Kilobits/Second",
    "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None",
}
AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=([^/,\s]+)/(\d{8})/([^/,\s]+)/([^/,\s]+)/aws4_request,\s*"
    r"SignedHeaders=([a-z0-9;\-]+),\s*Signature=([0-9a-f]{64})$")
DATUM_RE = re.compile(r"^MetricData\.member\.(\d+)\.(.+)$")
DIM_RE = re.compile(r"^Dimensions\.member\.(\d+)\.(Name|Value)$")
TS_RE = re.compile(
    r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$")


class AwsError(Exception):
    def __init__(self, status, code, message, kind="Sender"):
        super().__init__(message)
        self.status, self.code, self.message, self.kind = status, code, message, kind


def parse_timestamp(s):
    m = TS_RE.match(s)
    if not m:
        return None
    y, mo, d, h, mi, sec = (int(x) for x in m.groups()[:6])
    frac, tz = m.group(7), m.group(8)
    micro = int((frac[1:] + "000000")[:6]) if frac else 0
    try:
        t = datetime.datetime(y, mo, d, h, mi, sec, micro, tzinfo=datetime.timezone.utc)
    except ValueError:
        return None
    if tz != "Z":
        off = datetime.timedelta(hours=int(tz[1:3]), minutes=int(tz[4:6]))
        t = t - off if tz[0] == "+" else t + off
    return t


def contiguous(indices, what):
    """AWS list members are numbered 1..N."""
    if sorted(indices) != list(range(1, len(indices) + 1)):
        raise AwsError(400, "InvalidParameterValue",
                       f"The members of {what} must be numbered 1..N without gaps.")


class State:
    def __init__(self, args):
        self.lock = threading.Lock()
        self.creds = {}
        for c in args.cred:
            parts = c.split(":", 2)
            if len(parts) < 2:
                sys.exit(f"--cred {c!r}: want AKID:SECRET[:TOKEN]")
            self.creds[parts[0]] = (parts[1], parts[2] if len(parts) == 3 else None)
        self.region = args.region
        self.record = args.record
        self.reset()

    def reset(self):
        self.fail_mode, self.fail_count, self.fail_after = None, 0, 0
        self.stats = {"requests": 0, "accepted": 0, "datums": 0, "max_body": 0,
                      "max_datums": 0, "errors": {}}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cloudwatch-fake/1"

    def log_message(self, fmt, *args):  # keep test output readable
        sys.stderr.write("cloudwatch-fake: " + (fmt % args) + "\n")

    def reply(self, status, body, ctype="text/xml"):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        self.end_headers()
        self.wfile.write(data)

    def reply_error(self, e):
        st = self.server.state
        with st.lock:
            st.stats["errors"][e.code] = st.stats["errors"].get(e.code, 0) + 1
        self.log_message("%d %s: %s", e.status, e.code, e.message)
        esc = (e.message.replace("&", "&amp;").replace("<", "&lt;")
               .replace(">", "&gt;").replace('"', "&quot;"))
        self.reply(e.status,
                   '<ErrorResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/">\n'
                   f"  <Error>\n    <Type>{e.kind}</Type>\n    <Code>{e.code}</Code>\n"
                   f"    <Message>{esc}</Message>\n  </Error>\n"
                   f"  <RequestId>{uuid.uuid4()}</RequestId>\n</ErrorResponse>\n")

    def do_GET(self):
        st = self.server.state
        u = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(u.query))
        if u.path == "/_control":
            with st.lock:
                if "reset" in q:
                    st.reset()
                if "fail" in q:
                    st.fail_mode = q["fail"]
                    st.fail_count = int(q.get("count", "1"))
                    st.fail_after = int(q.get("after", "0"))
            self.reply(200, "ok\n", "text/plain")
        elif u.path == "/_stats":
            with st.lock:
                self.reply(200, json.dumps(st.stats) + "\n", "application/json")
        else:
            self.reply_error(AwsError(400, "InvalidAction", "GET is not used by this fake."))

    def do_POST(self):
        st = self.server.state
        try:
            n = int(self.headers.get("Content-Length", "-1"))
        except ValueError:
            n = -1
        if n < 0:
            self.reply_error(AwsError(411, "MissingContentLength", "Content-Length is required."))
            return
        body = self.rfile.read(n)
        with st.lock:
            st.stats["requests"] += 1
            st.stats["max_body"] = max(st.stats["max_body"], n)
        try:
            akid = self.check_signature(body)
            self.injected_failure()
            datums, ns = self.check_params(body)
        except AwsError as e:
            self.reply_error(e)
            return
        with st.lock:
            st.stats["accepted"] += 1
            st.stats["datums"] += len(datums)
            st.stats["max_datums"] = max(st.stats["max_datums"], len(datums))
            seq = st.stats["accepted"]
            with open(st.record, "a", encoding="utf-8") as f:
                for d in datums:
                    d.update(req=seq, akid=akid, namespace=ns)
                    f.write(json.dumps(d, sort_keys=True) + "\n")
        self.reply(200,
                   '<PutMetricDataResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/">\n'
                   f"  <ResponseMetadata>\n    <RequestId>{uuid.uuid4()}</RequestId>\n"
                   "  </ResponseMetadata>\n</PutMetricDataResponse>\n")

    def injected_failure(self):
        st = self.server.state
        with st.lock:
            if not st.fail_mode or st.fail_count <= 0:
                return
            if st.fail_after > 0:
                st.fail_after -= 1
                return
            st.fail_count -= 1
            mode = st.fail_mode
        if mode == "throttle":
            raise AwsError(400, "Throttling", "Rate exceeded")
        if mode == "echo":  # a server that repeats the request's token back
            raise AwsError(400, "InvalidParameterValue",
                           "token " + self.headers.get("X-Amz-Security-Token", ""))
        if mode == "400":
            raise AwsError(400, "InvalidParameterValue", "injected rejection")
        if mode == "503":
            raise AwsError(503, "ServiceUnavailable", "injected outage", "Receiver")
        raise AwsError(500, "InternalFailure", "injected failure", "Receiver")

    def check_signature(self, body):
        st = self.server.state
        auth = self.headers.get("Authorization")
        if not auth:
            raise AwsError(403, "MissingAuthenticationToken",
                           "Request is missing Authentication Token")
        m = AUTH_RE.match(auth.strip())
        if not m:
            raise AwsError(400, "IncompleteSignature",
                           "Authorization header requires Credential, SignedHeaders, Signature.")
        akid, date, region, service, signed, signature = m.groups()
        signed_names = signed.split(";")
        if signed_names != sorted(set(signed_names)):
            raise AwsError(403, "SignatureDoesNotMatch", "SignedHeaders must be sorted and unique.")
        for need in ("host", "x-amz-date"):
            if need not in signed_names:
                raise AwsError(403, "SignatureDoesNotMatch", f"'{need}' must be a signed header.")
        amz_date = self.headers.get("X-Amz-Date", "")
        try:
            t = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(
                tzinfo=datetime.timezone.utc)
        except ValueError:
            raise AwsError(400, "IncompleteSignature", "X-Amz-Date is missing or malformed.")
        now = datetime.datetime.now(datetime.timezone.utc)
        if abs(now - t) > MAX_SKEW:
            raise AwsError(403, "SignatureDoesNotMatch",
                           f"Signature expired: {amz_date} is outside the 15 minute window.")
        if date != amz_date[:8]:
            raise AwsError(403, "SignatureDoesNotMatch",
                           "Credential date does not match X-Amz-Date.")
        if akid not in st.creds:
            raise AwsError(403, "InvalidClientTokenId",
                           "The security token included in the request is invalid.")
        secret, token = st.creds[akid]
        if token is not None or "X-Amz-Security-Token" in self.headers:
            if self.headers.get("X-Amz-Security-Token") != token:
                raise AwsError(403, "InvalidClientTokenId",
                               "The security token included in the request is invalid.")
        if region != st.region:
            raise AwsError(403, "SignatureDoesNotMatch",
                           f"Credential should be scoped to a valid region, not '{region}'.")
        if service != SERVICE:
            raise AwsError(403, "SignatureDoesNotMatch",
                           f"Credential should be scoped to correct service: '{SERVICE}'.")
        declared = self.headers.get("X-Amz-Content-SHA256")
        if declared is not None and declared != hashlib.sha256(body).hexdigest():
            raise AwsError(400, "XAmzContentSHA256Mismatch",
                           "The provided 'x-amz-content-sha256' header does not match.")
        headers = {}
        for name in signed_names:
            values = self.headers.get_all(name)
            if values is None:
                raise AwsError(403, "SignatureDoesNotMatch", f"Signed header '{name}' is missing.")
            headers[name] = ",".join(values)
        # The request as received, signed again by botocore: only the
        # headers named in SignedHeaders, the body, and the client's date.
        req = AWSRequest(method=self.command, url="http://" + headers["host"] + self.path,
                         data=body, headers=headers)
        req.context["timestamp"] = amz_date
        signer = SigV4Auth(Credentials(akid, secret, token), SERVICE, region)
        canonical = signer.canonical_request(req)
        expected = signer.signature(signer.string_to_sign(req, canonical), req)
        if not hmac.compare_digest(expected, signature):
            self.log_message("canonical request we computed:\n%s", canonical)
            raise AwsError(403, "SignatureDoesNotMatch",
                           "The request signature we calculated does not match the signature "
                           "you provided. Check your AWS Secret Access Key and signing method. "
                           "Consult the service documentation for details.")
        return akid

    def check_params(self, body):
        ctype = self.headers.get("Content-Type", "")
        if ctype.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
            raise AwsError(400, "InvalidParameterValue", f"Unsupported Content-Type '{ctype}'.")
        if len(body) > MAX_BODY:
            raise AwsError(413, "RequestEntityTooLarge",
                           f"Request size {len(body)} exceeded {MAX_BODY} bytes")
        try:
            text = body.decode("ascii")  # a form body is percent-encoded ASCII
            pairs = urllib.parse.parse_qsl(text, keep_blank_values=True, strict_parsing=True,
                                           errors="strict")
        except (UnicodeDecodeError, ValueError) as e:
            raise AwsError(400, "MalformedQueryString", f"The body is not a valid form: {e}")
        for pair in text.split("&"):
            k, _, v = pair.partition("=")
            if re.search(r"%(?![0-9A-F]{2})|[^A-Za-z0-9\-_.~%]", k + v):
                raise AwsError(400, "MalformedQueryString",
                               f"'{pair[:80]}' is not percent-encoded per RFC 3986.")
        params = {}
        for k, v in pairs:
            if k in params:
                raise AwsError(400, "InvalidParameterValue", f"Parameter {k} given twice.")
            params[k] = v
        if params.pop("Action", None) != "PutMetricData":
            raise AwsError(400, "InvalidAction", "The action is not valid for this endpoint.")
        if params.pop("Version", None) != VERSION:
            raise AwsError(400, "NoSuchVersion", f"Version must be {VERSION}.")
        ns = params.pop("Namespace", None)
        if not ns:
            raise AwsError(400, "MissingParameter", "The parameter Namespace is required.")
        if (len(ns) > 255 or ns.startswith("AWS/") or ns.startswith(":")
                or any(ord(c) < 32 or ord(c) > 126 for c in ns)):
            raise AwsError(400, "InvalidParameterValue",
                           f"The value {ns} for parameter Namespace is invalid.")
        members = {}
        for k, v in params.items():
            m = DATUM_RE.match(k)
            if not m:
                raise AwsError(400, "InvalidParameterValue", f"Unknown parameter {k}.")
            members.setdefault(int(m.group(1)), {})[m.group(2)] = v
        if not members:
            raise AwsError(400, "MissingParameter", "The parameter MetricData is required.")
        if len(members) > MAX_DATUMS:
            raise AwsError(400, "InvalidParameterValue",
                           f"The collection MetricData must not have a size greater than "
                           f"{MAX_DATUMS}.")
        contiguous(list(members), "MetricData")
        now = datetime.datetime.now(datetime.timezone.utc)
        return [self.check_datum(i, members[i], now) for i in sorted(members)], ns

    def check_datum(self, i, d, now):
        p = f"MetricData.member.{i}"
        name = d.pop("MetricName", None)
        if not name or len(name) > 255:
            raise AwsError(400, "MissingParameter", f"The parameter {p}.MetricName is required.")
        dims = {}
        for k in list(d):
            m = DIM_RE.match(k)
            if m:
                dims.setdefault(int(m.group(1)), {})[m.group(2)] = d.pop(k)
        if len(dims) > MAX_DIMENSIONS:
            raise AwsError(400, "InvalidParameterValue",
                           f"The collection {p}.Dimensions must not have a size greater than "
                           f"{MAX_DIMENSIONS}.")
        contiguous(list(dims), f"{p}.Dimensions")
        dim_list = []
        for j in sorted(dims):
            dn, dv = dims[j].get("Name"), dims[j].get("Value")
            if not dn or len(dn) > 255 or dv is None or not 1 <= len(dv) <= 1024:
                raise AwsError(400, "InvalidParameterValue",
                               f"{p}.Dimensions.member.{j} needs a Name (1-255) and a Value "
                               f"(1-1024 characters).")
            if any(dn == x[0] for x in dim_list):
                raise AwsError(400, "InvalidParameterValue",
                               f"{p}.Dimensions has the name '{dn}' twice.")
            dim_list.append([dn, dv])
        raw = d.pop("Value", None)
        if raw is None:
            raise AwsError(400, "MissingParameter", f"The parameter {p}.Value is required.")
        try:
            value = float(raw)
        except ValueError:
            raise AwsError(400, "InvalidParameterValue",
                           f"The value {raw} for parameter {p}.Value is invalid.")
        if (not math.isfinite(value) or abs(value) > VALUE_MAX
                or (value != 0 and abs(value) < VALUE_MIN)):
            raise AwsError(400, "InvalidParameterValue",
                           f"The value {raw} for parameter {p}.Value is not a valid number.")
        ts_raw = d.pop("Timestamp", None)
        ts = None
        if ts_raw is not None:
            ts = parse_timestamp(ts_raw)
            if ts is None:
                raise AwsError(400, "InvalidParameterValue",
                               f"The value {ts_raw} for parameter {p}.Timestamp is invalid.")
            if ts < now - MAX_PAST:
                raise AwsError(400, "InvalidParameterValue",
                               f"The parameter {p}.Timestamp must specify a time no more than "
                               f"two weeks in the past.")
            if ts > now + MAX_FUTURE:
                raise AwsError(400, "InvalidParameterValue",
                               f"The parameter {p}.Timestamp must specify a time no more than "
                               f"two hours in the future.")
        unit = d.pop("Unit", None)
        if unit is not None and unit not in UNITS:
            raise AwsError(400, "InvalidParameterValue",
                           f"The value {unit} for parameter {p}.Unit is invalid.")
        res = d.pop("StorageResolution", None)
        if res is not None and res not in ("1", "60"):
            raise AwsError(400, "InvalidParameterValue",
                           f"The value {res} for parameter {p}.StorageResolution is invalid.")
        if d:
            raise AwsError(400, "InvalidParameterValue",
                           f"Unknown parameter {p}.{sorted(d)[0]}.")
        ts_ms = None
        if ts is not None:
            epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
            ts_ms = (ts - epoch) // datetime.timedelta(milliseconds=1)
        return {"name": name, "dims": dim_list, "value": value, "value_raw": raw,
                "ts": ts_raw, "ts_ms": ts_ms, "unit": unit}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--record", required=True)
    ap.add_argument("--cred", action="append", default=[], required=True)
    args = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    srv.state = State(args)
    port = srv.server_address[1]
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(f"{port}\n")
        os.rename(args.port_file + ".tmp", args.port_file)
    print(port, flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
