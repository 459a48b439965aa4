#!/usr/bin/python3
"""emqp_peer.py: an EventMQ 0.3.13 peer (job manager, client, admin) for
tests/router.test. It sends exactly EventMQ's frames (DEALER sockets with a
uuid4 identity, ['', 'eMQP/1.0', CMD, uuid4, ...]).

usage: emqp_peer.py FRONTEND BACKEND ADMIN SCENARIO [ARG]
scenarios: job, admin, bad, disconnect, journal-submit (prints the msgid of a
guarantee job left waiting on queue "jq"), journal-serve MSGID (a job manager
of "jq" must receive that job).
For the journal (tests/journal.test, journal_full.test): stream-kill PID
QUEUE MINACKS (streams guarantee jobs to QUEUE, sends SIGKILL to the router
PID at a random moment after MINACKS acknowledgements, and prints the msgid
of every job acknowledged), drain QUEUE N (a job manager of QUEUE receives N
jobs, answers each and prints their msgids; STATUS must show N waiting
first), submit QUEUE N SIZE (N guarantee jobs of SIZE bytes, one at a time:
prints "ack MSGID" or "refused MSGID CODE" for each), status KEY (prints that
key of STATUS as JSON), served (a job without guarantee runs end to end).
For CURVE (tests/curve.test): submit QUEUE (one job is acknowledged), refused
front|back|admin (a request there gets no answer in 3 s: the handshake never
completed), scheduler (INFORM as a scheduler is acknowledged),
scheduler-denied (it is refused: ERROR denied), exclusive-denied QUEUE
(INFORM for that queue is refused), inform QUEUE (a job manager of that queue
is acknowledged). With EMQP_CURVE_KEY (a secret key file) and
EMQP_CURVE_SERVER (the router's public key file) in the environment, every
socket is a CURVE client.
Exit 0 on success, 1 on failure, 77 if pyzmq is missing. Timeouts only bound
waiting (30 s, for a loaded machine); they are not assertions about speed."""
import json
import os
import random
import signal
import sys
import time
import uuid

try:
    import zmq
    import zmq.auth
except ImportError:
    sys.exit(77)

TIMEOUT_MS = 30000
BODY = ('["run", {"callable": "echo", "path": "builtin", "args": ["hi"], '
        '"kwargs": {}, "class_args": [], "class_kwargs": {}}]')
CTX = zmq.Context()


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def dealer(endpoint):
    s = CTX.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    if os.environ.get("EMQP_CURVE_KEY"):
        s.curve_publickey, s.curve_secretkey = zmq.auth.load_certificate(
            os.environ["EMQP_CURVE_KEY"])
        s.curve_serverkey = zmq.auth.load_certificate(os.environ["EMQP_CURVE_SERVER"])[0]
    s.setsockopt_string(zmq.IDENTITY, str(uuid.uuid4()))
    s.connect(endpoint)
    return s


def send(sock, cmd, *args, msgid=None):
    msgid = msgid or str(uuid.uuid4())
    sock.send_multipart([b'', b'eMQP/1.0', cmd.encode()] + [msgid.encode()] +
                        [a if isinstance(a, bytes) else a.encode() for a in args])
    return msgid


def recv(sock, want=None, skip=("HEARTBEAT",)):
    """Next message [cmd, msgid, args...] (str), skipping heartbeats."""
    while True:
        if not sock.poll(TIMEOUT_MS):
            fail("no %s within %d ms" % (want or "message", TIMEOUT_MS))
        m = sock.recv_multipart()
        if len(m) < 4 or m[0] != b'' or m[1] != b'eMQP/1.0':
            fail("malformed message from the router: %r" % m)
        cmd = m[2].decode()
        if cmd in skip:
            continue
        parts = [cmd] + [f.decode() for f in m[3:]]
        if want and cmd != want:
            fail("expected %s, got %r" % (want, parts))
        return parts


def job_manager(backend, queues='[[10, "default"]]'):
    jm = dealer(backend)
    inform = send(jm, "INFORM", queues, "worker")
    ack = recv(jm, "ACK")
    if ack[2] != inform:
        fail("ACK refers to %s, not the INFORM %s" % (ack[2], inform))
    send(jm, "READY")
    return jm


def run_one_job(frontend, jm, queue="default", headers="reply-requested"):
    client = dealer(frontend)
    req = send(client, "REQUEST", queue, headers, BODY)
    fwd = recv(jm, "REQUEST")
    if fwd[1] != req:
        fail("forwarded REQUEST has msgid %s, not the client's %s" % (fwd[1], req))
    if fwd[2] != queue or fwd[4] != BODY:
        fail("forwarded REQUEST changed the queue or body: %r" % fwd)
    if "reply-requested" not in fwd[3].split(","):
        fail("forwarded headers lack reply-requested: %r" % fwd[3])
    ackr = recv(client, "REPLY")
    if len(ackr) != 3 or ackr[2] != req:
        fail("dispatch ack is not REPLY [msgid, %s]: %r" % (req, ackr))
    send(jm, "REPLY", json.dumps({"value": "hi"}), req)
    send(jm, "READY")
    if "reply-requested" in headers:
        res = recv(client, "REPLY")
        if len(res) != 4 or res[3] != req or json.loads(res[2]) != {"value": "hi"}:
            fail("result REPLY is wrong: %r" % res)
    client.close()


