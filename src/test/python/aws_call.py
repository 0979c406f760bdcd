"""One call of the AWS API through boto3, as a user's script makes it; the tests run this.

Usage: aws_call.py ENDPOINT CA_FILE ACCESS_KEY SECRET_KEY SERVICE OPERATION [JSON_ARGUMENTS]

OPERATION "wait:NAME" runs boto3's waiter NAME (such as wait:instance_running) with the
arguments, polling every 2 seconds for up to 3 minutes.

Prints one JSON line: {"response": ...} without boto3's ResponseMetadata, or
{"error": {"Code": ..., "Message": ...}, "status": HTTP status} for a refused call. boto3 does not
retry, so that every answer the endpoint gives is seen.
"""
import json
import sys

import boto3
import botocore.config
import botocore.exceptions


def main():
    endpoint, ca_file, key, secret, service, operation = sys.argv[1:7]
    arguments = json.loads(sys.argv[7]) if len(sys.argv) > 7 else {}
    client = boto3.client(
        service,
        endpoint_url=endpoint,
        verify=ca_file,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=botocore.config.Config(retries={"total_max_attempts": 1}),
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
