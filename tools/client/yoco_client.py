#!/usr/bin/env python3
"""A small client for `yoco serve` (docs/PROTOCOL.md) using pyzmq (Debian: python3-zmq).

    from yoco_client import Client, FramePublisher, Events
    c = Client("tcp://127.0.0.1:5555")
    c.request("open", stream="cam1", source="bus")
    pub = FramePublisher("tcp://127.0.0.1:5557")
    pub.send("cam1", pts=0.0, width=64, height=48, rgb=bytes(64 * 48 * 3))
    reply = c.ask("cam1", "what happened?", on_partial=lambda text: print(text, end=""))
    print(reply["answer"], reply["pts"])

Run as a script for a demo: yoco_client.py --bind tcp://127.0.0.1:5555 --source clip.mp4 --question "what?"
"""
import argparse
import itertools
import json
import sys

import zmq


class ServiceError(RuntimeError):
    pass


class Client:
    """Requests over a DEALER socket: several requests may be in flight; replies are matched by id."""

    def __init__(self, endpoint, timeout=30.0, server_key=None, context=None):
        self.ctx = context or zmq.Context.instance()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        if server_key:  # CURVE: the client makes a throwaway key pair and pins the server's public key
            pub, sec = zmq.curve_keypair()
            self.sock.curve_serverkey = server_key.encode() if isinstance(server_key, str) else server_key
            self.sock.curve_publickey, self.sock.curve_secretkey = pub, sec
        self.sock.connect(endpoint)
        self.timeout = timeout
        self._ids = itertools.count(1)

    def close(self):
        self.sock.close()

    def send(self, op, **fields):
        rid = next(self._ids)
        msg = {"v": 1, "id": rid, "op": op}
        msg.update(fields)
        # Empty delimiter frame first, as a REQ socket would send: the server echoes the envelope.
        self.sock.send_multipart([b"", json.dumps(msg).encode()])
        return rid

    def receive(self, rid, on_partial=None):
        """Waits for the final reply to request `rid`, passing {"partial": ...} messages to on_partial."""
        poller = zmq.Poller()
        poller.register(self.sock, zmq.POLLIN)
        while True:
            if not poller.poll(self.timeout * 1000):
                raise TimeoutError("no reply to request %d within %.1f s" % (rid, self.timeout))
            parts = self.sock.recv_multipart()
            reply = json.loads(parts[-1])
            if reply.get("id") != rid:
                continue  # a late reply to an abandoned request
            if "partial" in reply:
                if on_partial:
                    on_partial(reply["partial"])
                continue
            return reply

    def request(self, op, check=True, **fields):
        reply = self.receive(self.send(op, **fields))
        if check and not reply.get("ok"):
            raise ServiceError(reply.get("error", "unknown error"))
        return reply

    def ask(self, stream, question, on_partial=None, **fields):
        rid = self.send("ask", stream=stream, question=question, stream_reply=on_partial is not None, **fields)
        reply = self.receive(rid, on_partial)
        if not reply.get("ok"):
            raise ServiceError(reply.get("error", "unknown error"))
        return reply


class FramePublisher:
    """Publishes frames in the two-part frame message of docs/PIPELINE.md (PUB, connects to --frames)."""

    def __init__(self, endpoint, context=None, server_key=None):
        self.ctx = context or zmq.Context.instance()
        self.sock = self.ctx.socket(zmq.PUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        if server_key:
            pub, sec = zmq.curve_keypair()
            self.sock.curve_serverkey = server_key.encode() if isinstance(server_key, str) else server_key
            self.sock.curve_publickey, self.sock.curve_secretkey = pub, sec
        self.sock.connect(endpoint)
        self.index = 0

    def send(self, stream, pts, width, height, rgb, fmt="rgb24"):
        header = {"stream": stream, "pts": pts, "width": width, "height": height, "format": fmt,
                  "index": self.index}
        self.index += 1
        self.sock.send_multipart([json.dumps(header).encode(), rgb])

    def close(self):
        self.sock.close()


class Events:
    """Subscribes to events: topics are "<stream>/<kind>" (kind: caption, answer, alert, stats, error, ended)."""

    def __init__(self, endpoint, topics=("",), context=None, server_key=None):
        self.ctx = context or zmq.Context.instance()
        self.sock = self.ctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        if server_key:
            pub, sec = zmq.curve_keypair()
            self.sock.curve_serverkey = server_key.encode() if isinstance(server_key, str) else server_key
            self.sock.curve_publickey, self.sock.curve_secretkey = pub, sec
        for t in topics:
            self.sock.setsockopt(zmq.SUBSCRIBE, t.encode())
        self.sock.connect(endpoint)

    def next(self, timeout=10.0):
        """(topic, event dict), or None after `timeout` seconds."""
        if not self.sock.poll(timeout * 1000):
            return None
        topic, body = self.sock.recv_multipart()
        return topic.decode(), json.loads(body)

    def close(self):
        self.sock.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bind", default="tcp://127.0.0.1:5555", help="the service's request endpoint")
    ap.add_argument("--stream", default="demo")
    ap.add_argument("--source", required=True, help="a source spec the service can open (file, rtsp://, bus)")
    ap.add_argument("--question", required=True)
    args = ap.parse_args()
    c = Client(args.bind)
    c.request("open", stream=args.stream, source=args.source)
    reply = c.ask(args.stream, args.question, on_partial=lambda t: print(t, end="", flush=True))
    print("\n[%.2f s] %s" % (reply["pts"], reply["answer"]))
    print(json.dumps(c.request("status")))
    c.request("close", stream=args.stream)
    return 0


if __name__ == "__main__":
    sys.exit(main())
