// One load-generator process: holds a slice of the clients, sends its share of the
// message rate, and records ack and end-to-end latencies. Driven by bench.mjs over IPC.
//
// Times are wall-clock milliseconds with sub-ms precision (timeOrigin + now()), so a
// timestamp written into a message by one worker can be compared in another.

import { io } from "socket.io-client";

const now = () => performance.timeOrigin + performance.now();
const CONNECT_CONCURRENCY = 25;
const ACK_TIMEOUT_MS = 15000;
const USER_GROUPS_TIMEOUT_MS = 30000;
let connectFailures = 0;

/** @type {{idx:number, sub:string, token:string, groupId:string|null, groupSize:number, socket:any}[]} */
let clients = [];
let url = "";
let filler = "";

// The current phase's window and its records (reset per phase).
let phase = null;

function newPhase(spec) {
  return {
    ...spec,
    sent: 0,
    sentInWindow: 0,
    acked: 0,
    expected: 0,
    errors: {},
    ackLat: [],
    e2eLat: [],
    received: 0,
    reordered: 0,
    pending: 0,
    buckets: [], // with spec.bucketMs (scenario steady): the same records per time slice
  };
}

/** The slice of the window `sentAt` falls in (scenario steady), or null. */
function bucketOf(p, sentAt) {
  if (!p.bucketMs) return null;
  const i = Math.floor((sentAt - p.measureFrom) / p.bucketMs);
  if (!p.buckets[i]) p.buckets[i] = { sent: 0, acked: 0, expected: 0, received: 0, errors: 0, ackLat: [], e2eLat: [] };
  return p.buckets[i];
}

function inWindow(p, t) {
  return t >= p.measureFrom && t < p.measureTo;
}

function onNewMessage(client, lastSeq, payload) {
  const t = now();
  const message = payload && payload.message;
  if (!message || typeof message.content !== "string") return;
  const seq = message.seq;
  const prev = lastSeq.get(message.groupId) ?? 0;
  if (seq <= prev && phase) {
    phase.reordered += 1;
    if (process.env.BENCH_DEBUG && phase.reordered <= 5) {
      process.send({ type: "log", text: `reordered: ${client.sub} got seq ${seq} after ${prev} in ${message.groupId} from ${message.senderId}` });
    }
  }
  lastSeq.set(message.groupId, Math.max(prev, seq));
  if (!message.content.startsWith("b:")) return;
  const sentAt = Number(message.content.slice(2, message.content.indexOf(" ")));
  if (phase && inWindow(phase, sentAt)) {
    phase.received += 1;
    phase.e2eLat.push(t - sentAt);
    const b = bucketOf(phase, sentAt);
    if (b) {
      b.received += 1;
      b.e2eLat.push(t - sentAt);
    }
  }
}

function connectOne(client) {
  return new Promise((resolve) => {
    const socket = io(url, {
      transports: ["websocket"],
      auth: { token: client.token },
      reconnection: false,
      forceNew: true, // one engine.io connection per client, as real devices have
      timeout: 30000,
    });
    const lastSeq = new Map();
    let done = false;
    const finish = (ok, why) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (!ok) {
        if (++connectFailures <= 10) process.send({ type: "log", text: `connect failed ${client.sub}: ${why}` });
        else if (connectFailures === 11) process.send({ type: "log", text: "(further connect failures not logged)" });
        socket.disconnect();
      }
      resolve(ok);
    };
    // A connect that never brings user_groups (the server dropped it, or never sent it)
    // is a failure, not a hang.
    const timer = setTimeout(() => finish(false, "no user_groups within 30 s"), USER_GROUPS_TIMEOUT_MS);
    socket.on("new_message", (payload) => onNewMessage(client, lastSeq, payload));
    socket.once("user_groups", () => finish(true));
    socket.once("connect_error", (err) => finish(false, `connect_error ${err.message}`));
    socket.on("disconnect", (reason) => {
      if (!done) finish(false, `disconnected (${reason}) before user_groups`);
      if (phase && reason !== "io client disconnect") {
        phase.errors[`disconnect:${reason}`] = (phase.errors[`disconnect:${reason}`] ?? 0) + 1;
      }
    });
    client.socket = socket;
  });
}

/** Connects every client, `concurrency` at a time (0: all at once); when each got user_groups. */
async function connectAll(concurrency = CONNECT_CONCURRENCY) {
  let failed = 0;
  let next = 0;
  let last = 0;
  async function lane() {
    while (next < clients.length) {
      const c = clients[next++];
      if (!(await connectOne(c))) failed += 1;
      else last = now();
    }
  }
  const width = concurrency > 0 ? Math.min(concurrency, clients.length) : clients.length;
  await Promise.all(Array.from({ length: width }, lane));
  return { failed, lastAt: last };
}

