"""Processor service: consumes log-file events, downloads, parses and ships log records."""
