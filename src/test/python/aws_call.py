"""One call of the AWS API through boto3, as a user's script makes it; the tests run this.

Usage: aws_call.py ENDPOINT CA_FILE ACCESS_KEY SECRET_KEY SERVICE OPERATION [JSON_ARGUMENTS [MODE]]

MODE sends what boto3 would refuse to, so that the endpoint's answer to it is seen: "unsigned"
(no signature at all), "expired" (signed with a clock 20 minutes behind) or "unvalidated"
(boto3's parameter validation off: missing and mistyped parameters go out as given).

OPERATION "wait:NAME" runs boto3's waiter NAME (such as wait:instance_running) with the
arguments, polling every 2 seconds for up to 3 minutes.

Prints one JSON line: {"response": ...} without boto3's ResponseMetadata, or
{"error": {"Code": ..., "Message": ...}, "status": HTTP status} for a refused call. boto3 does not
retry, so that every answer the endpoint gives is seen.
"""
import datetime
import json
import sys

import boto3
import botocore
import botocore.auth
import botocore.config
import botocore.exceptions


def main():
    endpoint, ca_file, key, secret, service, operation = sys.argv[1:7]
    arguments = json.loads(sys.argv[7]) if len(sys.argv) > 7 else {}
    mode = sys.argv[8] if len(sys.argv) > 8 else ""
    options = {"retries": {"total_max_attempts": 1}}
    if mode == "unsigned":
        options["signature_version"] = botocore.UNSIGNED
    if mode == "unvalidated":
        options["parameter_validation"] = False
    if mode == "expired":
        now = botocore.auth.get_current_datetime
        botocore.auth.get_current_datetime = lambda: now() - datetime.timedelta(minutes=20)
    client = boto3.client(
        service,
        endpoint_url=endpoint,
        verify=ca_file,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=botocore.config.Config(**options),
    )
    try:
        if operation.startswith("wait:"):
            waiter = operation[len("wait:"):]
            try:
                client.get_waiter(waiter).wait(
                    **arguments, WaiterConfig={"Delay": 2, "MaxAttempts": 90})
            except botocore.exceptions.WaiterError as e:
                print(json.dumps({"error": {"Code": "WaiterError", "Message": str(e),
                                            "LastResponse": e.last_response}, "status": 0},
                                 default=str))
                return
            print(json.dumps({"response": {"Waited": waiter}}))
            return
        response = getattr(client, operation)(**arguments)
        response.pop("ResponseMetadata", None)
        print(json.dumps({"response": response}, default=str))
    except botocore.exceptions.ClientError as e:
        print(json.dumps({"error": e.response["Error"],
                          "status": e.response["ResponseMetadata"]["HTTPStatusCode"]}))


if __name__ == "__main__":
    main()
