#!/usr/bin/env python3
"""Talks to the test S3 server (moto) with boto3, independently of drift-check's
own S3 client.

  s3_admin.py keys                     create the IAM user the tests use (moto checks
                                       signatures against IAM); prints ACCESS SECRET
  s3_admin.py put BUCKET DIR           create BUCKET if missing, upload every file of
                                       DIR under its relative path as the key
  s3_admin.py rm BUCKET KEY            delete one object
  s3_admin.py get BUCKET DIR           download every object into DIR (the benchmark's
                                       baseline, bench/sources)
  s3_admin.py revision BUCKET PREFIX IGNORE   source-controller's revision of what the
                                       bucket holds, computed here from its documented
                                       algorithm: sha256 of "<key> <etag>\\n" for the
                                       sorted keys (ETag without quotes); IGNORE: keys
                                       to leave out, comma-separated

Endpoint from DRIFT_CHECK_TEST_S3_URL; keys from DRIFT_CHECK_TEST_S3_ACCESS_KEY /
DRIFT_CHECK_TEST_S3_SECRET_KEY.
"""
import hashlib
import json
import os
import sys

import boto3


def client(service):
    return boto3.client(
        service,
        endpoint_url=os.environ["DRIFT_CHECK_TEST_S3_URL"],
        region_name="us-east-1",
        aws_access_key_id=os.environ.get("DRIFT_CHECK_TEST_S3_ACCESS_KEY", "bootstrap"),
        aws_secret_access_key=os.environ.get("DRIFT_CHECK_TEST_S3_SECRET_KEY", "bootstrap"),
    )


def main():
    cmd = sys.argv[1]
    if cmd == "keys":
        iam = client("iam")
        iam.create_user(UserName="flux")
        key = iam.create_access_key(UserName="flux")["AccessKey"]
        policy = {"Version": "2012-10-17",
                  "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        iam.put_user_policy(UserName="flux", PolicyName="all", PolicyDocument=json.dumps(policy))
        print(key["AccessKeyId"], key["SecretAccessKey"])
    elif cmd == "put":
        bucket, directory = sys.argv[2], sys.argv[3]
        s3 = client("s3")
        try:
            s3.create_bucket(Bucket=bucket)
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
        for root, _, files in os.walk(directory):
            for name in files:
                path = os.path.join(root, name)
                key = os.path.relpath(path, directory)
                with open(path, "rb") as f:
                    s3.put_object(Bucket=bucket, Key=key, Body=f.read())
    elif cmd == "get":
        bucket, directory = sys.argv[2], sys.argv[3]
        s3 = client("s3")
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                path = os.path.join(directory, obj["Key"])
                os.makedirs(os.path.dirname(path), exist_ok=True)
                s3.download_file(bucket, obj["Key"], path)
    elif cmd == "rm":
        client("s3").delete_object(Bucket=sys.argv[2], Key=sys.argv[3])
    elif cmd == "revision":
        bucket, prefix = sys.argv[2], sys.argv[3]
        ignore = set(filter(None, sys.argv[4].split(",")))
        s3 = client("s3")
        index = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                key = obj["Key"]
                if key.endswith("/") or key == ".sourceignore" or key in ignore:
                    continue
                index[key] = obj["ETag"].strip('"')
        h = hashlib.sha256()
        for key in sorted(index):
            h.update(f"{key} {index[key]}\n".encode())
        print("sha256:" + h.hexdigest())
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
