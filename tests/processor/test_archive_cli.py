"""``aurora-logs raw-restore`` against moto's S3: a file's bytes back, overlaps dropped, a gap
reported."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from common.cli import main
from common.clients.aws import AwsClients
from common.settings import AwsSettings
from processor.archive import RawArchive

pytestmark = pytest.mark.integration

INSTANCE, IDENTITY, LOG_FILE = "db-1", "slowquery/mysql-slowquery.log@2", "slowquery/x.log"


def _archive(
    moto_url: str, bucket: str, segments: list[tuple[int, bytes]], *, create: bool = True
) -> None:
    async def put() -> None:
        async with AwsClients(AwsSettings(endpoint_url=moto_url)).s3() as s3:
            if create:
                await s3.create_bucket(Bucket=bucket)
            archive = RawArchive(s3, bucket=bucket, prefix="raw/")
            for start, data in segments:
                await archive.put(INSTANCE, IDENTITY, LOG_FILE, start, data)

    asyncio.run(put())


def _restore(monkeypatch: pytest.MonkeyPatch, bucket: str, output: Path) -> int:
    monkeypatch.setenv("AURORA_S3__BUCKET", bucket)
    argv = ["raw-restore", "--instance", INSTANCE, "--identity", IDENTITY, "--output"]
    return main([*argv, str(output)])


def test_segments_join_into_the_file(
    aws_environ: dict[str, str],
    moto_url: str,
    unique_name: Callable[[str], str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    content = b"".join(b"line %d\n" % n for n in range(5000))
    bucket = unique_name("raw")
    # Three segments; the second was archived twice (a crash before its checkpoint), the
    # second time longer.
    _archive(
        moto_url,
        bucket,
        [(0, content[:10_000]), (10_000, content[10_000:15_000]), (10_000, content[10_000:20_000])],
    )
    _archive(moto_url, bucket, [(20_000, content[20_000:])], create=False)
    output = tmp_path / "restored.log"
    assert _restore(monkeypatch, bucket, output) == 0
    assert output.read_bytes() == content


def test_a_gap_or_nothing_is_an_error(
    aws_environ: dict[str, str],
    moto_url: str,
    unique_name: Callable[[str], str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bucket = unique_name("raw")
    _archive(moto_url, bucket, [(0, b"a\n" * 100), (500, b"b\n" * 100)])
    assert _restore(monkeypatch, bucket, tmp_path / "gap.log") == 1
    assert "bytes 200-500 are not archived" in capsys.readouterr().err
    assert (tmp_path / "gap.log").read_bytes() == b"a\n" * 100  # what comes before the gap

    empty = unique_name("empty")
    _archive(moto_url, empty, [])
    assert _restore(monkeypatch, empty, tmp_path / "none.log") == 1
    assert "nothing archived" in capsys.readouterr().err