def admin_status(admin):
    a = dealer(admin)
    send(a, "STATUS", msgid="admin:" + str(uuid.uuid4()))
    rep = recv(a, "REPLY")
    st = json.loads(rep[2])
    for key in ("inflight_messages_by_queue", "latency_messages_by_queue",
                "max_latency_messages_by_queue", "processed_messages_by_queue",
                "processed_messages_by_worker", "waiting_messages_by_queue", "queues",
                "uptime_s", "version"):
        if key not in st:
            fail("STATUS lacks %s: %r" % (key, st))
    send(a, "ROUTER_SHOW_WORKERS")
    w = json.loads(recv(a, "REPLY")[2])
    if "connected_workers" not in w or "connected_queues" not in w:
        fail("ROUTER_SHOW_WORKERS: %r" % w)
    send(a, "ROUTER_SHOW_SCHEDULERS")
    s = json.loads(recv(a, "REPLY")[2])
    if "connected_schedulers" not in s:
        fail("ROUTER_SHOW_SCHEDULERS: %r" % s)
    a.close()
    return st


def expect_error(sock, code, frames):
    sock.send_multipart(frames)
    err = recv(sock, "ERROR")
    if len(err) != 5 or err[3] != code:
        fail("expected ERROR %s for %r, got %r" % (code, frames[:5], err))


def bad_input(frontend, backend):
    c = dealer(frontend)
    expect_error(c, "short-message", [b'', b'eMQP/1.0', b'REQUEST'])
    expect_error(c, "unknown-command", [b'', b'eMQP/1.0', b'FROB', b'm1'])
    expect_error(c, "bad-arguments", [b'', b'eMQP/1.0', b'REQUEST', b'm2', b'default'])
    expect_error(c, "too-large", [b'', b'eMQP/1.0', b'REQUEST', b'm3', b'default', b'',
                                  b'x' * (2 * 1024 * 1024)])
    expect_error(c, "denied", [b'', b'eMQP/1.0', b'DISCONNECT', b'm4'])
    jm = dealer(backend)
    expect_error(jm, "bad-json", [b'', b'eMQP/1.0', b'INFORM', b'm5', b'[[10, "default"', b'worker'])
    expect_error(jm, "unknown-peer", [b'', b'eMQP/1.0', b'READY', b'm6'])
    c.close()
    jm.close()


def refused(endpoint, kind):
    """A request on endpoint gets no answer: the handshake never completed."""
    s = dealer(endpoint)
    if kind == "front":
        send(s, "REQUEST", "default", "", BODY)
    elif kind == "back":
        send(s, "INFORM", '[[10, "default"]]', "worker")
    else:
        send(s, "STATUS", msgid="admin:" + str(uuid.uuid4()))
    if s.poll(3000):
        fail("the %s answered: %r" % (kind, s.recv_multipart()))
    s.close()


def stream_kill(frontend, pid, queue, minacks):
    """Keeps up to WINDOW guarantee jobs unacknowledged; once MINACKS are
    acknowledged, kills the router at a random moment within 200 ms, then
    reads for a second what had reached this socket. Returns the msgids
    acknowledged, in order."""
    window, body = 256, 'x' * 2048
    c = dealer(frontend)
    outstanding, acked = set(), []
    kill_at = killed = None
    started = time.monotonic()
    while True:
        now = time.monotonic()
        while killed is None and len(outstanding) < window:
            outstanding.add(send(c, "REQUEST", queue, "guarantee", body))
        if c.poll(50):
            while c.poll(0):
                m = c.recv_multipart()
                cmd = m[2].decode()
                if cmd == "REPLY" and len(m) == 5 and m[4].decode() in outstanding:
                    outstanding.discard(m[4].decode())
                    acked.append(m[4].decode())
                elif cmd == "ERROR":
                    fail("stream: %r" % m)
        elif not acked and now - started > TIMEOUT_MS / 1000:
            fail("stream: no acknowledgement within %d ms" % TIMEOUT_MS)
        now = time.monotonic()
        if killed is None and kill_at is None and len(acked) >= minacks:
            kill_at = now + random.uniform(0, 0.2)
        if killed is None and kill_at is not None and now >= kill_at:
            os.kill(pid, signal.SIGKILL)
            killed = now
        if killed is not None and now - killed > 1.0:
            return acked


def drain(frontend, backend, admin, queue, n):
    """A job manager of queue takes the n jobs waiting there and answers each."""
    waiting = admin_status(admin)["waiting_messages_by_queue"].get(queue, 0)
    if waiting != n:
        fail("drain: STATUS shows %d waiting on %s, the log %d" % (waiting, queue, n))
    jm = job_manager(backend, json.dumps([[10, queue]]))
    got = []
    for _ in range(n):
        send(jm, "READY")
    while len(got) < n:
        fwd = recv(jm, "REQUEST")
        got.append(fwd[1])
        send(jm, "REPLY", json.dumps({"value": "hi"}), fwd[1])
    send(jm, "KBYE")
    jm.close()
    return got


