"""The tracking table (DynamoDB ``aurora-log-tracking``): one item per log file generation.

Key: ``pk`` = instance id, ``sk`` = file identity (see :class:`TrackedFile`). Two writers share
an item and never overwrite each other:

- discovery owns the *observation*: the name the file has now, its size and LastWritten as last
  seen, what was published to Kafka, the status and the TTL. Its writes are conditional on
  ``disc_version`` (optimistic concurrency) and on the lease's fencing token ``fence`` (a
  replica that lost its lease can no longer write, even if it has not noticed yet).
- the processor owns the *checkpoint*: the byte offset up to which records were durably
  delivered, the RDS marker for that offset and the parser's carry-over state. Its writes are
  conditional on ``ckpt_version``.

Each writer's update names only its own attributes, so the two never race each other; each
one's condition makes a concurrent writer of the same role fail with
:class:`~common.errors.ConflictError` instead of silently overwriting.

Items of files that are gone (deleted, lost, or rotated and fully read) get ``expires_at`` so
DynamoDB's TTL removes them after ``item_ttl_s``. Production tables are created by
infrastructure code with the same key schema (see README, "Tracking table"); development
creates it on start-up when ``create_table_if_missing`` is set.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from common.errors import ConflictError, from_aws_error

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient

__all__ = [
    "Checkpoint",
    "FileStatus",
    "Observation",
    "TrackedFile",
    "TrackingTable",
]

FileStatus = Literal["active", "rotated", "deleted", "lost"]

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


@dataclass(frozen=True)
class Checkpoint:
    """How far the processor has durably delivered a file's records.

    ``offset``: every byte before it is delivered (the parser's final offset). ``marker``: an
    RDS portion marker known to point at byte ``marker_offset`` (a page boundary at or before
    ``offset``); markers are opaque, so a reader resumes at the marker and skips to ``offset``.
    ``parser_state``: the parser's carry-over context for resuming at ``offset``.
    """

    offset: int = 0
    marker: str | None = None
    marker_offset: int = 0
    # The last line before ``anchor_end`` (length and BLAKE2b digest): what a reader compares
    # when it reads on, to tell the same content from new content under the same name.
    anchor_end: int = 0
    anchor_length: int = 0
    anchor_digest: str = ""
    parser_state: str = ""
    version: int = 0
    updated_at_ms: int = 0


@dataclass(frozen=True)
class Observation:
    """What discovery last saw of a file and what it published."""

    cluster_id: str
    engine: str
    engine_version: str
    log_file: str
    log_kind: str
    status: FileStatus = "active"
    first_seen_ms: int = 0
    last_seen_ms: int = 0
    seen_size: int = 0
    seen_last_written_ms: int = 0
    published_size: int = -1
    published_at_ms: int = 0
    lost_bytes: int = 0
    # Names this generation had before, oldest first (rename rotation).
    previous_names: tuple[str, ...] = ()
    # The name and status the last confirmed event carried (a rename or a rotation is news
    # for the processor even when the size did not change).
    published_file: str = ""
    published_status: str = ""
    version: int = 0
    fence: int = 0
    expires_at_s: int | None = None


@dataclass(frozen=True)
class TrackedFile:
    """One generation of one log file of one instance.

    ``identity`` names the *content*, not the file name: a file renamed by rotation keeps its
    identity (and so its checkpoint), while a name reused for new content gets a new one.
    """

    instance_id: str
    identity: str
    observation: Observation
    checkpoint: Checkpoint = field(default_factory=Checkpoint)

    @property
    def unread_bytes(self) -> int:
        """Bytes seen by discovery and not yet durably delivered (never negative)."""
        return max(0, self.observation.seen_size - self.checkpoint.offset)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _to_item(file: TrackedFile) -> dict[str, Any]:
    observation = asdict(file.observation)
    observation["previous_names"] = list(file.observation.previous_names)
    item: dict[str, Any] = {"pk": file.instance_id, "sk": file.identity}
    for name, value in observation.items():
        if name == "version":
            item["disc_version"] = value
        elif name == "expires_at_s":
            if value is not None:
                item["expires_at"] = value
        elif value is not None:
            item[name] = value
    checkpoint = file.checkpoint
    item.update(
        ckpt_offset=checkpoint.offset,
        ckpt_marker_offset=checkpoint.marker_offset,
        ckpt_anchor_end=checkpoint.anchor_end,
        ckpt_anchor_length=checkpoint.anchor_length,
        ckpt_anchor_digest=checkpoint.anchor_digest,
        ckpt_parser_state=checkpoint.parser_state,
        ckpt_version=checkpoint.version,
        ckpt_at_ms=checkpoint.updated_at_ms,
    )
    if checkpoint.marker is not None:
        item["ckpt_marker"] = checkpoint.marker
    return item


def _from_item(raw: dict[str, Any]) -> TrackedFile:
    item = {name: _deserializer.deserialize(value) for name, value in raw.items()}

    def integer(name: str, default: int = 0) -> int:
        value = item.get(name)
        return int(value) if value is not None else default

    observation = Observation(
        cluster_id=str(item.get("cluster_id", "")),
        engine=str(item.get("engine", "")),
        engine_version=str(item.get("engine_version", "")),
        log_file=str(item.get("log_file", "")),
        log_kind=str(item.get("log_kind", "")),
        status=item.get("status", "active"),
        first_seen_ms=integer("first_seen_ms"),
        last_seen_ms=integer("last_seen_ms"),
        seen_size=integer("seen_size"),
        seen_last_written_ms=integer("seen_last_written_ms"),
        published_size=integer("published_size", -1),
        published_at_ms=integer("published_at_ms"),
        lost_bytes=integer("lost_bytes"),
        previous_names=tuple(str(name) for name in item.get("previous_names", [])),
        published_file=str(item.get("published_file", "")),
        published_status=str(item.get("published_status", "")),
        version=integer("disc_version"),
        fence=integer("fence"),
        expires_at_s=int(item["expires_at"]) if "expires_at" in item else None,
    )
    marker = item.get("ckpt_marker")
    checkpoint = Checkpoint(
        offset=integer("ckpt_offset"),
        marker=str(marker) if marker is not None else None,
        marker_offset=integer("ckpt_marker_offset"),
        anchor_end=integer("ckpt_anchor_end"),
        anchor_length=integer("ckpt_anchor_length"),
        anchor_digest=str(item.get("ckpt_anchor_digest", "")),
        parser_state=str(item.get("ckpt_parser_state", "")),
        version=integer("ckpt_version"),
        updated_at_ms=integer("ckpt_at_ms"),
    )
    return TrackedFile(str(item["pk"]), str(item["sk"]), observation, checkpoint)


def _attributes(values: dict[str, Any]) -> dict[str, Any]:
    return {name: _serializer.serialize(value) for name, value in values.items()}


_OBSERVATION_FIELDS = (
    "cluster_id",
    "engine",
    "engine_version",
    "log_file",
    "log_kind",
    "status",
    "first_seen_ms",
    "last_seen_ms",
    "seen_size",
    "seen_last_written_ms",
    "published_size",
    "published_at_ms",
    "lost_bytes",
    "previous_names",
    "published_file",
    "published_status",
)


class TrackingTable:
    """Typed, conditional access to the tracking table. Every method makes one DynamoDB call."""

    def __init__(self, client: DynamoDBClient, table: str, *, item_ttl_s: int) -> None:
        self._client = client
        self.table = table
        self._item_ttl_s = item_ttl_s

    async def ensure_table(self) -> bool:
        """Create the table (on-demand billing, TTL on ``expires_at``) if missing; True if created.

        Development only: production tables come from infrastructure code. Blocks until the
        table is ACTIVE.
        """
        try:
            await self._client.describe_table(TableName=self.table)
            return False
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise from_aws_error(exc) from exc
        try:
            await self._client.create_table(
                TableName=self.table,
                KeySchema=[
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                AttributeDefinitions=[
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "S"},
                ],
                BillingMode="PAY_PER_REQUEST",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceInUseException":
                return False  # another replica created it a moment ago
            raise from_aws_error(exc) from exc
        waiter = self._client.get_waiter("table_exists")
        await waiter.wait(TableName=self.table, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        await self._client.update_time_to_live(
            TableName=self.table,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"},
        )
        return True

    async def get(self, instance_id: str, identity: str) -> TrackedFile | None:
        """The item, read consistently, or None."""
        try:
            answer = await self._client.get_item(
                TableName=self.table,
                Key=_attributes({"pk": instance_id, "sk": identity}),
                ConsistentRead=True,
            )
        except ClientError as exc:
            raise from_aws_error(exc) from exc
        raw = answer.get("Item")
        return _from_item(dict(raw)) if raw else None

    async def files_of(self, instance_id: str) -> list[TrackedFile]:
        """Every tracked generation of one instance (paginated Query, consistent read)."""
        return await self._read_pages(
            self._client.query,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=_attributes({":pk": instance_id}),
        )

    async def all_files(self) -> list[TrackedFile]:
        """Every tracked generation of every instance (paginated Scan, consistent read).

        For operators' views (``aurora-logs status``, ``make run``): a Scan reads the whole
        table, so the services never call it.
        """
        return await self._read_pages(self._client.scan)

    async def _read_pages(self, operation: Any, **request: Any) -> list[TrackedFile]:
        """Every item a Query or Scan (``operation``) returns, page after page, read
        consistently."""
        files: list[TrackedFile] = []
        start: dict[str, Any] | None = None
        while True:
            kwargs: dict[str, Any] = {"TableName": self.table, "ConsistentRead": True, **request}
            if start is not None:
                kwargs["ExclusiveStartKey"] = start
            try:
                answer = await operation(**kwargs)
            except ClientError as exc:
                raise from_aws_error(exc) from exc
            files.extend(_from_item(dict(raw)) for raw in answer.get("Items", []))
            start = answer.get("LastEvaluatedKey")
            if not start:
                return files

    async def create(self, file: TrackedFile) -> TrackedFile:
        """Insert a new generation; raises :class:`ConflictError` if the identity exists."""
        created = replace(file, observation=replace(file.observation, version=1))
        try:
            await self._client.put_item(
                TableName=self.table,
                Item=_attributes(_to_item(created)),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            raise _conflict_or(exc, f"{file.instance_id}/{file.identity} already tracked") from exc
        return created

    async def observe(self, file: TrackedFile, observation: Observation) -> TrackedFile:
        """Replace the observation of ``file`` (as read) with ``observation``.

        Conditional on the version read and on the writer's fencing token (``observation.fence``)
        being at least the one stored. Raises :class:`ConflictError` when another writer got
        there first or a newer lease holder has written. ``expires_at_s`` is set from the TTL
        for files whose content is no longer needed.
        """
        expected = file.observation.version
        new = replace(observation, version=expected + 1)
        if new.status in {"deleted", "lost"} and new.expires_at_s is None:
            new = replace(new, expires_at_s=int(time.time()) + self._item_ttl_s)
        values = {name: getattr(new, name) for name in _OBSERVATION_FIELDS}
        values["previous_names"] = list(new.previous_names)
        names = {f"#{name}": name for name in values}
        assignments = [f"#{name} = :{name}" for name in values]
        attribute_values = {f":{name}": value for name, value in values.items()}
        assignments += ["disc_version = :next", "fence = :fence"]
        attribute_values.update({":next": new.version, ":expected": expected, ":fence": new.fence})
        expression = "SET " + ", ".join(assignments)
        if new.expires_at_s is not None:
            expression += ", expires_at = :expires"
            attribute_values[":expires"] = new.expires_at_s
        try:
            await self._client.update_item(
                TableName=self.table,
                Key=_attributes({"pk": file.instance_id, "sk": file.identity}),
                UpdateExpression=expression,
                ConditionExpression=(
                    "disc_version = :expected AND (attribute_not_exists(fence) OR fence <= :fence)"
                ),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=_attributes(attribute_values),
            )
        except ClientError as exc:
            raise _conflict_or(
                exc, f"{file.instance_id}/{file.identity}: observation changed or fenced"
            ) from exc
        return replace(file, observation=new)

    async def save_checkpoint(
        self, instance_id: str, identity: str, previous: Checkpoint, new: Checkpoint
    ) -> Checkpoint:
        """Record ``new`` as the durable checkpoint if the stored one is still ``previous``.

        Raises :class:`ConflictError` when another processor moved the checkpoint meanwhile
        (a rebalance overlap) or the item is gone: the caller must re-read before going on.
        """
        saved = replace(new, version=previous.version + 1, updated_at_ms=_now_ms())
        values: dict[str, Any] = {
            ":offset": saved.offset,
            ":marker_offset": saved.marker_offset,
            ":anchor_end": saved.anchor_end,
            ":anchor_length": saved.anchor_length,
            ":anchor_digest": saved.anchor_digest,
            ":state": saved.parser_state,
            ":next": saved.version,
            ":at": saved.updated_at_ms,
            ":expected": previous.version,
        }
        expression = (
            "SET ckpt_offset = :offset, ckpt_marker_offset = :marker_offset, "
            "ckpt_anchor_end = :anchor_end, ckpt_anchor_length = :anchor_length, "
            "ckpt_anchor_digest = :anchor_digest, "
            "ckpt_parser_state = :state, "
            "ckpt_version = :next, ckpt_at_ms = :at"
        )
        if saved.marker is not None:
            expression += ", ckpt_marker = :marker"
            values[":marker"] = saved.marker
        else:
            expression += " REMOVE ckpt_marker"
        condition = "attribute_exists(pk) AND ckpt_version = :expected"
        try:
            await self._client.update_item(
                TableName=self.table,
                Key=_attributes({"pk": instance_id, "sk": identity}),
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeValues=_attributes(values),
            )
        except ClientError as exc:
            raise _conflict_or(exc, f"{instance_id}/{identity}: checkpoint moved") from exc
        return saved


def _conflict_or(exc: ClientError, message: str) -> Exception:
    translated = from_aws_error(exc)
    if isinstance(translated, ConflictError):
        return ConflictError(message)
    return translated
