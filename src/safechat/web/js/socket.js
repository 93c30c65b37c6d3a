// The Socket.IO connection (docs/protocol.md §1, §4); event names exactly as the protocol.
import { io } from "/app/vendor/socket.io.esm.min.js";

const ACK_TIMEOUT_MS = 10000;

export function connect(token) {
  return io(location.origin, { auth: { token }, transports: ["websocket", "polling"] });
}

/** Emits and resolves with the ack's result, or rejects with its {code, message}. */
export function call(socket, event, payload) {
  return new Promise((resolve, reject) => {
    socket.timeout(ACK_TIMEOUT_MS).emit(event, payload, (err, reply) => {
      if (err) reject(new Error(`${event}: no answer`));
      else if (reply?.ok) resolve(reply);
      else reject(Object.assign(new Error(reply?.error?.message || event), reply?.error));
    });
  });
}
