#!/usr/bin/python3
"""The independent side of decant's SigV4 check: botocore (Debian's python3-botocore)
builds, serializes and signs S3 requests, and prints what it would send. Nothing goes on
the network: a before-send hook captures the request and answers it.

stdin: a JSON list of cases {"op": botocore operation name, "params": {...},
"addressing": "path"|"virtual", "endpoint": URL, "region": ..., "access_key", "secret_key",
"session_token" (optional)}.
stdout: a JSON list of {"method", "url", "headers": {lowercase name: value}}.
"""
import base64
import json
import sys

import botocore.session
from botocore.awsrequest import AWSResponse
from botocore.config import Config


class Captured(Exception):
    pass


def run(case):
    session = botocore.session.get_session()
    client = session.create_client(
        "s3",
        endpoint_url=case["endpoint"],
        region_name=case["region"],
        aws_access_key_id=case["access_key"],
        aws_secret_access_key=case["secret_key"],
        aws_session_token=case.get("session_token"),
        config=Config(s3={"addressing_style": case.get("addressing", "path")}, retries={"max_attempts": 1}),
    )
    seen = {}

    def capture(request, **_):
        seen["method"] = request.method
        seen["url"] = request.url
        seen["headers"] = {k.lower(): (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()}
        body = request.body
        if body is None:
            body = b""
        elif hasattr(body, "read"):
            body = body.read()
        elif isinstance(body, str):
            body = body.encode()
        seen["body_base64"] = base64.b64encode(body).decode()
        raise Captured()

    client.meta.events.register("before-send.s3", capture)
    params = dict(case["params"])
    if "Body" in params:
        params["Body"] = params["Body"].encode()
    try:
        getattr(client, case["op"])(**params)
    except Captured:
        pass
    return seen


print(json.dumps([run(case) for case in json.load(sys.stdin)]))
