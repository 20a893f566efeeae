#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Reference SigV4 signatures from botocore for the station's signer test.

  fst-aws-sigv4-reference.py CASES.json    # prints one result per case, as JSON

Each case: method, url, body, headers (object), region, service, token (or null),
date (YYYYMMDDTHHMMSSZ), access_key, secret_key. The `s3` service is signed
with botocore's S3SigV4Auth (path as sent, X-Amz-Content-SHA256), every other
service with SigV4Auth. Exits 77 when botocore is not installed.
"""
import datetime
import json
import sys
from unittest import mock

try:
    import botocore
    import botocore.auth
    from botocore.auth import S3SigV4Auth, SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
except ImportError:
    print("botocore is not installed (Debian: python3-botocore)", file=sys.stderr)
    sys.exit(77)


def frozen_clock(when):
    if hasattr(botocore.auth, "get_current_datetime"):
        return mock.patch.object(botocore.auth, "get_current_datetime", lambda *a, **k: when)

    class _DT(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return when

    fake = mock.MagicMock(wraps=datetime)
    fake.datetime = _DT
    return mock.patch.object(botocore.auth, "datetime", fake)


def sign(case):
    when = datetime.datetime.strptime(case["date"], "%Y%m%dT%H%M%SZ")
    creds = Credentials(case["access_key"], case["secret_key"], case.get("token"))
    body = case.get("body", "").encode()
    req = AWSRequest(method=case["method"], url=case["url"], data=body,
                     headers=dict(case.get("headers", {})))
    cls = S3SigV4Auth if case["service"] == "s3" else SigV4Auth
    signer = cls(creds, case["service"], case["region"])
    with frozen_clock(when):
        signer.add_auth(req)
    auth = req.headers["Authorization"]
    del req.headers["Authorization"]
    cr = signer.canonical_request(req)
    sts = signer.string_to_sign(req, cr)
    return dict(canonical_request=cr, string_to_sign=sts,
                signature=auth.rsplit("Signature=", 1)[1], authorization=auth,
                botocore=botocore.__version__)


if __name__ == "__main__":
    cases = json.load(open(sys.argv[1]))
    print(json.dumps([sign(c) for c in cases], indent=1))
