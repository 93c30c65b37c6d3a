// The signed-in screen: conversations, one open room, the composer.
import { Api } from "./api.js";
import { ConversationFeatures } from "./conversation.js";
import { Composer } from "./composer.js";
import { DmSearch } from "./dms.js";
import { conversationItem, conversationLabel, displayName, el, messageItem } from "./render.js";
import { call, connect } from "./socket.js";

const $ = (id) => document.getElementById(id);

export class Chat {
  constructor(token, onSignedOut) {
    this.api = new Api(token);
    this.onSignedOut = onSignedOut;
    this.me = null;
    this.groups = new Map();
    this.current = null;
    this.messages = new Map();
    this.cursor = null;
    this.names = new Map();
    this.online = new Set();
    this.typing = new Map();
    this.members = null;
    this.socket = connect(token);
    this.features = new ConversationFeatures(this);
    this.composer = new Composer(this);
    this.listen();
    this.bindUi();
  }

  // --- socket events (docs/protocol.md §1, §4, §7) ------------------------------------

  listen() {
    const s = this.socket;
    s.on("authentication_success", ({ user }) => {
      this.me = user.userId;
      this.names.set(user.userId, displayName(user, user.userId));
      $("me").textContent = `Signed in as ${displayName(user, user.userId)} (${user.userId})`;
      call(s, "get_online_users", {}).then((r) => this.setOnline(r.users), () => {});
    });
    s.on("user_groups", (groups) => {
      this.groups = new Map(groups.map((g) => [g.id, g]));
      this.renderConversations();
    });
    s.on("group_added", ({ group }) => {
      this.groups.set(group.id, { ...group, unreadCount: group.unreadCount || 0 });
      this.renderConversations();
    });
    s.on("group_removed", ({ groupId }) => {
      this.groups.delete(groupId);
      if (this.current === groupId) this.closeRoom();
      this.renderConversations();
    });
    s.on("group_updated", ({ group }) => {
      const old = this.groups.get(group.id);
      if (!old) return;
      // group_updated has no per-viewer fields (and a direct one has name ''): keep ours.
      const { role, unreadCount, unreadMentions, muted, mutedUntil, peer } = old;
      const name = group.name || old.name;
      this.groups.set(group.id, {
        ...old, ...group, name, role, unreadCount, unreadMentions, muted, mutedUntil, peer,
      });
      this.renderConversations();
    });
    s.on("new_message", ({ message, sender }) => this.arrived(message, sender));
    s.on("message_sent", ({ message }) => this.upsert(message));
    s.on("message_edited", ({ message }) => this.upsert(message));
    s.on("message_deleted", ({ messageId }) => {
      const m = this.messages.get(messageId);
      if (m) this.upsert({ ...m, isDeleted: true, content: "", media: undefined });
    });
    s.on("message_reaction", ({ messageId, reactions }) => {
      const m = this.messages.get(messageId);
      if (m) this.upsert({ ...m, reactions });
    });
    s.on("message_read", ({ messageId, readBy, readAt }) => this.read([messageId], readBy, readAt));
    s.on("messages_read", ({ messageIds, readBy, readAt }) => this.read(messageIds, readBy, readAt));
    s.on("user_typing", ({ groupId, userId, user }) => {
      if (groupId !== this.current || userId === this.me) return;
      this.typing.set(userId, displayName(user, this.nameOf(userId)));
      this.renderTyping();
    });
    s.on("user_stopped_typing", ({ groupId, userId }) => {
      if (groupId !== this.current) return;
      this.typing.delete(userId);
      this.renderTyping();
    });
    s.on("user_online", ({ userId, user }) => {
      if (user) this.names.set(userId, displayName(user, userId));
      this.online.add(userId);
      this.renderOnline();
    });
    s.on("user_offline", ({ userId }) => {
      this.online.delete(userId);
      this.renderOnline();
    });
    s.on("smart_replies_complete", ({ groupId, suggestions }) => {
      if (groupId === this.current) this.renderSmartReplies(suggestions);
    });
    s.on("connect_error", (err) => {
      const code = err?.data?.code;
      this.showError(`Connection refused: ${err?.data?.message || err.message}`);
      if (code === "INVALID_TOKEN" || code === "TOKEN_EXPIRED" || code === "AUTHENTICATION_FAILED") {
        this.signOut();
      }
    });
    s.on("auth_expired", () => this.signOut());
    this.features.listen(s);
  }

