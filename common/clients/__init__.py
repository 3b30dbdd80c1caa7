"""Factories for the clients of the services' dependencies, configured from settings."""
