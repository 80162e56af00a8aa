"""Step Functions Local's interfaces over the local engine: `crawlmap serve` (server.py), the
MockConfigFile (mock_config.py), a Lambda Invoke endpoint (lambda_endpoint.py) and a helper
for tests (testing.py). README: "Testing your state machine"."""
