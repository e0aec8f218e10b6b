"""The app's Web PubSub routes with Microsoft's Python SDKs (tests/webpubsub_python_app.rs runs
this against the local stack): a `azure-messaging-webpubsubclient` client connects with the URL
the app's negotiate gives, joins a group its token allows and sends to it, sends an event the app's events route
broadcasts back, and receives what `azure-messaging-webpubsubservice` sends to its group and to
everyone through the emulator's REST API. Exits non-zero, saying what is missing, on failure."""
import json
import os
import sys
import threading
import time
import urllib.request

from azure.messaging.webpubsubclient import WebPubSubClient, WebPubSubClientCredential
from azure.messaging.webpubsubclient.models import CallbackType, WebPubSubDataType
from azure.messaging.webpubsubservice import WebPubSubServiceClient

APP = os.environ["APP_BASE"]
HUB = os.environ["WPS_HUB"]
SERVICE = os.environ["WPS_CONNECTION_STRING"]


def negotiate():
    request = urllib.request.Request(
        f"{APP}/api/webpubsub/hubs/{HUB}/negotiate",
        method="POST",
        headers={"x-ms-client-principal-id": "py-user"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["url"]


received = []
lock = threading.Condition()


def record(kind):
    def callback(event):
        with lock:
            received.append({"kind": kind, "data": event.data, "dataType": str(event.data_type)})
            lock.notify_all()

    return callback


def wait_for(check, what, seconds=10):
    end = time.time() + seconds
    with lock:
        while not check():
            left = end - time.time()
            if left <= 0:
                sys.exit(f"timed out waiting for {what}; received {received}")
            lock.wait(left)


client = WebPubSubClient(
    credential=WebPubSubClientCredential(client_access_url_provider=negotiate),
    message_retry_total=0,
    reconnect_retry_total=0,
)
client.subscribe(CallbackType.SERVER_MESSAGE, record("server"))
client.subscribe(CallbackType.GROUP_MESSAGE, record("group"))
with client:
    client.join_group("room")
    client.send_event("message", {"text": "hello from python"}, WebPubSubDataType.JSON)
    wait_for(
        lambda: any(m["kind"] == "server" and m["data"] == {"text": "hello from python"} for m in received),
        "the app's broadcast of the event",
    )
    client.send_to_group("room", "from python", WebPubSubDataType.TEXT)
    wait_for(
        lambda: any(m["kind"] == "group" and m["data"] == "from python" for m in received),
        "the client's own group message",
    )
    service = WebPubSubServiceClient.from_connection_string(SERVICE, hub=HUB)
    # A REST send to a group reaches its members as a message from the server.
    service.send_to_group("room", "to the room", content_type="text/plain")
    service.send_to_all({"all": True})
    wait_for(
        lambda: any(m["kind"] == "server" and m["data"] == "to the room" for m in received),
        "the service SDK's group message",
    )
    wait_for(
        lambda: any(m["kind"] == "server" and m["data"] == {"all": True} for m in received),
        "the service SDK's message to everyone",
    )
print(json.dumps(received))
