// SafeChat against the bare python-socketio reference (bench/reference_server.py), on the
// same shapes, interleaved (ref, safechat, ref, safechat, ...), medians of --reps runs.
// `make bench-compare` or `node bench/compare.mjs [--quick] [--reps N] [--shapes a,b]`.
// See bench/README.md. Every run is a fresh `bench.mjs` process with a fresh server.

import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const HERE = dirname(fileURLToPath(import.meta.url));
const { values: opt } = parseArgs({
  options: {
    quick: { type: "boolean" },
    reps: { type: "string" },
    shapes: { type: "string" },
    warmup: { type: "string" },
    duration: { type: "string" },
    idle: { type: "string" },
    clients: { type: "string" },
    workers: { type: "string" },
    safechat: { type: "string" },
    python: { type: "string" },
    "server-env": { type: "string", multiple: true },
    out: { type: "string" },
  },
});
const quick = Boolean(opt.quick);
const reps = Number(opt.reps ?? (quick ? 1 : 3));
const timing = (warmup, duration) => ["--warmup", opt.warmup ?? String(warmup), "--duration", opt.duration ?? String(duration)];

// Each shape: the bench.mjs arguments, and the figures taken from its report.
const SHAPES = {
  maxrate: {
    what: "rooms of 10 (100 clients): highest rate with e2e p99 <= 200 ms, all delivered",
    args: quick
      ? ["c", "--search", "--rate-start", "25", "--refine", "1", "--pause", "2", "--drain", "2", ...timing(2, 5)]
      : ["c", "--search", "--rate-start", "25", "--refine", "2", ...timing(3, 10)],
    take: (r) => ({ maxRate: r.best, maxRateP99Ms: r.bestStep?.e2eMs.p99 ?? null, firstFailure: r.firstFailure, others: r.bestStep?.otherCpuPct }),
  },
  r200: {
    what: "rooms of 10 (100 clients) at 200 msgs/s",
    args: ["a", "--rate", "200", ...(quick ? timing(3, 8) : timing(5, 20))],
    take: ({ steps: [s] }) => ({
      serverMsPerMsg: s.serverCpuMsPerMsg,
      totalMsPerMsg: s.serverCpuMsPerMsg === null ? null : round(s.serverCpuMsPerMsg + (s.dbCpuMsPerMsg ?? 0), 3),
      dbMsPerMsg: s.dbCpuMsPerMsg,
      delivered: s.deliveredRatio,
      p99Ms: s.e2eMs.p99,
      ackP99Ms: s.ackMs.p99,
      others: s.otherCpuPct,
    }),
  },
  rooms50: {
    what: "rooms of 50 (1000 clients) at 50 msgs/s",
    args: ["b", "--rate", "50", ...(quick ? timing(3, 8) : timing(5, 20))],
    take: ({ steps: [s] }) => ({
      p99Ms: s.e2eMs.p99,
      delivered: s.deliveredRatio,
      serverMsPerMsg: s.serverCpuMsPerMsg,
      dbMsPerMsg: s.dbCpuMsPerMsg,
      others: s.otherCpuPct,
    }),
  },
  idle: {
    what: "idle connections (each its own user, in no group)",
    args: ["d", "--idle", opt.idle ?? (quick ? "500" : "2000"), "--hold", quick ? "3" : "5"],
    take: (r) => ({
      kibPerConnection: r.kibPerConnection,
      baselineRssMiB: r.serverRssBeforeMiB,
      dbRssMiB: r.dbRssMiB,
      connectsPerSec: r.connectsPerSec,
      failed: r.failed,
      others: r.otherCpuPct,
    }),
  },
  // Not in the default set (a minute or two more for SafeChat): --shapes ...,storm
  storm: {
    optional: true,
    what: "1000 known users in groups of 50 reconnecting at once",
    args: ["storm", "--clients", opt.clients ?? (quick ? "500" : "1000")],
    take: (r) => ({
      reconnectsPerSec: r.storm.reconnectsPerSec,
      reconnectFailed: r.storm.failed,
      cpuMsPerReconnect: r.storm.serverCpuMsPerConnect,
      totalMsPerReconnect: round(r.storm.serverCpuMsPerConnect + (r.storm.dbCpuMsPerConnect ?? 0), 2),
      dbWrites: r.storm.dbWrites?.total ?? null,
      firstConnectsPerSec: r.first.connectsPerSec,
      others: r.storm.otherCpuPct,
    }),
  },
};
const shapes = opt.shapes ? opt.shapes.split(",") : Object.keys(SHAPES).filter((s) => !SHAPES[s].optional);
for (const s of shapes) if (!SHAPES[s]) throw new Error(`unknown shape ${s} (${Object.keys(SHAPES).join(", ")})`);

