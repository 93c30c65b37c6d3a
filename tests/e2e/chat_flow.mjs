// End-to-end chat flow driven by the official socket.io-client against a running
// `safechat serve`. Run by tests/e2e/test_js_client.py; usable by hand too:
//
//   SAFECHAT_URL=http://127.0.0.1:3001 SAFECHAT_GROUP_ID=<id> \
//   SAFECHAT_TOKEN_ANN=... SAFECHAT_TOKEN_BEN=... SAFECHAT_TOKEN_OUTSIDER=... \
//   node tests/e2e/chat_flow.mjs
//
// Prints exactly one JSON line as the last line of stdout: {"ok":true, ...observations}
// and exits 0, or {"ok":false,"step":...,"error":...} and exits 1 (2 for bad arguments).

import { io } from "socket.io-client";

const OVERALL_TIMEOUT_MS = Number(process.env.E2E_TIMEOUT_MS || 30000);
const STEP_TIMEOUT_MS = 8000;
const QUIET_MS = 300;

const env = (name) => {
  const value = process.env[name];
  if (!value) {
    console.log(JSON.stringify({ ok: false, step: "arguments", error: `${name} is not set` }));
    process.exit(2);
  }
  return value;
};

const URL = env("SAFECHAT_URL");
const GROUP_ID = env("SAFECHAT_GROUP_ID");
const TOKENS = {
  ann: env("SAFECHAT_TOKEN_ANN"),
  ben: env("SAFECHAT_TOKEN_BEN"),
  outsider: env("SAFECHAT_TOKEN_OUTSIDER"),
};

const started = Date.now();
const summary = { ok: false };
const sockets = [];
let step = "start";

function finish(ok, error) {
  for (const s of sockets) s.disconnect();
  const line = ok
    ? { ...summary, ok: true, elapsedMs: Date.now() - started }
    : { ok: false, step, error: String(error?.stack || error), observed: summary };
  console.log(JSON.stringify(line));
  process.exit(ok ? 0 : 1);
}

setTimeout(() => finish(false, `overall timeout after ${OVERALL_TIMEOUT_MS} ms`), OVERALL_TIMEOUT_MS);
process.on("unhandledRejection", (err) => finish(false, err));

function check(condition, message, value) {
  if (!condition) {
    throw new Error(`${message}${value === undefined ? "" : `: ${JSON.stringify(value)}`}`);
  }
}

/** A client that records every server event by name, registered before connecting. */
class Client {
  constructor(name, token, extra = {}) {
    this.name = name;
    this.queues = new Map();
    this.waiters = new Map();
    this.socket = io(URL, {
      auth: { token },
      reconnection: false,
      forceNew: true,
      timeout: STEP_TIMEOUT_MS,
      ...extra,
    });
    sockets.push(this.socket);
    this.socket.onAny((event, ...args) => this.#record(event, args[0]));
    // Which transport the Engine.IO session opened on, and what it upgraded to.
    this.transports = [];
    this.upgraded = new Promise((resolve) => {
      this.socket.io.once("open", () => {
        const engine = this.socket.io.engine;
        this.transports.push(engine.transport.name);
        engine.once("upgrade", (transport) => {
          this.transports.push(transport.name);
          resolve(transport.name);
        });
      });
    });
  }

  #record(event, payload) {
    const waiters = this.waiters.get(event);
    if (waiters && waiters.length) {
      waiters.shift()(payload);
      return;
    }
    if (!this.queues.has(event)) this.queues.set(event, []);
    this.queues.get(event).push(payload);
  }

  /** Resolves on connect, rejects with the connect_error. */
  connected() {
    return new Promise((resolve, reject) => {
      if (this.socket.connected) return resolve(this);
      this.socket.once("connect", () => resolve(this));
      this.socket.once("connect_error", reject);
    });
  }

