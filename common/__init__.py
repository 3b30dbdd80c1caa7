"""Shared foundations of the aurora-logs services: settings, logging, errors, clients, events."""
