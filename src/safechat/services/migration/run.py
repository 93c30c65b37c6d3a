"""The migration's order: users, then each group's messages, read state and, last, the
group itself (with its lastSeq), so an interrupted run never leaves a group that claims
messages it does not have. Every write is keyed by the source's ids and every value is
derived from the source alone: a second run, or one after an interruption, writes only
what is missing and ends with the same database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import structlog
from bson import ObjectId

from safechat.services.encryption import Encryptor
from safechat.services.migration.media import Bucket
from safechat.services.migration.messages import Converted, Converter
from safechat.services.migration.ports import Doc, MigrationTarget, NodeSource, Progress
from safechat.services.migration.reads import ReadMarks
from safechat.services.migration.records import Invalid, PlannedGroup, UserIds, group_plan, user_doc
from safechat.services.migration.report import MigrationReport

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class _Run:
    source: NodeSource
    target: MigrationTarget
    progress: Progress
    converter: Converter
    batch: int
    report: MigrationReport
    pending: list[Converted] = field(default_factory=list)


async def migrate(
    source: NodeSource,
    target: MigrationTarget,
    enc: Encryptor,
    bucket: Bucket,
    progress: Progress,
    *,
    batch: int = 500,
    dry_run: bool = False,
) -> MigrationReport:
    ids = UserIds()
    run = _Run(
        source,
        target,
        progress,
        Converter(enc, bucket, ids),
        max(1, batch),
        MigrationReport(dry_run),
    )
    try:
        await _users(run, ids)
        plans = await _plans(run, ids)
        progress.stage("messages", await source.count("messages"))
        for plan in plans:
            await _group(run, plan)
        orphans = await source.count_orphans([p.id for p in plans])
        if orphans:
            log.warning("migration_orphaned_messages", count=orphans)
            run.report.add("messages", "orphaned", orphans)
            progress.advance(orphans)
    finally:
        progress.close()
    return run.report


async def _users(run: _Run, ids: UserIds) -> None:
    run.progress.stage("users", await run.source.count("users"))
    chunk: list[Doc] = []

    async def flush() -> None:
        for outcome in await run.target.put_users(chunk):
            run.report.add("users", outcome)
        run.progress.advance(len(chunk))
        chunk.clear()

    seen: set[str] = set()
    async for src in run.source.users():
        try:
            doc = user_doc(src, ids)
            if doc["clerkId"] in seen:
                raise Invalid("a second user with this clerkId (the first one is kept)")
        except Invalid as exc:
            log.warning("migration_user_skipped", id=str(src.get("_id")), reason=str(exc))
            run.report.add("users", "invalid")
            run.progress.advance(1)
        else:
            seen.add(doc["clerkId"])
            chunk.append(doc)
        if len(chunk) >= run.batch:
            await flush()
    await flush()


async def _plans(run: _Run, ids: UserIds) -> list[PlannedGroup]:
    plans = []
    async for src in run.source.groups():
        try:
            plans.append(group_plan(src, ids))
        except Invalid as exc:
            log.warning("migration_group_skipped", id=str(src.get("_id")), reason=str(exc))
            run.report.add("groups", "invalid")
    return plans


async def _group(run: _Run, plan: PlannedGroup) -> None:
    report = run.report
    last_seq, existing = await run.target.group_state(plan.id)
    if last_seq is not None and await _used_since(run, plan, last_seq, set(existing)):
        # Used on SafeChat since it was migrated: rewriting it would lose those messages.
        in_source = await run.source.count_messages(plan.id)
        log.warning("migration_group_changed_in_safechat", group_id=plan.gid)
        report.add("groups", "changed_in_safechat")
        report.add("messages", "changed_in_safechat", in_source)
        run.progress.advance(in_source)
        return
    marks = ReadMarks(plan.members)
    seq = 0
    last_at: datetime | None = None
    async for src in run.source.messages(plan.id):
        try:
            converted = run.converter.convert(src, plan.id, seq + 1)
        except Invalid as exc:
            log.warning("migration_message_skipped", id=str(src.get("_id")), reason=str(exc))
            report.add("messages", "invalid")
            run.progress.advance(1)
            continue
        seq += 1
        last_at = converted.doc["createdAt"]
        marks.add(seq, converted.readers)
        _count_content(report, converted)
        await _place(run, converted, existing.pop(converted.doc["_id"], None))
    await _flush(run)
    if existing:
        log.warning("migration_group_has_other_messages", group_id=plan.gid, count=len(existing))
        report.add("groups", "changed_in_safechat")
        return
    await run.target.put_read_marks(plan.id, marks.marks())
    report.add("read_state", "marks", len(marks.last_read))
    doc = {**plan.doc, "lastSeq": seq}
    if last_at is not None:
        doc["lastMessageAt"] = last_at
    report.add("groups", await run.target.put_group(doc))
    if plan.owner_source != "creator":
        report.add("groups", f"owner_from_{plan.owner_source.removeprefix('earliest_')}")
    if not doc["isActive"]:
        report.add("groups", "inactive")


async def _used_since(run: _Run, plan: PlannedGroup, last_seq: int, stored: set[ObjectId]) -> bool:
    """A group already in SafeChat (an earlier run, or clients since): has it seqs or
    messages the source does not account for? One extra read of its ids, on re-runs only."""
    ids: set[ObjectId] = set()
    async for src in run.source.messages(plan.id):
        try:
            run.converter.sender(src)
        except Invalid:
            continue
        ids.add(src["_id"])
    return last_seq > len(ids) or not stored <= ids


def _count_content(report: MigrationReport, converted: Converted) -> None:
    report.add("content", converted.content)
    if converted.media is not None:
        report.add("media", converted.media)


async def _place(run: _Run, converted: Converted, stored_seq: int | None) -> None:
    if stored_seq is None:
        run.pending.append(converted)
        if len(run.pending) >= run.batch:
            await _flush(run)
        return
    if stored_seq == converted.doc["seq"]:
        run.report.add("messages", "already_present")
    else:
        log.warning("migration_seq_conflict", id=str(converted.doc["_id"]), stored=stored_seq)
        run.report.add("messages", "conflict")
    run.progress.advance(1)


async def _flush(run: _Run) -> None:
    if not run.pending:
        return
    records = [c.media_record for c in run.pending if c.media_record is not None]
    if records:
        await run.target.put_media(records)
    refused = await run.target.insert_messages([c.doc for c in run.pending])
    if refused:
        log.warning("migration_messages_refused", count=refused)
    run.report.add("messages", "inserted", len(run.pending) - refused)
    run.report.add("messages", "conflict", refused)
    run.progress.advance(len(run.pending))
    run.pending.clear()
