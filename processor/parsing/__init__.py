"""Log parsing: raw bytes of Aurora MySQL and PostgreSQL log files in, OpenObserve records out.

The public surface, used by the processor and the ``aurora-logs parse`` command::

    parser = make_parser(detect_type(name) or sniff_type(head), settings, checkpoint=cp)
    records = parser.feed(page)      # as pages arrive; complete entries only
    records += parser.flush()        # when the file is closed or rotated
    cp = parser.checkpoint()         # store cp.to_json(); resume by feeding from cp.offset

Record schema, the non-UTF-8 rule and the resume contract: docs/records.md.
"""

from processor.parsing.detect import detect_type, sniff_type
from processor.parsing.factory import make_parser
from processor.parsing.fingerprint import fingerprint, pg_fingerprint, query_id, redact
from processor.parsing.options import ParsingSettings
from processor.parsing.records import LogType, Parser, ParserCheckpoint, Record

__all__ = [
    "LogType",
    "Parser",
    "ParserCheckpoint",
    "ParsingSettings",
    "Record",
    "detect_type",
    "fingerprint",
    "make_parser",
    "pg_fingerprint",
    "query_id",
    "redact",
    "sniff_type",
]
