// The composer: send (text with mentions and a reply target, or an image), edit, typing.
import { MentionPicker, mentionIds } from "./mentions.js";
import { call } from "./socket.js";

const $ = (id) => document.getElementById(id);
const TYPING_RENEW_MS = 2500;

export class Composer {
  constructor(chat) {
    this.chat = chat;
    this.editing = null;
    this.image = null;
    this.typingSentAt = 0;
    this.bind();
  }

  bind() {
    $("composer").addEventListener("submit", (e) => {
      e.preventDefault();
      this.submit();
    });
    this.mentions = new MentionPicker($("composer-text"), () => this.chat.people());
    $("composer-text").addEventListener("keydown", (e) => {
      if (this.mentions.handleKey(e)) return;
      if (e.key === "Escape" && this.chat.features.replyTo) {
        this.chat.features.cancelReply();
        return;
      }
      if (e.key === "Enter" && !e.shiftKey) {
        e.preventDefault();
        this.submit();
      }
    });
    $("composer-text").addEventListener("input", () => this.typed());
    $("composer-text").addEventListener("blur", () => this.stopTyping());
    $("composer-file").addEventListener("change", (e) => this.pickImage(e.target.files[0]));
    $("clear-image").addEventListener("click", () => this.pickImage(null));
    $("cancel-edit").addEventListener("click", () => this.cancelEdit());
  }

  typed() {
    if (!this.chat.current || this.editing) return;
    const now = Date.now();
    if (!$("composer-text").value.trim()) return this.stopTyping();
    if (now - this.typingSentAt < TYPING_RENEW_MS) return;
    this.typingSentAt = now;
    this.chat.socket.emit("typing_start", { groupId: this.chat.current });
  }

  stopTyping() {
    if (!this.typingSentAt || !this.chat.current) return;
    this.typingSentAt = 0;
    this.chat.socket.emit("typing_stop", { groupId: this.chat.current });
  }

  pickImage(file) {
    this.image = file || null;
    const preview = $("preview");
    if (preview.dataset.url) URL.revokeObjectURL(preview.dataset.url);
    if (!file) {
      $("composer-file").value = "";
      preview.hidden = true;
      return;
    }
    const url = URL.createObjectURL(file);
    preview.dataset.url = url;
    $("preview-img").src = url;
    preview.hidden = false;
  }

  startEdit(message) {
    this.chat.features.cancelReply(); // an edit keeps the message where it is in its thread
    this.editing = message.id;
    $("editing").hidden = false;
    $("composer-text").value = message.content;
    $("composer-text").focus();
  }

  cancelEdit() {
    this.editing = null;
    $("editing").hidden = true;
    $("composer-text").value = "";
  }

  async submit() {
    const box = $("composer-text");
    const text = box.value.trim();
    if (!this.chat.current) return;
    try {
      if (this.editing) {
        const { message } = await call(this.chat.socket, "edit_message", {
          messageId: this.editing,
          content: text,
        });
        this.chat.upsert(message);
        this.cancelEdit();
      } else if (this.image) {
        const tempId = crypto.randomUUID();
        const { message } = await this.chat.api.sendImage(this.chat.current, this.image, text, tempId);
        this.chat.upsert(message);
        this.pickImage(null);
        box.value = "";
      } else if (text) {
        box.value = "";
        await this.sendText(text);
      }
    } catch (err) {
      this.chat.showError(err.message);
    }
    this.stopTyping();
  }

  async sendText(content) {
    const tempId = crypto.randomUUID();
    try {
      const payload = { groupId: this.chat.current, content, tempId };
      const mentions = mentionIds(content, this.chat.people());
      if (mentions.length) payload.mentions = mentions;
      if (this.chat.features.replyTo) payload.replyTo = this.chat.features.replyTo.id;
      const { message } = await call(this.chat.socket, "send_message", payload);
      this.chat.features.cancelReply();
      this.chat.upsert(message);
      this.chat.renderSmartReplies([]);
    } catch (err) {
      this.chat.showError(err.message);
    }
  }
}
