"""The model registry and endpoints through the SageMaker API: one boto3 code path for AWS and local.

`client` makes the clients (the backend only moves the endpoint URL), `gate` decides a
challenger's status, `packages` and `deployment` build and send the API's requests,
`artifacts` fetches and verifies model.tar.gz, `registration` is the register step's core.
"""
