#!/usr/bin/env python3
"""End-to-end check of `yoco serve` with the pyzmq client (run by tests/runtime/service_test.cpp).

Starts the real server on free loopback ports, then: status; open a stream fed by frames from the bus; publish
frames; ask (partial answers, then the final reply with pts) while frames keep arriving; events; a standing
instruction's captions; a file stream ingested fast; REQ and DEALER clients; malformed and unknown requests;
the server survives all of it and stops cleanly on SIGTERM. Exit 0: pass, 1: fail, 77: pyzmq missing (skip).

usage: service_check.py --yoco build/bin/yoco --model tests/data/runtime --clip CLIP.mp4
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time

try:
    import zmq
except ImportError:
    print("pyzmq is missing (Debian: python3-zmq): skipping")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from yoco_client import Client, Events, FramePublisher  # noqa: E402

FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAIL:", what)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def frame(i, w=64, h=48):
    return bytes(((x * 4 + i * 16) & 255) for x in range(w)) * h * 3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--yoco", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--clip", required=True)
    args = ap.parse_args()
    rq, ev, fr = ("tcp://127.0.0.1:%d" % free_port() for _ in range(3))
    server = subprocess.Popen([args.yoco, "serve", "--model", args.model, "--bind", rq, "--events", ev,
                               "--frames", fr], stderr=subprocess.PIPE, text=True)
    try:
        line = server.stderr.readline()
        check("ready" in line, "server announces it is ready: " + line.strip())
        run_checks(rq, ev, fr, args.clip)
        check(server.poll() is None, "server still alive after every request")
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            rc = server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            rc = "timeout"
        check(rc == 0, "server stops cleanly on SIGTERM (rc %s)" % rc)
    curve_check(args.yoco, args.model)
    print("service_check: %s" % ("FAIL (%d)" % len(FAILURES) if FAILURES else "ok"))
    return 1 if FAILURES else 0


def run_checks(rq, ev, fr, clip):
    c = Client(rq, timeout=30)
    st = c.request("status")
    check(st["ok"] is True and st["streams"] == [] and st["id"] is not None, "status on an empty service")

    events = Events(ev, topics=("cam1/",))
    c.request("open", stream="cam1", source="bus", options={"fps": 0})
    pub = FramePublisher(fr)
    # Publish until the stream has ingested a few frames (subscriptions take a moment to propagate).
    i, deadline = 0, time.time() + 30
    frames = 0
    while time.time() < deadline and frames < 3:
        pub.send("cam1", pts=i * 0.5, width=64, height=48, rgb=frame(i))
        i += 1
        time.sleep(0.05)
        frames = c.request("status")["streams"][0]["frames"]
    check(frames >= 3, "frames from the bus reach the stream (%d)" % frames)

    # Ask with streamed partial answers while frames keep arriving.
    rid = c.send("ask", stream="cam1", question="what happened?", stream_reply=True)
    for _ in range(3):
        pub.send("cam1", pts=i * 0.5, width=64, height=48, rgb=frame(i))
        i += 1
    partials = []
    reply = c.receive(rid, on_partial=partials.append)
    check(reply.get("ok") is True and isinstance(reply.get("answer"), str), "ask: final reply with an answer")
    check(isinstance(reply.get("pts"), (int, float)) and reply["pts"] >= 0, "ask: the answer carries pts")
    check(len(partials) > 0, "ask with stream_reply: partial messages before the final one")
    before = c.request("status")["streams"][0]["frames"]
    for _ in range(10):
        pub.send("cam1", pts=i * 0.5, width=64, height=48, rgb=frame(i))
        i += 1
        time.sleep(0.05)
    time.sleep(0.5)
    after = c.request("status")["streams"][0]["frames"]
    check(after > before, "ingest goes on after the question (%d -> %d)" % (before, after))
    plain = c.ask("cam1", "what colour?")
    check("answer" in plain and "partial" not in plain, "ask without stream_reply: one final reply")

    # Events: the answers were published under cam1/answer.
    kinds = set()
    t_end = time.time() + 5
    while time.time() < t_end and "answer" not in kinds:
        got = events.next(timeout=1)
        if got:
            kinds.add(got[1]["kind"])
            check(got[0] == "cam1/" + got[1]["kind"], "event topic is stream/kind")
    check("answer" in kinds, "answer events on the PUB socket")

    # A standing instruction turns into caption events with timestamps.
    c.request("instruct", stream="cam1", instruction="caption every 1 s")
    caption = None
    t_end = time.time() + 15
    while time.time() < t_end and caption is None:
        pub.send("cam1", pts=i * 0.5, width=64, height=48, rgb=frame(i))
        i += 1
        got = events.next(timeout=0.1)
        if got and got[1]["kind"] == "caption":
            caption = got[1]
    check(caption is not None and isinstance(caption.get("pts"), (int, float)), "caption events from an instruction")
    c.request("instruct", stream="cam1", instruction=None)

    # A file source is ingested as fast as possible and then reports "ended".
    c.request("open", stream="file1", source=clip)
    state, t_end = None, time.time() + 20
    while time.time() < t_end and state != "ended":
        state = [s for s in c.request("status")["streams"] if s["stream"] == "file1"][0]["state"]
        time.sleep(0.05)
    check(state == "ended", "a file stream ends by itself")
    fa = c.ask("file1", "what happened?")
    check(fa["pts"] > 0, "the file's answer refers to its last frame (pts %s)" % fa["pts"])

    # REQ clients work too (one reply per request: no partials).
    req = zmq.Context.instance().socket(zmq.REQ)
    req.setsockopt(zmq.LINGER, 0)
    req.connect(rq)
    req.send(json.dumps({"v": 1, "id": "r1", "op": "status"}).encode())
    check(req.poll(10000) and json.loads(req.recv()).get("id") == "r1", "REQ client gets its reply")
    req.send(b"{not json")
    r = json.loads(req.recv()) if req.poll(10000) else {}
    check(r.get("ok") is False and "error" in r, "malformed JSON gets an error reply")
    req.close()

    for bad, what in [({"v": 1, "id": 5, "op": "fly"}, "unknown op"),
                      ({"id": 6, "op": "status"}, "missing protocol version"),
                      ({"v": 1, "id": 7, "op": "ask", "stream": "nope", "question": "x"}, "ask on an unknown stream"),
                      ({"v": 1, "id": 8, "op": "open", "stream": "bad id!", "source": clip}, "bad stream id"),
                      ({"v": 1, "id": 9, "op": "open", "stream": "x", "source": "/no/such/file.mp4"}, "bad source"),
                      ({"v": 1, "id": 10, "op": "ask", "stream": "cam1", "question": 3}, "mistyped field"),
                      ({"v": 1, "id": 11, "op": "open", "stream": "cam1", "source": "bus"}, "duplicate stream")]:
        r = c.receive(send_raw(c, bad))
        check(r.get("ok") is False and r.get("id") == bad["id"] and r.get("error"), what + " -> error reply")
    big = c.receive(send_raw(c, {"v": 1, "id": 12, "op": "ask", "stream": "cam1", "question": "x" * 100000}))
    check(big.get("ok") is False, "an oversized request gets an error reply")
    stats = c.request("stats")
    check(stats["service"]["malformed"] >= 2 and stats["service"]["unknown_op"] >= 1, "bad requests are counted")
    check(stats["streams"]["cam1"]["frames"] >= after, "stats report the stream's frames")
    c.request("close", stream="cam1")
    c.request("close", stream="file1")
    check(c.request("status")["streams"] == [], "close removes the streams")
    for s in (events, pub, c):
        s.close()


def curve_check(yoco, model):
    """With --curve-secret, a client that pins the server key is served; a plain client is not."""
    if not zmq.has("curve"):
        print("libzmq without CURVE: curve check skipped")
        return
    keys = json.loads(subprocess.check_output([yoco, "serve", "--curve-keygen"], text=True))
    ep = "tcp://127.0.0.1:%d" % free_port()
    server = subprocess.Popen([yoco, "serve", "--model", model, "--bind", ep, "--curve-secret", keys["secret"]],
                              stderr=subprocess.PIPE, text=True)
    try:
        server.stderr.readline()
        secure = Client(ep, timeout=10, server_key=keys["public"])
        check(secure.request("status")["ok"] is True, "CURVE: a client with the server key is served")
        plain = Client(ep, timeout=1.5)
        try:
            plain.request("status")
            check(False, "CURVE: a plain client must not be served")
        except TimeoutError:
            pass
        secure.close()
        plain.close()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)


def send_raw(client, msg):
    client.sock.send_multipart([b"", json.dumps(msg).encode()])
    return msg["id"]


if __name__ == "__main__":
    sys.exit(main())
