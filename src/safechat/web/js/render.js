// DOM building: conversations and messages. Text always goes in as textContent.

const REACTIONS = ["👍", "❤️", "😂"];

export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("data-") || key.startsWith("aria-") || key === "role") {
      node.setAttribute(key, value);
    } else node[key] = value;
  }
  node.append(...children.filter(Boolean));
  return node;
}

export function displayName(user, fallback) {
  if (!user) return fallback;
  const full = [user.firstName, user.lastName].filter(Boolean).join(" ");
  return full || user.username || user.userId || fallback;
}

/** How a conversation is named in the list; a DM entry gets its own case here (§8). */
export function conversationLabel(conversation) {
  return conversation.name || conversation.id;
}

export function conversationItem(conversation, current, onOpen) {
  const unread = conversation.unreadCount || 0;
  const button = el(
    "button",
    {
      type: "button",
      class: "conversation",
      "data-group-id": conversation.id,
      "aria-current": current ? "true" : undefined,
    },
    el("span", { class: "name", text: conversationLabel(conversation) }),
    unread > 0
      ? el("span", { class: "badge", text: String(unread), "aria-label": `${unread} unread` })
      : null,
  );
  button.addEventListener("click", () => onOpen(conversation.id));
  return el("li", {}, button);
}

function time(iso) {
  const date = new Date(iso);
  return el("time", {
    dateTime: iso,
    text: date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }),
  });
}

/**
 * One message. `ctx`: {me, nameOf(userId), actions: {react, edit, remove}, loadImage(img, url)}.
 */
export function messageItem(message, ctx) {
  const mine = message.senderId === ctx.me;
  const item = el("li", {
    class: `msg${mine ? " mine" : ""}${message.isDeleted ? " deleted" : ""}`,
    "data-id": message.id,
    "data-seq": String(message.seq),
  });
  const meta = el(
    "p",
    { class: "meta" },
    el("span", { class: "who", text: mine ? "You" : ctx.nameOf(message.senderId) }),
    " ",
    time(message.createdAt),
    message.editedAt ? el("span", { class: "edited", text: " (edited)" }) : null,
  );
  item.append(meta);
  if (message.isDeleted) {
    item.append(el("p", { class: "body", text: "Message deleted" }));
    return item;
  }
  if (message.content) item.append(el("p", { class: "body", text: message.content }));
  if (message.media?.kind === "image") {
    const img = el("img", {
      class: "thumb",
      alt: `Image: ${message.media.filename || "picture"}`,
      width: 150,
    });
    ctx.loadImage(img, message.media.thumbnailUrl || message.media.url);
    item.append(img);
  }
  const reactions = Object.entries(message.reactions || {}).filter(([, users]) => users.length);
  if (reactions.length) {
    item.append(
      el(
        "p",
        { class: "reactions" },
        ...reactions.map(([emoji, users]) =>
          el("span", { class: "reaction", text: `${emoji} ${users.length}` }),
        ),
      ),
    );
  }
  if (mine) {
    const readers = (message.readBy || []).filter((r) => r.userId !== ctx.me);
    if (readers.length) {
      const names = readers.map((r) => ctx.nameOf(r.userId)).join(", ");
      item.append(el("p", { class: "receipt", text: `Seen by ${names}` }));
    }
  }
  const actions = el("div", { class: "actions" });
  for (const emoji of REACTIONS) {
    const b = el("button", { type: "button", text: emoji, "aria-label": `React ${emoji}` });
    b.addEventListener("click", () => ctx.actions.react(message, emoji));
    actions.append(b);
  }
  if (mine && message.type === "text") {
    const edit = el("button", { type: "button", text: "Edit" });
    edit.addEventListener("click", () => ctx.actions.edit(message));
    actions.append(edit);
  }
  if (mine) {
    const del = el("button", { type: "button", text: "Delete" });
    del.addEventListener("click", () => ctx.actions.remove(message));
    actions.append(del);
  }
  item.append(actions);
  return item;
}
