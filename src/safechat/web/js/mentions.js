// Mentions in the composer: "@" + the start of a name offers the conversation's members
// (a listbox the arrow keys walk, Enter or Tab picks), and the ids of the members named
// "@Name" in the text go with the message as `mentions` (docs/protocol.md §10).
// (No import of render.js: render.js imports the token helpers from here.)

const $ = (id) => document.getElementById(id);
const MAX_OPTIONS = 8;
// "@" at the start or after a space, then up to 40 characters of a name (spaces allowed,
// "@Ben O" still finds "Ben Ode"), up to the caret.
const QUERY = /(?:^|\s)@([^\s@][^@\n]{0,39})?$/;

/** The ids of the people named "@Name" (or "@userId") in `text`; `people`: [{userId, name}]. */
export function mentionIds(text, people) {
  const found = new Set();
  const tokens = mentionTokens(people);
  for (let i = text.indexOf("@"); i !== -1; i = text.indexOf("@", i + 1)) {
    if (i > 0 && !/\s/.test(text[i - 1])) continue;
    const hit = tokens.find(({ token }) => startsWord(text, i, token));
    if (hit) found.add(hit.userId);
  }
  return [...found];
}

/** "@Name" and "@userId" of each person, longest first so "@Ben Ode" beats "@Ben". */
export function mentionTokens(people) {
  const tokens = [];
  for (const { userId, name } of people) {
    tokens.push({ userId, token: `@${name}` });
    if (name !== userId) tokens.push({ userId, token: `@${userId}` });
  }
  return tokens.sort((a, b) => b.token.length - a.token.length);
}

/** `token` is at `i` and ends a word there (end, space or punctuation follows). */
export function startsWord(text, i, token) {
  if (text.slice(i, i + token.length).toLowerCase() !== token.toLowerCase()) return false;
  const next = text[i + token.length];
  return next === undefined || !/[\p{L}\p{N}_]/u.test(next);
}

export class MentionPicker {
  /** `people()` → [{userId, name}] of the open conversation, without the viewer. */
  constructor(box, people) {
    this.box = box;
    this.people = people;
    this.options = [];
    this.active = 0;
    this.start = -1;
    this.list = $("mention-list");
    box.setAttribute("aria-controls", "mention-list");
    box.setAttribute("aria-autocomplete", "list");
    box.addEventListener("input", () => this.update());
    box.addEventListener("blur", () => setTimeout(() => this.close(), 150));
  }

  update() {
    const before = this.box.value.slice(0, this.box.selectionStart);
    const match = QUERY.exec(before);
    if (!match) return this.close();
    const query = (match[1] || "").toLowerCase();
    this.start = before.length - query.length - 1;
    this.options = this.people()
      .filter(({ userId, name }) => {
        const words = [name, ...name.split(/\s+/), userId].map((w) => w.toLowerCase());
        return words.some((w) => w.startsWith(query));
      })
      .slice(0, MAX_OPTIONS);
    if (!this.options.length) return this.close();
    this.active = 0;
    this.render();
  }

  render() {
    this.list.replaceChildren(
      ...this.options.map((p, i) => {
        const option = document.createElement("li");
        option.id = `mention-option-${i}`;
        option.className = "mention-option";
        option.textContent = p.name;
        option.setAttribute("role", "option");
        option.setAttribute("aria-selected", i === this.active ? "true" : "false");
        // mousedown, not click: the textarea keeps its focus and caret.
        option.addEventListener("mousedown", (e) => {
          e.preventDefault();
          this.pick(i);
        });
        return option;
      }),
    );
    this.list.hidden = false;
    this.box.setAttribute("aria-activedescendant", `mention-option-${this.active}`);
  }

  /** Handles the key if the list is open; true when it did (the composer then ignores it). */
  handleKey(e) {
    if (this.list.hidden) return false;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      const step = e.key === "ArrowDown" ? 1 : -1;
      this.active = (this.active + step + this.options.length) % this.options.length;
      this.render();
    } else if (e.key === "Enter" || e.key === "Tab") {
      this.pick(this.active);
    } else if (e.key === "Escape") {
      this.close();
    } else {
      return false;
    }
    e.preventDefault();
    return true;
  }

  pick(i) {
    const person = this.options[i];
    if (!person) return;
    const value = this.box.value;
    const caret = this.box.selectionStart;
    const inserted = `@${person.name} `;
    this.box.value = value.slice(0, this.start) + inserted + value.slice(caret);
    const at = this.start + inserted.length;
    this.box.setSelectionRange(at, at);
    this.close();
    this.box.focus();
  }

  close() {
    this.options = [];
    this.list.hidden = true;
    this.list.replaceChildren();
    this.box.removeAttribute("aria-activedescendant");
  }
}
