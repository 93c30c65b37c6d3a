// REST calls with the bearer token (docs/protocol.md §5). Answers {success, ...} or throws.

export class ApiError extends Error {
  constructor(status, error) {
    super(error?.message || `HTTP ${status}`);
    this.status = status;
    this.code = error?.code;
  }
}

export class Api {
  constructor(token) {
    this.token = token;
  }

  async request(method, path, body, signal) {
    const headers = { Authorization: `Bearer ${this.token}` };
    let payload;
    if (body instanceof FormData) {
      payload = body;
    } else if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    const response = await fetch(path, { method, headers, body: payload, signal });
    const data = await response.json().catch(() => ({}));
    if (!response.ok || data.success === false) throw new ApiError(response.status, data.error);
    return data;
  }

  groups() {
    return this.request("GET", "/api/groups");
  }

  createGroup(name, memberIds, isPrivate) {
    return this.request("POST", "/api/groups", { name, isPrivate, memberIds });
  }

  joinGroup(groupId) {
    return this.request("POST", `/api/groups/${groupId}/join`);
  }

  history(groupId, before) {
    const query = new URLSearchParams({ limit: "30" });
    if (before) query.set("before", before);
    return this.request("GET", `/api/messages/group/${groupId}?${query}`);
  }

  /** The user directory (§9): prefix of a name, 2+ characters. */
  searchUsers(q, signal) {
    const query = new URLSearchParams({ q, limit: "10" });
    return this.request("GET", `/api/users/search?${query}`, undefined, signal);
  }

  /** Opens (or reopens) the direct conversation with `userId`: {group}. */
  openDm(userId) {
    return this.request("POST", "/api/dms", { userId });
  }

  setMuted(groupId, muted) {
    return this.request("PUT", `/api/groups/${groupId}/settings`, { muted });
  }

  replies(messageId) {
    return this.request("GET", `/api/messages/${messageId}/replies?limit=100`);
  }

  pins(groupId) {
    return this.request("GET", `/api/groups/${groupId}/pins`);
  }

  sendImage(groupId, file, caption, tempId) {
    const form = new FormData();
    form.set("groupId", groupId);
    if (caption) form.set("caption", caption);
    form.set("tempId", tempId);
    form.set("file", file);
    return this.request("POST", "/api/media/chat/send", form);
  }

  /** A media URL (SafeChat's own, needs the token) turned into a short-lived signed one. */
  async signedMediaUrl(mediaUrl) {
    const url = new URL(mediaUrl, location.origin);
    url.searchParams.set("redirect", "false");
    const data = await this.request("GET", url.pathname + url.search);
    return data.url;
  }
}

/** The dev-only sign in (routes/dev.py); 404 outside dev mode on loopback. */
export async function devToken(userId, name) {
  const response = await fetch("/api/dev/token", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(name ? { userId, name } : { userId }),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, data.error);
  return data.token;
}
