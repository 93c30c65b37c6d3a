// "New direct message": search the user directory as you type, open the conversation.
import { displayName, el } from "./render.js";

const $ = (id) => document.getElementById(id);
const DEBOUNCE_MS = 250;
const MIN_CHARS = 2; // the directory's own minimum, spaces not counted (docs/protocol.md §9)

export class DmSearch {
  /** `onPick(userId)` opens the conversation; errors go to `onError(message)`. */
  constructor(api, onPick, onError) {
    this.api = api;
    this.onPick = onPick;
    this.onError = onError;
    this.timer = null;
    this.pending = null;
    $("dm-query").addEventListener("input", () => this.typed());
    $("dm-form").addEventListener("submit", (e) => {
      e.preventDefault();
      // Enter picks the first match, as a search box with a single obvious answer should.
      $("dm-results").querySelector("button")?.click();
    });
  }

  typed() {
    clearTimeout(this.timer);
    const q = $("dm-query").value.trim().replace(/\s+/g, " ");
    if (q.replace(/ /g, "").length < MIN_CHARS) {
      this.pending?.abort();
      this.show([], "");
      return;
    }
    this.timer = setTimeout(() => this.search(q), DEBOUNCE_MS);
  }

  async search(q) {
    // Only the newest keystroke's answer counts: an older one arriving late is dropped.
    this.pending?.abort();
    const pending = new AbortController();
    this.pending = pending;
    try {
      const { users } = await this.api.searchUsers(q, pending.signal);
      if (this.pending !== pending) return;
      this.show(users, users.length ? `${users.length} found` : "Nobody found");
    } catch (err) {
      if (err.name !== "AbortError") this.onError(err.message);
    }
  }

  show(users, status) {
    $("dm-status").textContent = status;
    $("dm-results").replaceChildren(
      ...users.map((u) => {
        const name = displayName(u, u.userId);
        const button = el(
          "button",
          { type: "button", class: "person", "data-user-id": u.userId },
          el("span", { text: name }),
          name !== u.userId ? el("span", { class: "hint", text: ` ${u.userId}` }) : null,
        );
        button.setAttribute("aria-label", `Message ${name}`);
        button.addEventListener("click", () => this.pick(u.userId));
        return el("li", {}, button);
      }),
    );
  }

  async pick(userId) {
    try {
      await this.onPick(userId);
      $("dm-form").reset();
      this.show([], "");
      $("new-dm").open = false;
    } catch (err) {
      this.onError(err.message);
    }
  }
}
