"""Discovery service: finds Aurora log files, tracks them and publishes log-file events."""
