"""Real infrastructure for the integration and end-to-end tests.

`kafka.ApacheKafka`, `postgres.ThrowawayPostgres` (and `runtime.embedded.EmbeddedBroker`)
each run from a temp dir on free loopback ports and are stopped by PID, also at interpreter
exit, so a test session never touches a system-wide Kafka or PostgreSQL. A missing
prerequisite raises with the reason: the fixtures in tests/conftest.py turn that into a
failing test, never a skip, because CI always has them (`.ci/ensure-system-deps.sh`).
"""
