"""Per-invocation isolation for handlers that share one process (Lambda gives each its own).

- environment.py: each invocation sees only its function's environment (os.environ);
- log_keys.py: Powertools log keys appended in one invocation stay in that invocation.
Both key on a contextvar the adapter sets for the invocation's thread.
"""