  /** The next payload of `event` (already received or still to come). */
  waitFor(event, ms = STEP_TIMEOUT_MS) {
    const queued = this.queues.get(event);
    if (queued && queued.length) return Promise.resolve(queued.shift());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const list = this.waiters.get(event) || [];
        this.waiters.set(
          event,
          list.filter((w) => w !== waiter),
        );
        reject(new Error(`${this.name}: no ${event} within ${ms} ms`));
      }, ms);
      const waiter = (payload) => {
        clearTimeout(timer);
        resolve(payload);
      };
      if (!this.waiters.has(event)) this.waiters.set(event, []);
      this.waiters.get(event).push(waiter);
    });
  }

  async expectNone(event, ms = QUIET_MS) {
    await new Promise((r) => setTimeout(r, ms));
    const queued = this.queues.get(event) || [];
    check(queued.length === 0, `${this.name}: unexpected ${event}`, queued[0]);
  }

  call(event, payload, ms = STEP_TIMEOUT_MS) {
    return this.socket.timeout(ms).emitWithAck(event, payload);
  }

  get transport() {
    return this.socket.io.engine?.transport?.name;
  }
}

/** Connects, then collects authentication_success and user_groups. */
async function signIn(name, token, extra) {
  const client = new Client(name, token, extra);
  await client.connected();
  const initialTransport = client.transports[0];
  const auth = await client.waitFor("authentication_success");
  const groups = await client.waitFor("user_groups");
  check(auth && auth.user && typeof auth.sessionId === "string", `${name}: authentication_success`, auth);
  check(Array.isArray(groups), `${name}: user_groups is not a list`, groups);
  return { client, auth, groups, initialTransport };
}