const round = (x, d = 2) => (x === null || x === undefined || Number.isNaN(x) ? null : Math.round(x * 10 ** d) / 10 ** d);
const at = new Date().toISOString().replace(/[:.]/g, "-");
const dir = join(HERE, "results", `compare-${at}`);
mkdirSync(dir, { recursive: true });

function runBench(shape, target, rep) {
  const out = join(dir, `${shape}-${target}-${rep}.json`);
  const args = [join(HERE, "bench.mjs"), ...SHAPES[shape].args, "--target", target, "--out", out];
  if (opt.workers) args.push("--workers", opt.workers);
  if (opt.python) args.push("--python", opt.python);
  if (target === "safechat") {
    if (opt.safechat) args.push("--safechat", opt.safechat);
    for (const kv of opt["server-env"] ?? []) args.push("--server-env", kv);
  }
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    const relay = (stream) =>
      stream.on("data", (d) => {
        for (const line of d.toString().split("\n")) if (line.trim()) console.error(`  [${shape} ${target} #${rep}] ${line}`);
      });
    relay(child.stdout);
    relay(child.stderr);
    child.on("exit", (code) => {
      const seconds = Math.round((Date.now() - started) / 1000);
      if (code !== 0) return resolve({ error: `exit ${code}`, seconds });
      try {
        resolve({ ...SHAPES[shape].take(JSON.parse(readFileSync(out, "utf8"))), seconds });
      } catch (err) {
        resolve({ error: String(err), seconds });
      }
    });
  });
}

