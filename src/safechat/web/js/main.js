// Entry: choose the sign-in form the server offers, then open the chat.
import { devToken } from "./api.js";
import { Chat } from "./chat.js";

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = "safechat.token";

function showSignIn(config) {
  $("chat").hidden = true;
  $("sign-out").hidden = true;
  $("me").textContent = "";
  $("sign-in").hidden = false;
  $("dev-form").hidden = !config.devSignIn;
  (config.devSignIn ? $("dev-user") : $("token-input")).focus();
}

function start(token, config) {
  sessionStorage.setItem(TOKEN_KEY, token);
  $("sign-in").hidden = true;
  $("chat").hidden = false;
  $("sign-out").hidden = false;
  new Chat(token, () => {
    sessionStorage.removeItem(TOKEN_KEY);
    location.reload();
  });
}

async function main() {
  const config = await fetch("/app/config.json").then((r) => r.json());
  $("dev-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      start(await devToken($("dev-user").value.trim(), $("dev-name").value.trim()), config);
    } catch (err) {
      $("sign-in-error").textContent = `Sign in failed: ${err.message}`;
    }
  });
  $("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    start($("token-input").value.trim(), config);
  });
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) start(saved, config);
  else showSignIn(config);
}

main();