  // --- the conversation list ----------------------------------------------------------

  renderConversations() {
    const list = $("conversations");
    const sorted = [...this.groups.values()].sort((a, b) =>
      String(b.lastMessageAt || b.updatedAt || "").localeCompare(String(a.lastMessageAt || a.updatedAt || "")),
    );
    list.replaceChildren(
      ...sorted.map((g) => conversationItem(g, g.id === this.current, (id) => this.open(id))),
    );
    if (!sorted.length) list.append(el("li", { class: "empty", text: "No conversations yet" }));
  }

  async open(groupId) {
    this.current = groupId;
    this.messages.clear();
    this.typing.clear();
    this.composer.cancelEdit();
    const group = this.groups.get(groupId);
    $("room-title").textContent = group ? conversationLabel(group) : groupId;
    this.features.opened(group);
    $("composer").hidden = false;
    $("messages").replaceChildren();
    this.renderTyping();
    this.renderSmartReplies([]);
    try {
      const { members } = await call(this.socket, "get_group_members", { groupId });
      for (const m of members) {
        this.names.set(m.userId, displayName(m.user, m.userId));
        if (m.isOnline) this.online.add(m.userId);
      }
      this.members = new Set(members.map((m) => m.userId));
      this.renderOnline();
      await this.features.loadPins(groupId);
      const page = await this.api.history(groupId);
      this.addPage(page);
      this.markRead();
    } catch (err) {
      this.showError(err.message);
    }
    this.renderConversations();
    $("composer-text").focus();
  }

  closeRoom() {
    this.current = null;
    this.messages.clear();
    $("messages").replaceChildren();
    $("composer").hidden = true;
    $("older").hidden = true;
    $("room-title").textContent = "Pick a conversation";
    this.features.opened(null);
  }

  addPage(page) {
    for (const m of page.messages) this.messages.set(m.id, m);
    this.cursor = page.nextCursor;
    $("older").hidden = !page.hasMore;
    this.renderMessages();
  }

  async older() {
    if (!this.current || !this.cursor) return;
    const first = $("messages").firstElementChild;
    try {
      this.addPage(await this.api.history(this.current, this.cursor));
      first?.scrollIntoView();
    } catch (err) {
      this.showError(err.message);
    }
  }

  // --- messages -----------------------------------------------------------------------

  nameOf(userId) {
    return this.names.get(userId) || userId;
  }

  /** The open conversation's members but you, for the mention list. */
  people() {
    return [...(this.members || [])]
      .filter((id) => id !== this.me)
      .map((userId) => ({ userId, name: this.nameOf(userId) }));
  }

  context() {
    return {
      me: this.me,
      nameOf: (id) => this.nameOf(id),
      ...this.features.context(),
      loadImage: (img, url) =>
        this.api.signedMediaUrl(url).then((signed) => {
          img.src = signed;
        }, () => {
          img.alt += " (unavailable)";
        }),
      actions: {
        react: (m, emoji) =>
          call(this.socket, "react_message", { messageId: m.id, emoji })
            .then((r) => this.upsert({ ...this.messages.get(m.id), reactions: r.reactions }))
            .catch((e) => this.showError(e.message)),
        edit: (m) => this.composer.startEdit(m),
        remove: (m) =>
          call(this.socket, "delete_message", { messageId: m.id, groupId: m.groupId })
            .then(() => this.upsert({ ...m, isDeleted: true, content: "", media: undefined }))
            .catch((e) => this.showError(e.message)),
        ...this.features.actions(),
      },
    };
  }

  renderMessages() {
    const sorted = [...this.messages.values()].sort((a, b) => a.seq - b.seq);
    const ctx = this.context();
    $("messages").replaceChildren(...sorted.map((m) => messageItem(m, ctx)));
    $("messages").lastElementChild?.scrollIntoView({ block: "end" });
  }

  upsert(message) {
    if (!message || message.groupId !== this.current) return;
    const isNew = !this.messages.has(message.id);
    this.messages.set(message.id, message);
    const node = messageItem(message, this.context());
    const old = $("messages").querySelector(`li[data-id="${message.id}"]`);
    if (old) old.replaceWith(node);
    else if (isNew) this.renderMessages();
    if (isNew && message.replyTo) this.features.replied(message);
  }