/** Disconnects every client and waits until each socket reports it. */
async function disconnectAll() {
  await Promise.all(
    clients.map(
      (c) =>
        new Promise((resolve) => {
          if (!c.socket || !c.socket.connected) return resolve();
          c.socket.once("disconnect", () => resolve());
          c.socket.disconnect();
        }),
    ),
  );
}

function sendOne(p, client, n) {
  const sentAt = now();
  const counted = inWindow(p, sentAt);
  p.sent += 1;
  const bucket = counted ? bucketOf(p, sentAt) : null;
  if (counted) {
    p.sentInWindow += 1;
    p.expected += client.groupSize - 1;
  }
  if (bucket) {
    bucket.sent += 1;
    bucket.expected += client.groupSize - 1;
  }
  p.pending += 1;
  const body = {
    groupId: client.groupId,
    content: `b:${sentAt.toFixed(3)} ${filler}`,
    tempId: `${p.name}-${client.sub}-${n}`,
  };
  client.socket.timeout(ACK_TIMEOUT_MS).emit("send_message", body, (err, ack) => {
    p.pending -= 1;
    if (err) {
      p.errors.ACK_TIMEOUT = (p.errors.ACK_TIMEOUT ?? 0) + 1;
      if (bucket) bucket.errors += 1;
      return;
    }
    if (!ack || !ack.ok) {
      const code = ack?.error?.code ?? "BAD_ACK";
      p.errors[code] = (p.errors[code] ?? 0) + 1;
      if (bucket) bucket.errors += 1;
      return;
    }
    if (counted) {
      p.acked += 1;
      p.ackLat.push(now() - sentAt);
    }
    if (bucket) {
      bucket.acked += 1;
      bucket.ackLat.push(now() - sentAt);
    }
  });
}

/** Open-loop sending: the schedule does not wait for acks (no coordinated omission). */
async function runPhase(spec) {
  const p = newPhase(spec);
  phase = p;
  const senders = clients.filter((c) => c.groupId && c.socket?.connected);
  const cpuStart = process.cpuUsage();
  let n = 0;
  if (p.rate > 0 && senders.length > 0) {
    while (now() < p.startAt) await sleep(Math.min(5, p.startAt - now()));
    await new Promise((resolve) => {
      const timer = setInterval(() => {
        const t = now();
        if (t >= p.stopAt) {
          clearInterval(timer);
          resolve();
          return;
        }
        const due = Math.floor(((t - p.startAt) / 1000) * p.rate);
        while (p.sent < due) {
          sendOne(p, senders[n % senders.length], n);
          n += 1;
        }
      }, 2);
    });
  }
  // Let in-flight acks and deliveries arrive before reporting.
  while (now() < p.reportAt) await sleep(Math.min(50, p.reportAt - now()));
  const cpu = process.cpuUsage(cpuStart);
  phase = null;
  return {
    type: "result",
    name: p.name,
    sent: p.sent,
    sentInWindow: p.sentInWindow,
    acked: p.acked,
    expected: p.expected,
    received: p.received,
    reordered: p.reordered,
    pending: p.pending,
    errors: p.errors,
    ackLat: p.ackLat,
    e2eLat: p.e2eLat,
    buckets: p.buckets,
    cpuMs: (cpu.user + cpu.system) / 1000,
  };
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

process.on("message", async (msg) => {
  try {
    if (msg.cmd === "connect") {
      url = msg.url;
      filler = "x".repeat(Math.max(0, msg.messageBytes - 22));
      clients = msg.clients;
      const started = now();
      const { failed, lastAt } = await connectAll(msg.concurrency ?? CONNECT_CONCURRENCY);
      process.send({ type: "connected", failed, ms: now() - started, startedAt: started, lastAt });
    } else if (msg.cmd === "reconnect") {
      // The same clients again (scenario storm), `concurrency` at a time (0: all at once).
      while (now() < (msg.startAt ?? 0)) await sleep(Math.min(5, msg.startAt - now()));
      const started = now();
      const { failed, lastAt } = await connectAll(msg.concurrency ?? 0);
      process.send({ type: "connected", failed, ms: now() - started, startedAt: started, lastAt });
    } else if (msg.cmd === "disconnect") {
      await disconnectAll();
      process.send({ type: "disconnected" });
    } else if (msg.cmd === "run") {
      process.send(await runPhase(msg.phase));
    } else if (msg.cmd === "close") {
      for (const c of clients) c.socket?.disconnect();
      process.send({ type: "closed" });
      setTimeout(() => process.exit(0), 50);
    }
  } catch (err) {
    process.send({ type: "error", error: String(err?.stack || err) });
  }
});
process.on("disconnect", () => process.exit(0));
