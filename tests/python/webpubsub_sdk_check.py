"""The official Web PubSub service SDK (azure-messaging-webpubsubservice, pinned in
requirements.txt) run against the recording stand-in of tests/webpubsub_python.rs: it mints a
client access token and makes one call of each REST operation in a fixed order, so the Rust side
can compare its own token and requests with the SDK's. Prints the token answer as JSON.

Environment: WPS_CONNECTION_STRING, WPS_HUB.
"""

import io
import json
import os

from azure.messaging.webpubsubservice import WebPubSubServiceClient

client = WebPubSubServiceClient.from_connection_string(
    os.environ["WPS_CONNECTION_STRING"], hub=os.environ["WPS_HUB"], api_version="2024-01-01")

token = client.get_client_access_token(
    user_id="alice", roles=["webpubsub.sendToGroup.room"], groups=["room", "all"], minutes_to_expire=10)

client.send_to_all({"a": 1}, excluded=["c1", "c 2"], filter="userId ne 'x'", content_type="application/json")
client.send_to_user("alice/b", "hi", content_type="text/plain")
client.send_to_group("room 1", io.BytesIO(b"\x00\xff"), excluded=["c3"], content_type="application/octet-stream")
client.send_to_connection("conn", "t", content_type="text/plain")
assert client.connection_exists("conn")
assert client.user_exists("alice")
assert client.group_exists("room")
client.close_connection("conn", reason="bye now")
client.close_all_connections(excluded=["keep"], reason="r")
client.close_user_connections("alice", reason="r")
client.close_group_connections("room", excluded=["a", "b"])
client.add_connection_to_group("room", "conn")
client.remove_connection_from_group("room", "conn")
client.remove_connection_from_all_groups("conn")
client.add_user_to_group("room", "alice")
client.remove_user_from_group("room", "alice")
client.remove_user_from_all_groups("alice")
client.grant_permission("sendToGroup", "conn", target_name="room")
client.revoke_permission("joinLeaveGroup", "conn")
assert client.has_permission("joinLeaveGroup", "conn", target_name="room")

print(json.dumps(dict(token)))
