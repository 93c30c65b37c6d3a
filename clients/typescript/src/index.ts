// SafeChat's client types. events.ts (and rest.ts, when the server publishes OpenAPI)
// are generated from the server's contract documents by `make client-types`.
import type { Socket } from "socket.io-client";

import type { ClientToServerEvents, ServerToClientEvents } from "./events.js";

export * from "./events.js";

/** A socket.io-client socket typed with SafeChat's events. */
export type SafeChatSocket = Socket<ServerToClientEvents, ClientToServerEvents>;
