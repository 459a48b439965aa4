"""A stand-in for gearhorn-router's backend, for tests/jobmanager.test.

Binds a ROUTER socket, plays EventMQ 0.3.13's router towards one
gearhorn-jobmanager (INFORM/ACK, HEARTBEAT, READY credits, REQUEST frames
exactly as EventMQ forwards them) and checks every answer. Exits 0 when all
checks pass, 1 with a message otherwise.

usage: JM_LOG=FILE fake_router.py PORT JOBMANAGER_PID CONCURRENT_JOBS [grace | prefetch N | orphans]

With "grace", only checks that SIGTERM kills a job that outlives
kill_grace_period and reports it as crashed. With "prefetch N", checks a job
manager started with that prefetch: its READYs, jobs queued behind running
ones, a job that waits out its timeout, and the hand-back of jobs not
started at SIGTERM. With "orphans", kills the job manager (SIGKILL) while
one worker runs a job and another a program (a job manager whose programs
include sleep=/path/to/sleep), and checks that none of its processes lives
on.

DEAD_PORT, if set, is held by a listener that never answers. JM_LOG names
the job manager's log, read to learn when it has taken a SIGTERM. Jobs that must be running while the test acts are testmod's "hold"
jobs, which say when they start and end when the test opens their gate, so
that no check depends on how fast the machine is.
"""
import atexit
import json
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
import time
import uuid

import zmq

PORT, JM_PID, JOBS = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
MODE = sys.argv[4] if len(sys.argv) > 4 else "full"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

# Marks and gates of testmod's "hold" jobs.
TMP = tempfile.mkdtemp(prefix="fake_router-")
atexit.register(shutil.rmtree, TMP, True)

# The dead router of the job manager's list (DEAD_PORT): a listener that
# never answers, holding the port so that no other test's server takes it.
if os.environ.get("DEAD_PORT"):
    dead = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    dead.bind(("127.0.0.1", int(os.environ["DEAD_PORT"])))
    dead.listen(16)

ctx = zmq.Context()
sock = ctx.socket(zmq.ROUTER)
sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
sock.setsockopt(zmq.LINGER, 0)
sock.bind("tcp://127.0.0.1:%d" % PORT)

peer = None          # the job manager's current identity
keepalive = True     # send router heartbeats while waiting
last_hb_sent = 0.0
heartbeats = 0       # HEARTBEATs received
informing = None     # identity whose INFORM we ACKed, not heard from since
checks = 0


def fail(msg):
    print("fake_router: FAIL: %s" % msg, flush=True)
    sys.exit(1)


def ok(what):
    global checks
    checks += 1
    print("fake_router: ok %d - %s" % (checks, what), flush=True)


def send(cmd, *args, to=None):
    frames = [to or peer, b"", b"eMQP/1.0", cmd.encode(), str(uuid.uuid4()).encode()]
    frames += [a.encode() if isinstance(a, str) else a for a in args]
    sock.send_multipart(frames)


def send_request(msgid, queue, headers, body):
    """A REQUEST as EventMQ's router forwards it: the client's msgid kept."""
    sock.send_multipart([peer, b"", b"eMQP/1.0", b"REQUEST", msgid.encode(), queue.encode(),
                         headers.encode(), body.encode()])


def job(callable_, args=(), path="builtin", kwargs=None):
    # Python's json.dumps, like EventMQ's client (client/messages.py).
    return json.dumps(["run", {"callable": callable_, "path": path, "args": list(args),
                               "kwargs": kwargs or {}, "class_args": [], "class_kwargs": {}}])


# Built before the job manager is served: on a loaded machine, building it
# later could outlast the job manager's heartbeat timeout.
HUGE = job("echo", ["x" * (17 * 1024 * 1024)])


def recv(timeout):
    """The next message that is not a HEARTBEAT, as (identity, cmd, msgid, args)."""
    global heartbeats, last_hb_sent, informing
    deadline = time.time() + timeout
    while True:
        now = time.time()
        if keepalive and peer is not None and now - last_hb_sent > 0.5:
            try:
                send("HEARTBEAT", "%.6f" % now)
            except zmq.ZMQError:  # the job manager left this identity
                pass
            last_hb_sent = now
        left = deadline - now
        if left <= 0:
            return None
        if not sock.poll(min(left, 0.2) * 1000):
            continue
        f = sock.recv_multipart()
        if len(f) < 5 or f[1] != b"" or f[2] != b"eMQP/1.0":
            fail("malformed frames %r" % f)
        ident, cmd, msgid = f[0], f[3].decode(), f[4].decode()
        args = [a.decode() for a in f[5:]]
        if not UUID_RE.match(msgid):
            fail("%s msgid %r is not a uuid4" % (cmd, msgid))
        if ident == informing:
            if cmd == "INFORM":
                # Re-sent before our ACK reached it (a slow start, a loaded
                # machine): a router registers it again, and ACKs it.
                send("ACK", msgid, to=ident)
                continue
            informing = None
        if cmd == "HEARTBEAT":
            if len(args) != 1 or not re.match(r"^\d+\.\d{6}$", args[0]):
                fail("HEARTBEAT frames %r" % args)
            heartbeats += 1
            continue
        return ident, cmd, msgid, args


