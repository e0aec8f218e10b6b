// The demo page's group streams on the Web PubSub tab (loaded after webpubsub.js, whose
// `window.DemoWebPubSub` it uses): "Stream to the group" opens a group stream (openGroupStream)
// to the group of the group form, writes the numbered chunks in order and ends it, normally or
// with an error; every stream of any group this client is in (onGroupStream) is shown as it
// arrives, with its sender, chunk count and how it ended. The list holds the last few streams and
// each the last chunks only, so a long or endless stream cannot grow the page without bound.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const demo = window.DemoWebPubSub;
  if (!demo) return;
  const MAX_STREAMS = 10;
  const MAX_SHOWN_CHUNKS = 500;

  const chunkText = (data) => {
    if (data instanceof ArrayBuffer) return `(${data.byteLength} bytes)`;
    return typeof data === "string" ? data : JSON.stringify(data);
  };

  /** A new item in the stream list: its heading, state and the chunks' text, one line each. */
  function streamItem(stream) {
    const item = document.createElement("li");
    item.dataset.streamId = stream.streamId;
    item.dataset.state = "open";
    item.dataset.chunks = "0";
    const title = document.createElement("strong");
    title.textContent = `[${stream.groupName}] stream ${stream.streamId}`;
    const state = document.createElement("span");
    state.className = "stream-state";
    state.textContent = " receiving";
    const chunks = document.createElement("pre");
    chunks.className = "stream-chunks";
    item.append(title, state, chunks);
    $("wps-streams").prepend(item);
    while ($("wps-streams").children.length > MAX_STREAMS) $("wps-streams").lastChild.remove();
    return { item, title, state, chunks };
  }

  /** Reads `stream` to its end into its item; the end (or the error) shows in its state. */
  async function showStream(stream) {
    const view = streamItem(stream);
    let count = 0;
    let from = null;
    const describe = (what) => {
      view.state.textContent = ` ${what}: ${count} chunk${count === 1 ? "" : "s"}`;
    };
    try {
      for await (const message of stream) {
        if (from === null) {
          from = message.fromUserId || "(anonymous)";
          view.title.textContent = `[${stream.groupName}] ${from}: stream ${stream.streamId}`;
        }
        count += 1;
        view.chunks.append(`${chunkText(message.data)}\n`);
        if (view.chunks.childNodes.length > MAX_SHOWN_CHUNKS) view.chunks.firstChild.remove();
        view.item.dataset.chunks = String(count);
        describe("receiving");
      }
      view.item.dataset.state = "ended";
      describe("ended");
      demo.log(`stream ${stream.streamId} ended after ${count} chunks`);
    } catch (error) {
      const why = error.userErrorCode ? `${error.message} (${error.userErrorCode})` : `${error.name}: ${error.message}`;
      view.item.dataset.state = "failed";
      view.item.dataset.error = why;
      describe(`failed (${why})`);
      demo.log(`stream ${stream.streamId} failed: ${why}`);
    }
  }

  demo.onClient((client) => client.onGroupStream(showStream));

  function setSending(text) {
    $("wps-stream-state").textContent = text;
  }

  async function stream(event) {
    event.preventDefault();
    const client = demo.connectedClient();
    const group = demo.group();
    if (!client) return demo.log("stream: connect first");
    const count = Math.min(1000, Math.max(1, Number($("wps-stream-count").value) || 1));
    const text = $("wps-stream-text").value;
    const fail = $("wps-stream-end").value === "abort";
    $("wps-stream").disabled = true;
    let sent = 0;
    try {
      const writer = await client.openGroupStream(group);
      for (let i = 1; i <= count; i++) {
        await writer.write(`${text} ${i}`, "text");
        sent = i;
        if (i % 10 === 0 || i === count) setSending(`sent ${sent} of ${count}`);
      }
      if (fail) {
        await writer.abort({ message: "stopped on purpose by the demo", userErrorCode: "DemoError" });
        setSending(`sent ${sent} of ${count}, ended with an error`);
      } else {
        await writer.end();
        setSending(`sent ${sent} of ${count}, ended`);
      }
      demo.log(`stream to ${group}: ${sent} chunks, ${fail ? "ended with an error" : "ended"}`);
    } catch (error) {
      setSending(`failed after ${sent} of ${count}: ${demo.reason(error)}`);
      demo.log(`stream to ${group} failed: ${demo.reason(error)}`);
    } finally {
      $("wps-stream").disabled = false;
    }
  }

  $("wps-stream-form").addEventListener("submit", stream);
})();
