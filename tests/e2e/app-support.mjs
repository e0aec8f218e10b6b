// Helpers of the app-level e2e tests: start the real `handler` (function app + embedded emulators,
// as `cargo run` does; from tests/shared/process.mjs) on free ports, call its HTTP routes
// (`app.call`), and connect the unmodified
// @microsoft/signalr client to the *app* URL, so it negotiates through the app and is redirected
// to the emulator with the token the app minted.
import * as signalR from "@microsoft/signalr";

export { freePort, startApp } from "../shared/process.mjs";

/** A connection made through the app's negotiate; Easy Auth headers say who the user is. */
export async function connectViaApp(app, transport, { hub, userId, targets }) {
  const received = [];
  const events = { reconnecting: [], reconnected: [], closed: [] };
  const url = hub ? `${app.base}/api/hubs/${hub}` : `${app.base}/api`;
  const connection = new signalR.HubConnectionBuilder()
    .withUrl(url, { transport, headers: userId ? { "x-ms-client-principal-id": userId } : {} })
    .withAutomaticReconnect([0, 200, 500, 1000])
    .configureLogging(signalR.LogLevel.None)
    .build();
  for (const target of targets) {
    connection.on(target, (...args) => received.push({ target, args }));
  }
  connection.onreconnecting((error) => events.reconnecting.push(error?.message ?? ""));
  connection.onreconnected((id) => events.reconnected.push(id));
  connection.onclose((error) => events.closed.push(error?.message ?? ""));
  await connection.start();
  return { connection, received, events };
}
