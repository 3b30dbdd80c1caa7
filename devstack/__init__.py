"""The local stack for tests, `make run` and manual work: Kafka, Valkey, moto as processes."""
