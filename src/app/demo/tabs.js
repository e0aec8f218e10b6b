// The demo page's tabs (SignalR, Web PubSub), as the WAI-ARIA tabs pattern has them: one tab in the
// Tab order (roving tabindex), arrow keys, Home and End move between tabs and show their panel.
// The Web PubSub tab is disabled, with a note saying why, when the app has no Web PubSub service
// (the page says so in <body data-webpubsub>).
"use strict";
(() => {
  const tabs = [...document.querySelectorAll('[role="tab"]')];
  const webpubsub = document.getElementById("tab-webpubsub");
  if (document.body.dataset.webpubsub !== "on") {
    webpubsub.disabled = true;
    webpubsub.setAttribute("aria-disabled", "true");
    document.getElementById("webpubsub-off").hidden = false;
  } else {
    webpubsub.removeAttribute("aria-describedby");
  }

  function select(tab, focus) {
    for (const other of tabs) {
      const selected = other === tab;
      other.setAttribute("aria-selected", String(selected));
      other.tabIndex = selected ? 0 : -1;
      document.getElementById(other.getAttribute("aria-controls")).hidden = !selected;
    }
    if (focus) tab.focus();
  }

  for (const tab of tabs) {
    tab.addEventListener("click", () => select(tab, false));
    tab.addEventListener("keydown", (event) => {
      const enabled = tabs.filter((t) => !t.disabled);
      const at = enabled.indexOf(tab);
      const next = {
        ArrowRight: enabled[(at + 1) % enabled.length],
        ArrowLeft: enabled[(at - 1 + enabled.length) % enabled.length],
        Home: enabled[0],
        End: enabled[enabled.length - 1],
      }[event.key];
      if (!next) return;
      event.preventDefault();
      select(next, true);
    });
  }
})();