def expect(cmd, timeout=15):
    m = recv(timeout)
    if m is None:
        fail("expected %s, got nothing in %d s" % (cmd, timeout))
    if m[1] != cmd:
        fail("expected %s, got %s %r" % (cmd, m[1], m[3]))
    if peer is not None and cmd != "INFORM" and m[0] != peer:
        fail("%s from an unexpected identity %r" % (cmd, m[0]))
    return m


def expect_nothing(seconds):
    m = recv(seconds)
    if m is not None:
        fail("expected silence, got %s %r" % (m[1], m[3]))


def expect_informed(ident=None):
    """INFORM with the configured queues; ACK it; returns the identity."""
    global peer, informing
    i, _, msgid, args = expect("INFORM")
    if args != ['[[20,"email"],[10,"default"]]', "worker"]:
        fail("INFORM arguments %r" % args)
    if ident is not None and i != ident:
        fail("INFORM came from a new identity, expected the same one")
    peer = i
    send("ACK", msgid)
    informing = i
    return i, msgid


def expect_readies(n):
    for _ in range(n):
        expect("READY")
    expect_nothing(0.5)  # never more READYs than idle workers


def run_job(msgid, body, headers="reply-requested", queue="email"):
    send_request(msgid, queue, headers, body)


def hold(name, seconds=30, gate=True):
    """A job (tests/handlers/testmod.c "hold") that marks itself started and
    ends with "opened" when open_gate(name) is called (never, without a gate)."""
    mark = os.path.join(TMP, name + ".started")
    g = os.path.join(TMP, name + ".gate") if gate else ""
    return job("hold", [mark, g, seconds], path="testmod")


def wait_until(done, what, take=None, timeout=15):
    """Waits until done() is true, serving heartbeats meanwhile. Nothing
    may arrive but what take(cmd, args) accepts."""
    deadline = time.time() + timeout
    while not done():
        if time.time() > deadline:
            fail("waited %d s for %s" % (timeout, what))
        m = recv(0.05)
        if m is not None and not (take and take(m[1], m[3])):
            fail("waiting for %s, got %s %r" % (what, m[1], m[3]))


def wait_started(*names):
    """Waits until the hold jobs named have started."""
    wait_until(lambda: all(os.path.exists(os.path.join(TMP, n + ".started")) for n in names),
               "%r to start" % (names,))


def wait_log(pattern, what, take=None):
    """Waits until the job manager's log (JM_LOG in the environment) matches
    pattern; take as for wait_until."""
    def logged():
        with open(os.environ["JM_LOG"], errors="replace") as f:
            return re.search(pattern, f.read()) is not None
    wait_until(logged, what + " in the job manager's log", take)


def sigterm(take=None):
    """SIGTERM to the job manager; returns once it has taken it."""
    os.kill(JM_PID, signal.SIGTERM)
    wait_log(r"signal 15: stopping", "that it is stopping", take)


def open_gate(name):
    open(os.path.join(TMP, name + ".gate"), "w").close()


def expect_reply(msgid):
    _, _, _, args = expect("REPLY")
    if len(args) != 2 or args[1] != msgid:
        fail("REPLY frames %r, expected [result, %s]" % (args, msgid))
    try:
        result = json.loads(args[0])
    except ValueError:
        fail("REPLY result is not JSON: %r" % args[0])
    if not isinstance(result, dict) or list(result) != ["value"]:
        fail("REPLY result %r is not {\"value\": ...}" % result)
    return result["value"]


def expect_error(msgid, code, text=None):
    _, _, _, args = expect("ERROR")
    if len(args) != 3 or args[0] != msgid or args[1] != code:
        fail("ERROR frames %r, expected [%s, %s, text]" % (args, msgid, code))
    if text is not None and text not in args[2]:
        fail("ERROR text %r does not contain %r" % (args[2], text))
    return args[2]


