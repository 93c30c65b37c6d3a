// Per-conversation extras (docs/protocol.md §9, §10): pins, threads, the reply target, mute,
// the mention badge. Owned by Chat, which hands it the socket and asks it for context.
import { call } from "./socket.js";

const $ = (id) => document.getElementById(id);

export class ConversationFeatures {
  constructor(chat) {
    this.chat = chat;
    this.pins = new Map(); // messageId -> {pinnedBy, pinnedAt}, of the open conversation
    this.threads = new Map(); // parent id -> loaded replies, for the threads shown open
    this.replyTo = null;
    $("mute").addEventListener("click", () => this.toggleMute());
    $("cancel-reply").addEventListener("click", () => this.cancelReply());
  }

  listen(s) {
    const chat = this.chat;
    s.on("mention", ({ groupId }) => {
      // The open conversation is read as messages arrive, so only others count.
      const group = chat.groups.get(groupId);
      if (!group || groupId === chat.current) return;
      group.unreadMentions = (group.unreadMentions || 0) + 1;
      chat.renderConversations();
    });
    s.on("thread_updated", ({ messageId, replyCount, lastReplyAt }) => {
      const m = chat.messages.get(messageId);
      // With several nodes updates can cross: the count only grows, keep the larger.
      if (m && replyCount > (m.replyCount || 0)) chat.upsert({ ...m, replyCount, lastReplyAt });
    });
    s.on("message_pinned", ({ messageId, groupId, pinnedBy, pinnedAt }) => {
      if (groupId !== chat.current) return;
      this.pins.set(messageId, { pinnedBy, pinnedAt });
      this.refresh(messageId);
    });
    s.on("message_unpinned", ({ messageId, groupId }) => {
      if (groupId !== chat.current) return;
      this.pins.delete(messageId);
      this.refresh(messageId);
    });
  }

  refresh(messageId) {
    const m = this.chat.messages.get(messageId);
    if (m) this.chat.upsert({ ...m });
  }

  /** A conversation was opened (or closed, with null): reset and show its controls. */
  opened(group) {
    this.pins.clear();
    this.threads.clear();
    this.cancelReply();
    $("room-kind").textContent = group?.type === "direct" ? "Direct message" : "";
    $("mute").hidden = !group;
    if (group) this.showMute(group);
  }

  async loadPins(groupId) {
    const { pins } = await this.chat.api.pins(groupId);
    if (groupId !== this.chat.current) return;
    for (const p of pins) this.pins.set(p.message.id, { pinnedBy: p.pinnedBy, pinnedAt: p.pinnedAt });
  }

  /** Owner and admins pin in a group; either person in a direct conversation. */
  canPin() {
    const group = this.chat.groups.get(this.chat.current);
    return group?.type === "direct" || group?.role === "owner" || group?.role === "admin";
  }

  context() {
    return {
      canPin: this.canPin(),
      pinOf: (id) => this.pins.get(id) || null,
      threadOf: (id) => this.threads.get(id) || null,
      messageById: (id) => this.chat.messages.get(id) || null,
    };
  }

  actions() {
    const fail = (e) => this.chat.showError(e.message);
    const socket = this.chat.socket;
    return {
      reply: (m) => this.startReply(m),
      pin: (m) =>
        call(socket, "pin_message", { messageId: m.id }).then((r) => {
          this.pins.set(m.id, { pinnedBy: r.pinnedBy, pinnedAt: r.pinnedAt });
          this.refresh(m.id);
        }, fail),
      unpin: (m) =>
        call(socket, "unpin_message", { messageId: m.id }).then(() => {
          this.pins.delete(m.id);
          this.refresh(m.id);
        }, fail),
      toggleThread: (m) => this.toggleThread(m).catch(fail),
    };
  }

  async toggleThread(message) {
    if (this.threads.has(message.id)) {
      this.threads.delete(message.id);
    } else {
      const { messages } = await this.chat.api.replies(message.id);
      this.threads.set(message.id, messages);
    }
    this.refresh(message.id);
  }

  /** A new reply arrived or was sent: an open thread shows it at once. */
  replied(message) {
    const open = this.threads.get(message.replyTo);
    if (!open || open.some((r) => r.id === message.id)) return;
    open.push(message);
    this.refresh(message.replyTo);
  }

  startReply(message) {
    if (this.chat.composer.editing) this.chat.composer.cancelEdit();
    this.replyTo = message;
    const who = message.senderId === this.chat.me ? "yourself" : this.chat.nameOf(message.senderId);
    $("replying-to").textContent = `Replying to ${who}: ${message.content.slice(0, 60)}`;
    $("replying").hidden = false;
    $("composer-text").focus();
  }

  cancelReply() {
    this.replyTo = null;
    $("replying").hidden = true;
  }

  showMute(group) {
    $("mute").textContent = group.muted ? "Unmute conversation" : "Mute conversation";
  }

  async toggleMute() {
    const chat = this.chat;
    const id = chat.current;
    const old = chat.groups.get(id);
    if (!old) return;
    try {
      const { group } = await chat.api.setMuted(id, !old.muted);
      const merged = { ...old, muted: group.muted, mutedUntil: group.mutedUntil };
      chat.groups.set(id, merged);
      if (chat.current === id) this.showMute(merged);
      chat.renderConversations();
    } catch (err) {
      chat.showError(err.message);
    }
  }
}