def submit(frontend, queue, n, size):
    """n guarantee jobs, each answered before the next: (msgid, code or None)."""
    c = dealer(frontend)
    out = []
    for _ in range(n):
        req = send(c, "REQUEST", queue, "guarantee", 'x' * size)
        m = recv(c)
        if m[0] == "REPLY" and len(m) == 3 and m[2] == req:
            out.append((req, None))
        elif m[0] == "ERROR" and m[2] == req:
            out.append((req, m[3]))
        else:
            fail("submit: unexpected answer %r" % m)
    c.close()
    return out


def main():
    if len(sys.argv) < 5:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    frontend, backend, admin, scenario = sys.argv[1:5]
    if scenario == "job":
        jm = job_manager(backend)
        run_one_job(frontend, jm)
        run_one_job(frontend, jm, headers="")
        st = admin_status(admin)
        me = jm.getsockopt(zmq.IDENTITY).decode()
        if st["processed_messages_by_worker"].get(me) != 2:
            fail("STATUS processed_messages_by_worker: %r" % st)
        if st["queues"]["default"]["processed"] < 2:
            fail("STATUS queues.default.processed: %r" % st)
        # A request that waits (no free slot) is acknowledged too, then dispatched on READY.
        client = dealer(frontend)
        req = send(client, "REQUEST", "other", "reply-requested", BODY)
        ackr = recv(client, "REPLY")
        if ackr[2] != req:
            fail("buffered request not acknowledged: %r" % ackr)
        jm2 = job_manager(backend, '[[10, "other"]]')
        fwd = recv(jm2, "REQUEST")
        if fwd[1] != req:
            fail("buffered request not dispatched: %r" % fwd)
        send(jm2, "KBYE")
        send(jm, "KBYE")
    elif scenario == "admin":
        admin_status(admin)
    elif scenario == "bad":
        bad_input(frontend, backend)
        jm = job_manager(backend)
        run_one_job(frontend, jm)
        send(jm, "KBYE")
    elif scenario == "disconnect":
        a = dealer(admin)
        m = send(a, "DISCONNECT")
        ack = recv(a, "ACK")
        if ack[2] != m:
            fail("DISCONNECT ACK: %r" % ack)
    elif scenario == "journal-submit":
        client = dealer(frontend)
        req = send(client, "REQUEST", "jq", "guarantee", BODY)
        if recv(client, "REPLY")[2] != req:
            fail("journal job not acknowledged")
        print(req)
    elif scenario == "journal-serve":
        jm = job_manager(backend, '[[10, "jq"]]')
        fwd = recv(jm, "REQUEST")
        if fwd[1] != sys.argv[5] or fwd[4] != BODY:
            fail("journaled job not restored: %r" % fwd)
        send(jm, "REPLY", json.dumps({"value": "hi"}), fwd[1])
        send(jm, "KBYE")
    elif scenario == "submit" and len(sys.argv) > 6:
        for req, code in submit(frontend, sys.argv[5], int(sys.argv[6]), int(sys.argv[7])):
            print("ack " + req if code is None else "refused %s %s" % (req, code))
    elif scenario == "submit":
        client = dealer(frontend)
        req = send(client, "REQUEST", sys.argv[5], "", BODY)
        if recv(client, "REPLY")[2] != req:
            fail("job not acknowledged")
    elif scenario == "refused":
        refused({"front": frontend, "back": backend, "admin": admin}[sys.argv[5]], sys.argv[5])
    elif scenario in ("scheduler", "scheduler-denied"):
        s = dealer(frontend)
        inform = send(s, "INFORM", "", "scheduler")
        if scenario == "scheduler":
            if recv(s, "ACK")[2] != inform:
                fail("ACK does not refer to the INFORM")
            send(s, "KBYE")
        else:
            err = recv(s, "ERROR")
            if err[2] != inform or err[3] != "denied":
                fail("INFORM as a scheduler answered %r" % err)
    elif scenario == "inform":
        jm = job_manager(backend, json.dumps([[10, sys.argv[5]]]))
        send(jm, "KBYE")
    elif scenario == "exclusive-denied":
        jm = dealer(backend)
        inform = send(jm, "INFORM", json.dumps([[10, sys.argv[5]]]), "worker")
        err = recv(jm, "ERROR")
        if err[2] != inform or err[3] != "denied":
            fail("INFORM for an exclusive queue answered %r" % err)
    elif scenario == "stream-kill":
        for m in stream_kill(frontend, int(sys.argv[5]), sys.argv[6], int(sys.argv[7])):
            print(m)
    elif scenario == "drain":
        for m in drain(frontend, backend, admin, sys.argv[5], int(sys.argv[6])):
            print(m)
    elif scenario == "status":
        print(json.dumps(admin_status(admin).get(sys.argv[5])))
    elif scenario == "served":
        jm = job_manager(backend)
        run_one_job(frontend, jm)
        send(jm, "KBYE")
    else:
        fail("unknown scenario " + scenario)
    CTX.destroy(linger=0)


if __name__ == "__main__":
    main()