  arrived(message, sender) {
    if (sender) this.names.set(sender.userId, displayName(sender, sender.userId));
    const group = this.groups.get(message.groupId);
    if (group) {
      group.lastMessageAt = message.createdAt;
      group.lastSeq = Math.max(group.lastSeq || 0, message.seq);
    }
    if (message.groupId === this.current) {
      this.upsert(message);
      this.typing.delete(message.senderId);
      this.renderTyping();
      if (message.senderId !== this.me) {
        this.markRead();
        call(this.socket, "request_smart_replies", {
          groupId: message.groupId,
          messageId: message.id,
        }).catch(() => {});
      }
    } else if (group && message.senderId !== this.me) {
      group.unreadCount = (group.unreadCount || 0) + 1;
    }
    this.renderConversations();
  }

  read(messageIds, readBy, readAt) {
    for (const id of messageIds) {
      const m = this.messages.get(id);
      if (!m || (m.readBy || []).some((r) => r.userId === readBy)) continue;
      this.upsert({ ...m, readBy: [...(m.readBy || []), { userId: readBy, readAt }] });
    }
  }

  markRead() {
    const seqs = [...this.messages.values()].map((m) => m.seq);
    if (!seqs.length || !this.current) return;
    const groupId = this.current;
    call(this.socket, "mark_messages_read", { groupId, upToSeq: Math.max(...seqs) }).then(
      () => {
        const group = this.groups.get(groupId);
        if (group) {
          group.unreadCount = 0;
          group.unreadMentions = 0;
        }
        this.renderConversations();
      },
      () => {},
    );
  }

  // --- typing, presence, smart replies --------------------------------------------------

  renderTyping() {
    const names = [...this.typing.values()];
    $("typing").textContent = names.length
      ? `${names.join(", ")} ${names.length > 1 ? "are" : "is"} typing…`
      : "";
  }

  setOnline(users) {
    for (const u of users) {
      this.online.add(u.userId);
      if (u.user) this.names.set(u.userId, displayName(u.user, u.userId));
    }
    this.renderOnline();
  }

  renderOnline() {
    if (!this.current || !this.members) {
      $("room-online").textContent = "";
      return;
    }
    const here = [...this.members].filter((id) => this.online.has(id)).map((id) =>
      id === this.me ? "you" : this.nameOf(id),
    );
    $("room-online").textContent = here.length ? `Online: ${here.join(", ")}` : "Nobody online";
  }

  renderSmartReplies(suggestions) {
    const box = $("smart-replies");
    box.replaceChildren(
      ...suggestions.map((text) => {
        const chip = el("button", { type: "button", class: "chip", text });
        chip.addEventListener("click", () => {
          this.renderSmartReplies([]);
          this.composer.sendText(text);
        });
        return chip;
      }),
    );
  }

  bindUi() {
    this.dms = new DmSearch(this.api, (userId) => this.openDm(userId), (m) => this.showError(m));
    $("older").addEventListener("click", () => this.older());
    $("sign-out").addEventListener("click", () => this.signOut());
    $("create-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.createGroup();
    });
    $("join-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.join($("join-id").value.trim());
    });
  }

  // --- groups ---------------------------------------------------------------------------

  async createGroup() {
    const name = $("group-name").value.trim();
    const memberIds = $("group-members")
      .value.split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    try {
      const { group } = await this.api.createGroup(name, memberIds, $("group-private").checked);
      this.groups.set(group.id, { ...group, unreadCount: 0 });
      $("create-form").reset();
      $("create").open = false;
      await this.open(group.id);
    } catch (err) {
      this.showError(err.message);
    }
  }

  async openDm(userId) {
    const { group } = await this.api.openDm(userId);
    this.groups.set(group.id, { ...this.groups.get(group.id), ...group });
    await this.open(group.id);
  }

  async join(groupId) {
    try {
      const { group } = await this.api.joinGroup(groupId);
      this.groups.set(group.id, { ...this.groups.get(group.id), ...group });
      $("join-form").reset();
      await this.open(group.id);
    } catch (err) {
      this.showError(err.message);
    }
  }

  showError(message) {
    $("chat-error").textContent = message;
  }

  signOut() {
    this.socket.disconnect();
    this.onSignedOut();
  }
}
