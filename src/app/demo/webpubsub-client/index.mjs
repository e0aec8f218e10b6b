// The entry of the demo page's Web PubSub bundle: the official client's public classes, nothing of
// our own. build.mjs bundles it as an IIFE that sets `window.WebPubSubClientBundle`.
export {
  WebPubSubClient,
  WebPubSubJsonProtocol,
  WebPubSubJsonReliableProtocol,
} from "@azure/web-pubsub-client";