function median(xs) {
  const v = xs.filter((x) => typeof x === "number" && !Number.isNaN(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

// --- run, interleaved ----------------------------------------------------------------
const runs = {};
const began = Date.now();
for (let rep = 1; rep <= reps; rep++) {
  for (const shape of shapes) {
    for (const target of ["reference", "safechat"]) {
      console.error(`[compare] ${shape} / ${target} (run ${rep} of ${reps}, ${Math.round((Date.now() - began) / 1000)} s in)`);
      const r = await runBench(shape, target, rep);
      ((runs[shape] ??= { reference: [], safechat: [] })[target]).push(r);
    }
  }
}

// --- the table ------------------------------------------------------------------------
const med = (shape, target, key) => round(median((runs[shape]?.[target] ?? []).map((r) => r[key])), 3);
// [shape, key, label, target check on SafeChat's value (and the reference's), better]
const ROWS = [
  ["maxrate", "maxRate", "(a) max rate, rooms of 10, p99 <= 200 ms (msgs/s)", (s) => s >= 500, "higher"],
  ["maxrate", "maxRateP99Ms", "    e2e p99 at that rate (ms)", null, "lower"],
  ["r200", "serverMsPerMsg", "(b) @200/s: server CPU per message (ms)", (s, r) => s <= 1.0 * r, "lower"],
  ["r200", "totalMsPerMsg", "    server + database CPU per message (ms)", (s, r) => s <= 2.0 * r, "lower"],
  ["r200", "delivered", "    delivered share", (s) => s >= 0.99, "higher"],
  ["r200", "p99Ms", "    e2e p99 (ms)", null, "lower"],
  ["rooms50", "p99Ms", "(c) rooms of 50, 1000 clients @50/s: e2e p99 (ms)", (s) => s <= 50, "lower"],
  ["rooms50", "delivered", "    delivered share", (s) => s >= 0.99, "higher"],
  ["idle", "kibPerConnection", "(d) memory per idle connection (KiB)", (s) => s <= 32, "lower"],
  ["idle", "baselineRssMiB", "    baseline server RSS (MiB)", (s) => s <= 100, "lower"],
  ["idle", "dbRssMiB", "    database RSS (MiB)", null, "lower"],
  ["idle", "connectsPerSec", "    connects/s", null, "higher"],
  ["storm", "reconnectsPerSec", "(e) storm, groups of 50: reconnects/s", (s) => s >= 400, "higher"],
  ["storm", "reconnectFailed", "    failed reconnects", (s) => s === 0, "lower"],
  ["storm", "cpuMsPerReconnect", "    server CPU per reconnect (ms)", null, "lower"],
  ["storm", "totalMsPerReconnect", "    server + database CPU per reconnect (ms)", null, "lower"],
  ["storm", "dbWrites", "    database writes during the storm", (s) => s === 0, "lower"],
  ["storm", "firstConnectsPerSec", "    first connects/s (25 in flight per worker)", null, "higher"],
];
const TARGETS = {
  maxRate: ">= 500",
  serverMsPerMsg: "<= 1.0x ref",
  totalMsPerMsg: "<= 2x ref",
  kibPerConnection: "<= 32",
  baselineRssMiB: "<= 100",
  reconnectsPerSec: ">= 400",
  reconnectFailed: "0",
  dbWrites: "0 (unchanged profiles)",
};
const table = [];
for (const [shape, key, label, check, better] of ROWS) {
  if (!runs[shape]) continue;
  const ref = med(shape, "reference", key);
  const safe = med(shape, "safechat", key);
  const ratio = ref && safe !== null ? round(safe / ref, 2) : null;
  let target = TARGETS[key] ?? (shape === "rooms50" && key === "p99Ms" ? "<= 50" : key === "delivered" ? ">= 0.99" : "");
  let met = null;
  if (check && safe !== null && (ref !== null || check.length < 2)) met = check(safe, ref);
  table.push({ shape, key, label, reference: ref, safechat: safe, ratio, better, target, met });
}
const others = {};
for (const shape of shapes) {
  others[shape] = {
    reference: round(median(runs[shape].reference.map((r) => r.others)), 0),
    safechat: round(median(runs[shape].safechat.map((r) => r.others)), 0),
  };
}

const pad = (x, n) => String(x ?? "-").padEnd(n);
const padl = (x, n) => String(x ?? "-").padStart(n);
console.log(`\nSafeChat vs bare python-socketio: medians of ${reps} interleaved run(s)${quick ? " (--quick)" : ""}; ratio = SafeChat / reference`);
console.log(`${pad("", 52)}${padl("reference", 11)}${padl("SafeChat", 11)}${padl("ratio", 8)}  ${pad("target (issue 11)", 18)}`);
for (const r of table) {
  const mark = r.met === null ? "" : r.met ? " ok" : " NO";
  console.log(`${pad(r.label, 52)}${padl(r.reference, 11)}${padl(r.safechat, 11)}${padl(r.ratio === null ? "-" : `${r.ratio}x`, 8)}  ${r.target}${mark}`);
}
console.log(
  `others (CPU % of the rest of the machine, of ${cpus().length * 100}): ` +
    shapes.map((s) => `${s} ref ${others[s].reference} / safechat ${others[s].safechat}`).join("; "),
);
const failedRuns = Object.entries(runs).flatMap(([s, t]) =>
  Object.entries(t).flatMap(([target, list]) => list.map((r, i) => (r.error ? `${s}/${target}#${i + 1}: ${r.error}` : null)).filter(Boolean)),
);
if (failedRuns.length) console.log(`failed runs (left out of the medians): ${failedRuns.join(", ")}`);

const report = {
  at: new Date().toISOString(),
  quick,
  reps,
  shapes: Object.fromEntries(shapes.map((s) => [s, { what: SHAPES[s].what, args: SHAPES[s].args }])),
  machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version, loadavg: loadavg() },
  seconds: Math.round((Date.now() - began) / 1000),
  table,
  others,
  runs,
};
const out = opt.out ?? join(HERE, "results", `compare-${at}.json`);
writeFileSync(out, JSON.stringify(report, null, 2));
console.error(`[compare] ${report.seconds} s; results in ${out} (each run's full report in ${dir})`);