def proc_stat(pid):
    """(name, state, parent pid) of a process, or None if it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
    except OSError:
        return None
    rest = st[st.rindex(")") + 2:].split()
    return st[st.index("(") + 1:st.rindex(")")], rest[0], int(rest[1])


def alive(pid):
    st = proc_stat(pid)
    return st is not None and st[1] != "Z"  # a zombie has ended


def descendants(root):
    """(pid, name) of every living process below root."""
    children = {}
    for d in os.listdir("/proc"):
        st = proc_stat(int(d)) if d.isdigit() else None
        if st is not None and st[1] != "Z":
            children.setdefault(st[2], []).append((int(d), st[0]))
    found, todo = [], [root]
    while todo:
        for pid, name in children.get(todo.pop(), []):
            found.append((pid, name))
            todo.append(pid)
    return found


if MODE == "orphans":
    expect_informed()
    expect_readies(JOBS)
    # Both would outlast the wait below by far.
    run_job("m-held", hold("m-held", 600, gate=False))
    run_job("m-sleep", json.dumps(["exec", {"program": "sleep", "args": ["600"]}]))
    wait_started("m-held")
    wait_until(lambda: any(n == "sleep" for _, n in descendants(JM_PID)), "the program to start")
    procs = descendants(JM_PID)
    os.kill(JM_PID, signal.SIGKILL)
    keepalive = False
    # Bounded, and no measure of time: they must go, however loaded the machine.
    give_up = time.time() + 60
    while any(alive(pid) for pid, _ in procs) and time.time() < give_up:
        time.sleep(0.05)
    left = [(pid, name) for pid, name in procs if alive(pid)]
    for pid, _ in left:
        os.kill(pid, signal.SIGKILL)
    if left:
        fail("processes of the killed job manager live on: %r" % left)
    ok("kill -9 of the job manager: its %d worker processes and the program die with it"
       % (len(procs) - 1))
    sys.exit(0)

if MODE == "grace":
    expect_informed()
    expect_readies(JOBS)
    run_job("m-stuck", hold("m-stuck", 60, gate=False))
    wait_started("m-stuck")
    os.kill(JM_PID, signal.SIGTERM)
    expect_error("m-stuck", "crashed")
    keepalive = False
    expect("KBYE")
    expect_nothing(0.5)
    ok("SIGTERM; a job outliving kill_grace_period -> ERROR crashed, then KBYE")
    sys.exit(0)

if MODE == "prefetch":
    PREFETCH = int(sys.argv[5])
    slots = JOBS + PREFETCH
    expect_informed()
    expect_readies(slots)
    ok("READYs for %d workers plus a prefetch of %d" % (JOBS, PREFETCH))

    # As many jobs as slots: those beyond the workers wait, all run, and a
    # READY follows each.
    ids = ["m-p%d" % k for k in range(slots)]
    run_job(ids[0], job("sleep", [0.4]))
    for k in ids[1:]:
        run_job(k, job("echo", [k]))
    seen, readies = [], 0
    while len(seen) < slots or readies < slots:
        _, cmd, _, args = recv(10) or fail("prefetch: nothing")
        if cmd == "REPLY":
            seen.append(args[1])
        elif cmd == "READY":
            readies += 1
        else:
            fail("prefetch: got %s %r" % (cmd, args))
    if sorted(seen) != sorted(ids):
        fail("prefetch: REPLYs for %r, expected %r" % (seen, ids))
    expect_nothing(0.5)
    ok("%d jobs on %d workers with prefetch: all run, %d READYs" % (slots, JOBS, slots))

    # A job whose timeout runs out while it waits is not run.
    # The workers are held until well after its deadline, which runs from
    # when the job manager received it.
    busy = ["m-busy%d" % k for k in range(JOBS)]
    for k in busy:
        run_job(k, hold(k))
    wait_started(*busy)
    run_job("m-late", job("echo", ["late"]), headers="reply-requested,timeout:1")
    wait_log(r"REQUEST m-late ", "that m-late arrived")
    expect_nothing(1.5)
    for k in busy:
        open_gate(k)
    replies = readies = late = 0
    while replies < JOBS or readies < JOBS + 1 or not late:
        _, cmd, _, args = recv(10) or fail("late: nothing")
        if cmd == "REPLY" and args[1] in busy:
            replies += 1
        elif cmd == "ERROR" and args[:2] == ["m-late", "timeout"]:
            late = 1
        elif cmd == "READY":
            readies += 1
        else:
            fail("late: got %s %r" % (cmd, args))
    ok("a job that waits out its timeout -> ERROR timeout, not run")

    # SIGTERM: running jobs finish, the rest come back as ERROR not-run, and
    # KBYE comes last, when nothing of ours is in flight.
    running = ["m-run%d" % k for k in range(JOBS)]
    for k in running:
        run_job(k, hold(k))
    waiting = ["m-wait%d" % k for k in range(PREFETCH)]
    for k in waiting:
        run_job(k, job("echo", [k]))
    wait_started(*running)
    back = []

    def handed_back(cmd, args):
        if cmd == "ERROR" and args[1] == "not-run":
            back.append(args[0])
            return True
        return False

    # Jobs waiting in the job manager come back at once, jobs queued on a
    # worker (behind a running one) when that worker reaches them.
    sigterm(handed_back)
    for k in running:
        open_gate(k)
    replies = 0
    while replies < JOBS or len(back) < PREFETCH:
        _, cmd, _, args = recv(10) or fail("SIGTERM: nothing")
        if cmd == "REPLY" and args[1] in running:
            replies += 1
        elif not handed_back(cmd, args):
            fail("SIGTERM: got %s %r before KBYE" % (cmd, args))
    if sorted(back) != sorted(waiting):
        fail("SIGTERM: handed back %r, expected %r" % (back, waiting))
    keepalive = False
    expect("KBYE")
    expect_nothing(0.5)
    ok("SIGTERM -> running jobs finish, %d waiting ones handed back (not-run), KBYE last"
       % PREFETCH)
    sys.exit(0)

# 1. INFORM (the first one is left unanswered: it must be sent again), ACK.
i1, m1 = expect("INFORM")[0], None
peer = i1
_, _, m2, args = expect("INFORM")
if args != ['[[20,"email"],[10,"default"]]', "worker"]:
    fail("INFORM arguments %r" % args)
send("ACK", m2)
informing = peer
ok("INFORM re-sent until ACKed, queues from -Q in EventMQ's JSON")
send("HEARTBEAT", "%.6f" % time.time())
expect_readies(JOBS)
ok("one READY per worker (%d), no more" % JOBS)

# 2. Results and errors, each followed by READY.
run_job("m-echo", job("echo", ["hello"]))
if expect_reply("m-echo") != "hello":
    fail("echo result")
expect("READY")
ok("REQUEST -> REPLY [{\"value\": ...}, msgid] -> READY")

run_job("m-echo2", job("echo", [1, {"a": [True, None]}]), headers="")
if expect_reply("m-echo2") != [1, {"a": [True, None]}]:
    fail("echo2 result")
expect("READY")
ok("REPLY is sent without reply-requested too")

cases = [
    ("m-fail", job("fail", ["boom"]), "job-failed", "boom"),
    ("m-notjson", "not json", "bad-job", "not JSON"),
    ("m-shape", '["run"]', "bad-job", None),
    ("m-path", job("x", path="../x"), "bad-job", "module name"),
    ("m-abs", job("x", path="/etc/passwd"), "bad-job", "module name"),
    ("m-nomod", job("x", path="nosuch"), "bad-job", "nosuch"),
    ("m-nocall", job("nope"), "bad-job", "nope"),
    ("m-crash", job("crash"), "crashed", "signal"),
    ("m-exit", job("exit"), "crashed", "exited with status"),
]
for msgid, body, code, text in cases:
    run_job(msgid, body)
    expect_error(msgid, code, text)
    expect("READY")
    ok("%s -> ERROR %s -> READY" % (msgid, code))

run_job("m-timeout", job("sleep", [30]), headers="reply-requested,timeout:1")
expect_error("m-timeout", "timeout")
expect("READY")
ok("timeout:1 -> worker killed, ERROR timeout -> READY")

# A malformed REQUEST (2 argument frames) is refused by msgid; the router
# spent a credit on it, so the free slot is advertised again.
sock.send_multipart([peer, b"", b"eMQP/1.0", b"REQUEST", b"m-short", b"email", b"x"])
expect_error("m-short", "bad-job")
expect("READY")
expect_nothing(0.5)
ok("malformed REQUEST -> ERROR bad-job -> READY")

# 3. All workers busy at once.
for k in range(JOBS):
    run_job("m-par%d" % k, job("sleep", [0.3]))
seen = set()
readies = 0
while len(seen) < JOBS or readies < JOBS:
    _, cmd, _, args = recv(10) or fail("concurrent jobs: nothing")
    if cmd == "REPLY":
        seen.add(args[1])
    elif cmd == "READY":
        readies += 1
    else:
        fail("concurrent jobs: got %s" % cmd)
expect_nothing(0.3)
ok("%d jobs at once -> %d REPLYs, %d READYs" % (JOBS, JOBS, JOBS))

# Handler modules from handler_dirs, and allowlisted programs.
run_job("m-mod", job("add", [1, 2, 3], path="testmod"))
if expect_reply("m-mod") != 6:
    fail("testmod add")
expect("READY")
run_job("m-exec", json.dumps(["exec", {"program": "cat", "args": [], "stdin": "piped\ntext"}]))
if expect_reply("m-exec") != "piped\ntext":
    fail("exec cat")
expect("READY")
run_job("m-noexec", json.dumps(["exec", {"program": "rm", "args": ["-rf", "/"]}]))
expect_error("m-noexec", "bad-job", "not allowed")
expect("READY")
ok("handler module, exec of an allowlisted program, refusal of another")

# A job larger than 16 MiB is refused by its msgid.
run_job("m-huge", HUGE)
expect_error("m-huge", "bad-job", "too large")
expect("READY")
ok("oversized job -> ERROR bad-job -> READY")

# More REQUESTs than READY credits (a router that does not count): they wait
# for a worker, and no more READYs than idle workers follow.
for k in range(JOBS + 2):
    run_job("m-over%d" % k, job("sleep", [0.2]))
seen = set()
readies = 0
while len(seen) < JOBS + 2 or readies < JOBS:
    _, cmd, _, args = recv(10) or fail("over-commit: nothing")
    if cmd == "REPLY":
        seen.add(args[1])
    elif cmd == "READY":
        readies += 1
    else:
        fail("over-commit: got %s" % cmd)
expect_nothing(0.5)
ok("%d jobs on %d credits all run; %d READYs after" % (JOBS + 2, JOBS, JOBS))

# SIGHUP reloads without touching the workers or the connection.
os.kill(JM_PID, signal.SIGHUP)
time.sleep(0.2)
run_job("m-hup", job("echo", ["after hup"]))
if expect_reply("m-hup") != "after hup":
    fail("after SIGHUP")
expect("READY")
expect_nothing(0.5)
ok("SIGHUP -> jobs still run, no reconnect")

# 4. DISCONNECT from the router is ignored.
send("DISCONNECT")
run_job("m-after", job("echo", ["still here"]))
if expect_reply("m-after") != "still here":
    fail("after DISCONNECT")
expect("READY")
ok("DISCONNECT ignored")

# 5. ERROR unknown-peer: INFORM again on the same connection.
send("ERROR", "", "unknown-peer", "who are you")
expect_informed(ident=peer)
expect_readies(JOBS)
ok("ERROR unknown-peer -> re-INFORM, same identity, READYs again")

# 6. KBYE: a new identity, INFORM, READYs.
old = peer
send("KBYE")
new, _ = expect_informed()
if new == old:
    fail("KBYE: the identity did not change")
expect_readies(JOBS)
ok("KBYE -> reconnect with a new identity")

# 7. Heartbeat loss: a job keeps running, the job manager reconnects (by way
# of the dead router first in its list), only idle slots are advertised and
# the result reaches the new connection.
run_job("m-long", hold("m-long", 60))
wait_started("m-long")
keepalive = False
old = peer
new, _ = expect_informed()
keepalive = True
if new == old:
    fail("heartbeat loss: the identity did not change")
expect_readies(JOBS - 1)  # a busy worker is not advertised
open_gate("m-long")
if expect_reply("m-long") != "opened":
    fail("m-long result")
expect("READY")
expect_nothing(0.3)
if heartbeats == 0:
    fail("no HEARTBEAT from the job manager")
ok("heartbeat loss -> reconnect; running job finished; only idle slots advertised")

# 8. SIGTERM: the running job's result, no READY, then KBYE; exit (checked
# by the test).
run_job("m-last", hold("m-last"))
wait_started("m-last")
sigterm()
# A REQUEST after SIGTERM (the router had a credit for the idle worker) is
# refused; its answer also shows that the job manager is stopping.
run_job("m-refused", job("echo", ["too late"]))
expect_error("m-refused", "not-run", "shutting down")
open_gate("m-last")
if expect_reply("m-last") != "opened":
    fail("m-last result")
keepalive = False  # the job manager is leaving
expect("KBYE")
expect_nothing(0.5)
ok("SIGTERM -> later REQUEST refused, running job finished and reported, then KBYE")
print("fake_router: all %d checks passed (%d heartbeats received)" % (checks, heartbeats))
sys.exit(0)
