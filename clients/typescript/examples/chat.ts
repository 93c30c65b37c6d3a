// A minimal SafeChat client: connect with a token, load a group's history over REST,
// join it, send a message with an ack, and print the group's messages. Type-checked by the test suite with
// `tsc --strict --noEmit`; run it with e.g. `npx tsx examples/chat.ts` and
// SAFECHAT_URL, SAFECHAT_TOKEN and SAFECHAT_GROUP set.
import { io } from "socket.io-client";

import type { AckReply, ConnectErrorData, Message, SafeChatSocket, rest } from "../src/index.js";

const url = process.env.SAFECHAT_URL ?? "http://127.0.0.1:3001";
const token = process.env.SAFECHAT_TOKEN ?? "";
const groupId = process.env.SAFECHAT_GROUP ?? "";

const socket: SafeChatSocket = io(url, { auth: { token }, transports: ["websocket"] });

type History = rest.components["schemas"]["HistoryResponse"];
type RestError = { success: false; error: rest.components["schemas"]["ErrorDetail"] };

/** GET /api/messages/group/{groupId}: the newest messages, typed from the OpenAPI document. */
async function history(limit: number): Promise<History> {
  const res = await fetch(`${url}/api/messages/group/${groupId}?limit=${limit}`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  if (!res.ok) {
    const body = (await res.json()) as RestError;
    throw new Error(`${res.status} ${body.error.code}: ${body.error.message}`);
  }
  return (await res.json()) as History;
}

function show(message: Message): void {
  const text = message.isDeleted ? "(deleted)" : message.content;
  console.log(`[${message.seq}] ${message.senderId}: ${text}`);
}

socket.on("connect_error", (err) => {
  // A refused handshake carries the server's error in `data`.
  const data = (err as Error & { data?: ConnectErrorData }).data;
  console.error("refused:", data?.code ?? err.message);
});

socket.on("authentication_success", ({ user, sessionId }) => {
  console.log(`signed in as ${user.userId} (session ${sessionId})`);
});

socket.on("new_message", ({ message, sender }) => {
  console.log(`from ${sender.firstName ?? sender.userId}:`);
  show(message);
});
socket.on("message_edited", ({ message }) => show(message));
socket.on("message_deleted", ({ messageId }) => console.log(`deleted ${messageId}`));
socket.on("user_typing", ({ user }) => console.log(`${user.username ?? user.userId} is typing`));
socket.on("message_error", (error) => console.error(`${error.code}: ${error.message}`));

socket.on("connect", async () => {
  (await history(20)).messages.forEach(show);

  // The callback form: the reply is a union, narrowed on `ok`.
  socket.emit("join_group", { groupId }, (reply) => {
    if (!reply.ok) {
      console.error(`cannot join: ${reply.error.code}`);
      return;
    }
    console.log(`joined ${reply.group.name}: ${reply.onlineMembers.length} online`);
  });

  // The promise form.
  const sent: AckReply<"send_message"> = await socket.emitWithAck("send_message", {
    groupId,
    content: "Hello from TypeScript",
    tempId: `ts-${Date.now()}`,
  });
  if (sent.ok) {
    show(sent.message);
  } else if (sent.error.code === "RATE_LIMITED") {
    console.error("slow down", sent.error.details);
  } else {
    console.error(`not sent: ${sent.error.code} ${sent.error.message}`);
  }

  const caughtUp = await socket.emitWithAck("sync", { groupId, afterSeq: 0, limit: 50 });
  if (caughtUp.ok && "messages" in caughtUp) {
    caughtUp.messages.forEach(show);
  }
});
