// /docs: renders the server's own contract documents with the vendored bundles
// (scripts/docs-vendor.sh); nothing is loaded from another origin.
"use strict";

function status(id, text) {
  const el = document.getElementById(id);
  el.textContent = text;
  el.hidden = !text;
}

async function fetchDocument(url) {
  const res = await fetch(url, { headers: { Accept: "application/json" } });
  if (!res.ok) throw new Error(`${url} answered ${res.status}`);
  return res.json();
}

async function renderEvents() {
  try {
    const doc = await fetchDocument("/api/asyncapi.json");
    // The standalone bundle parses the document itself (AsyncAPI parser inside).
    window.AsyncApiStandalone.render(
      { schema: doc, config: { show: { sidebar: false, servers: true }, expand: { messageExamples: false } } },
      document.getElementById("asyncapi"),
    );
    status("events-status", "");
  } catch (err) {
    status("events-status", `The AsyncAPI document could not be loaded: ${err.message}`);
  }
}

async function renderRest() {
  try {
    const spec = await fetchDocument("/api/openapi.json");
    window.SwaggerUIBundle({ spec, domNode: document.getElementById("openapi"), deepLinking: false });
    status("rest-status", "");
  } catch (err) {
    status("rest-status", `The OpenAPI document is not available on this server (${err.message}).`);
  }
}

renderEvents();
renderRest();
