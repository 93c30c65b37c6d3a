"""The `sessions` collection: one document per socket connection."""

from __future__ import annotations

from datetime import datetime

from pymongo import UpdateOne

from safechat.repositories.db import Database


class SessionRepository:
    def __init__(self, db: Database) -> None:
        self._c = db.collection("sessions")

    async def start(
        self,
        session_id: str,
        user_id: str,
        *,
        node_id: str,
        device_type: str,
        ip: str | None,
        user_agent: str | None,
        now: datetime,
    ) -> None:
        await self._c.insert_one(
            {
                "sessionId": session_id,
                "userId": user_id,
                "nodeId": node_id,
                "deviceType": device_type,
                "ip": ip,
                "userAgent": (user_agent or "")[:512],
                "connectedAt": now,
                "lastActivity": now,
                "endedAt": None,
            }
        )

    async def end(self, session_id: str, now: datetime) -> None:
        await self._c.update_one(
            {"sessionId": session_id, "endedAt": None}, {"$set": {"endedAt": now}}
        )

    async def end_many(self, ended: list[tuple[str, datetime]]) -> None:
        """Ends several sessions, each at its own time, in one round trip."""
        if ended:
            await self._c.bulk_write(
                [
                    UpdateOne({"sessionId": sid, "endedAt": None}, {"$set": {"endedAt": at}})
                    for sid, at in ended
                ],
                ordered=False,
            )

    async def end_node(self, node_id: str, now: datetime) -> int:
        """Close sessions a previous run of this node left open (crash, kill -9)."""
        result = await self._c.update_many(
            {"nodeId": node_id, "endedAt": None}, {"$set": {"endedAt": now}}
        )
        return result.modified_count

    async def delete_user(self, user_id: str) -> int:
        """The user's connection records (addresses, user agents): erased with them."""
        result = await self._c.delete_many({"userId": user_id})
        return result.deleted_count