function waitUpgrade(client, ms = STEP_TIMEOUT_MS) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${client.name}: no upgrade within ${ms} ms`)), ms);
  });
  return Promise.race([client.upgraded, late]).finally(() => clearTimeout(timer));
}

async function main() {
  step = "connect ann (polling, then upgrade)";
  const ann = await signIn("ann", TOKENS.ann);
  check(ann.initialTransport === "polling", "ann should start on polling", ann.initialTransport);
  check(ann.auth.user.userId === "user_ann", "ann: authentication_success user", ann.auth.user);
  const annGroup = ann.groups.find((g) => g.id === GROUP_ID);
  check(annGroup, "ann: group missing from user_groups", ann.groups);
  check(annGroup.role === "owner", "ann: role in user_groups", annGroup);
  await waitUpgrade(ann.client);
  check(ann.client.transport === "websocket", "ann: transport after upgrade", ann.client.transport);
  summary.ann = {
    userId: ann.auth.user.userId,
    transports: ann.client.transports,
    groupRole: annGroup.role,
    memberCount: annGroup.memberCount,
  };

  step = "connect ben (websocket only)";
  const ben = await signIn("ben", TOKENS.ben, { transports: ["websocket"] });
  check(ben.initialTransport === "websocket", "ben should be on websocket", ben.initialTransport);
  const benGroup = ben.groups.find((g) => g.id === GROUP_ID);
  check(benGroup, "ben: group missing from user_groups", ben.groups);
  check(benGroup.role === "member", "ben: role in user_groups", benGroup);
  summary.ben = { userId: ben.auth.user.userId, transport: ben.initialTransport, groupRole: benGroup.role };

  step = "ben join_group";
  const joinAck = await ben.client.call("join_group", { groupId: GROUP_ID });
  check(joinAck && joinAck.ok === true, "join_group ack", joinAck);
  check(joinAck.groupId === GROUP_ID, "join_group ack groupId", joinAck);
  const joined = await ben.client.waitFor("group_joined");
  check(joined.groupId === GROUP_ID, "group_joined groupId", joined);
  summary.joinGroup = { ok: joinAck.ok, groupJoined: joined.groupId === GROUP_ID };

  step = "ann send_message";
  const tempId = `js-${Date.now()}`;
  const content = "Hello Ben, from socket.io-client";
  const sendAck = await ann.client.call("send_message", { groupId: GROUP_ID, content, tempId });
  check(sendAck && sendAck.ok === true, "send_message ack", sendAck);
  const msg = sendAck.message;
  check(msg && typeof msg.id === "string" && msg.id.length === 24, "ack message id", msg);
  check(msg.seq === 1, "first message seq", msg);
  check(msg.content === content, "ack message content", msg);
  check(msg.groupId === GROUP_ID && msg.roomId === GROUP_ID, "ack message group", msg);
  check(msg.senderId === "user_ann", "ack message sender", msg);
  check(msg.tempId === tempId, "ack message tempId", msg);

  step = "ben receives new_message";
  const got = await ben.client.waitFor("new_message");
  check(got.message && got.message.id === msg.id, "new_message id", got);
  check(got.message.content === content, "new_message plaintext content", got.message);
  check(got.message.seq === msg.seq, "new_message seq", got.message);
  check(got.sender && got.sender.userId === "user_ann", "new_message sender", got.sender);
  check(got.sender.firstName === "Ann", "new_message sender firstName", got.sender);

  step = "ann gets message_sent";
  const sent = await ann.client.waitFor("message_sent");
  check(sent.tempId === tempId, "message_sent tempId", sent);
  check(sent.message && sent.message.id === msg.id, "message_sent message id", sent);
  await ann.client.expectNone("new_message");
  summary.annMessage = {
    id: msg.id,
    seq: msg.seq,
    tempId,
    benSawContent: got.message.content,
    senderFirstName: got.sender.firstName,
    messageSentTempId: sent.tempId,
  };

  step = "ben replies";
  const reply = "Hi Ann, got it";
  const replyAck = await ben.client.call("send_message", {
    groupId: GROUP_ID,
    content: reply,
    replyTo: msg.id,
    tempId: `${tempId}-reply`,
  });
  check(replyAck && replyAck.ok === true, "reply ack", replyAck);
  check(replyAck.message.seq === 2, "reply seq", replyAck.message);
  const annGot = await ann.client.waitFor("new_message");
  check(annGot.message.id === replyAck.message.id, "ann new_message id", annGot);
  check(annGot.message.content === reply, "ann new_message content", annGot.message);
  check(annGot.message.replyTo === msg.id, "ann new_message replyTo", annGot.message);
  check(annGot.sender.userId === "user_ben", "ann new_message sender", annGot.sender);
  summary.benReply = {
    id: replyAck.message.id,
    seq: replyAck.message.seq,
    annSawContent: annGot.message.content,
    replyTo: annGot.message.replyTo,
  };

  step = "outsider is refused";
  const out = await signIn("outsider", TOKENS.outsider);
  check(!out.groups.some((g) => g.id === GROUP_ID), "outsider sees the group", out.groups);
  const deniedAck = await out.client.call("send_message", {
    groupId: GROUP_ID,
    content: "let me in",
    tempId: "outsider-1",
  });
  check(deniedAck && deniedAck.ok === false, "outsider send_message ack", deniedAck);
  check(deniedAck.error && deniedAck.error.code === "ACCESS_DENIED", "outsider ack code", deniedAck);
  const msgError = await out.client.waitFor("message_error");
  check(msgError.code === "ACCESS_DENIED", "message_error code", msgError);
  check(typeof msgError.timestamp === "string", "message_error timestamp", msgError);
  await Promise.all([ann.client.expectNone("new_message"), ben.client.expectNone("new_message")]);
  summary.outsider = {
    connected: true,
    sawGroup: false,
    ackOk: deniedAck.ok,
    ackCode: deniedAck.error.code,
    messageErrorCode: msgError.code,
  };

  step = "garbage token is refused";
  const bad = new Client("garbage", "not-a-jwt", { transports: ["websocket"] });
  const refused = await bad.connected().then(
    () => null,
    (err) => err,
  );
  check(refused !== null, "a garbage token connected");
  check(refused.data && refused.data.code === "INVALID_TOKEN", "connect_error data", {
    message: refused.message,
    data: refused.data,
  });
  check(typeof refused.message === "string" && refused.message.length > 0, "connect_error message");
  summary.badToken = { code: refused.data.code, message: refused.message };

  step = "done";
  finish(true);
}

main().catch((err) => finish(false, err));
