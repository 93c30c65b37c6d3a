// DOM building: conversations and messages. Text always goes in as textContent.
import { mentionTokens, startsWord } from "./mentions.js";

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

/** How a conversation is named: a direct one by the other person (`peer`, §9). */
export function conversationLabel(conversation) {
  if (conversation.type === "direct" && conversation.peer) {
    return displayName(conversation.peer, conversation.peer.userId);
  }
  return conversation.name || conversation.id;
}

export function conversationItem(conversation, current, onOpen) {
  const unread = conversation.unreadCount || 0;
  const mentions = conversation.unreadMentions || 0;
  const direct = conversation.type === "direct";
  const button = el(
    "button",
    {
      type: "button",
      class: `conversation${direct ? " direct" : ""}${conversation.muted ? " muted" : ""}`,
      "data-group-id": conversation.id,
      "aria-current": current ? "true" : undefined,
    },
    el(
      "span",
      { class: "name" },
      conversationLabel(conversation),
      direct ? el("span", { class: "visually-hidden", text: " (direct message)" }) : null,
    ),
    el(
      "span",
      { class: "marks" },
      conversation.muted
        ? el("span", { class: "muted-mark", text: "muted" })
        : null,
      mentions > 0
        ? el("span", {
            class: "badge mention-badge",
            text: mentions > 1 ? `@ ${mentions}` : "@",
            "aria-label": `${mentions} unread mention${mentions > 1 ? "s" : ""}`,
          })
        : null,
      unread > 0
        ? el("span", { class: "badge", text: String(unread), "aria-label": `${unread} unread` })
        : null,
    ),
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

/** The text with each "@Name" of a mentioned person in a <mark> (yours: also `.me`). */
function mentionBody(message, ctx) {
  const body = el("p", { class: "body" });
  const people = (message.mentions || []).map((userId) => ({ userId, name: ctx.nameOf(userId) }));
  const tokens = mentionTokens(people);
  const text = message.content;
  let plain = 0;
  for (let i = 0; i < text.length; i += 1) {
    if (text[i] !== "@" || (i > 0 && !/\s/.test(text[i - 1]))) continue;
    const hit = tokens.find(({ token }) => startsWord(text, i, token));
    if (!hit) continue;
    body.append(text.slice(plain, i));
    const mine = hit.userId === ctx.me;
    body.append(el("mark", { class: `mention${mine ? " me" : ""}`, text: text.slice(i, i + hit.token.length) }));
    i += hit.token.length - 1;
    plain = i + 1;
  }
  body.append(text.slice(plain));
  return body;
}

function pinner(pin, ctx) {
  return pin.pinnedBy === ctx.me ? "you" : ctx.nameOf(pin.pinnedBy);
}

function button(text, onClick, label) {
  const b = el("button", { type: "button", text, "aria-label": label });
  b.addEventListener("click", onClick);
  return b;
}

/** "Reply to Ann: the first words…" above a reply, when its parent is loaded. */
function replyContext(message, ctx) {
  const parent = ctx.messageById(message.replyTo);
  const who = parent ? (parent.senderId === ctx.me ? "you" : ctx.nameOf(parent.senderId)) : null;
  const quote = parent && !parent.isDeleted ? `: ${parent.content.slice(0, 60)}` : "";
  return el("p", { class: "reply-to", text: who ? `↪ Reply to ${who}${quote}` : "↪ Reply in a thread" });
}

function thread(message, ctx) {
  const count = message.replyCount || 0;
  if (!count) return null;
  const open = ctx.threadOf(message.id);
  const text = `${count} ${count === 1 ? "reply" : "replies"}`;
  const toggle = el("button", {
    type: "button",
    class: "replies",
    text,
    "aria-expanded": open ? "true" : "false",
  });
  toggle.addEventListener("click", () => ctx.actions.toggleThread(message));
  const box = el("div", { class: "thread" }, toggle);
  if (open) {
    box.append(
      el(
        "ol",
        { class: "thread-list", "aria-label": `Replies to this message` },
        ...open.map((r) =>
          el(
            "li",
            { "data-id": r.id },
            el("span", { class: "who", text: r.senderId === ctx.me ? "You" : ctx.nameOf(r.senderId) }),
            " ",
            r.isDeleted ? el("em", { text: "Message deleted" }) : r.content,
          ),
        ),
      ),
    );
  }
  return box;
}

/**
 * One message. `ctx`: {me, nameOf(userId), messageById(id), threadOf(id) (loaded replies
 * or null), pinOf(id) (the pin or null), canPin, loadImage(img, url), actions: {react,
 * edit, remove, reply, pin, unpin, toggleThread}}.
 */
export function messageItem(message, ctx) {
  const mine = message.senderId === ctx.me;
  const pin = ctx.pinOf(message.id);
  const mentionsMe = (message.mentions || []).includes(ctx.me) && !mine;
  const item = el("li", {
    class: `msg${mine ? " mine" : ""}${message.isDeleted ? " deleted" : ""}${pin ? " pinned" : ""}${mentionsMe ? " mentions-me" : ""}`,
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
    pin ? el("span", { class: "pin-mark", text: ` · Pinned by ${pinner(pin, ctx)}` }) : null,
  );
  item.append(meta);
  if (message.replyTo) item.append(replyContext(message, ctx));
  if (message.isDeleted) {
    item.append(el("p", { class: "body", text: "Message deleted" }));
    return item;
  }
  if (message.content) item.append(mentionBody(message, ctx));
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
  actions.append(button("Reply", () => ctx.actions.reply(message), "Reply in thread"));
  if (ctx.canPin) {
    actions.append(
      pin
        ? button("Unpin", () => ctx.actions.unpin(message))
        : button("Pin", () => ctx.actions.pin(message)),
    );
  }
  const replies = thread(message, ctx);
  if (replies) item.append(replies);
  item.append(actions);
  return item;
}
