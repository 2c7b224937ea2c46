"""test_http_limits - the agent's HTTP server under abuse, over raw sockets.

Each test starts a real agent with short limits and talks to it the way a
broken or hostile client would: too slowly, too much, malformed, pipelined
then half-closed, or many at once under a low file descriptor limit. Every
case also checks that the agent still answers /health afterwards.
"""
import json
import os
import resource
import socket
import time
import unittest

from agent_fixture import AgentTestCase
from portiso_test import wait_for

HEALTH = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"


def connect(agent, timeout=10):
    return socket.create_connection(("127.0.0.1", agent.port), timeout=timeout)


def read_all(s, timeout=10):
    """Read until EOF (or a reset); return the bytes."""
    s.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except ConnectionResetError:
        pass
    return data


def statuses(data):
    """Status codes of every answer in a byte stream, in order."""
    out, pos = [], 0
    while True:
        i = data.find(b"HTTP/1.1 ", pos)
        if i < 0:
            return out
        out.append(int(data[i + 9:i + 12]))
        pos = i + 12


def exchange(agent, raw, timeout=10):
    """Send raw bytes, half-close, return (statuses, bytes)."""
    with connect(agent, timeout) as s:
        s.sendall(raw)
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        data = read_all(s, timeout)
    return statuses(data), data


def closed_after(s, feed=None, interval=0.2, limit=15):
    """Seconds until the agent closes s; feed() is called every interval
    (a client trickling bytes)."""
    t0 = time.monotonic()
    s.settimeout(interval)
    while time.monotonic() - t0 < limit:
        try:
            if not s.recv(4096):
                return time.monotonic() - t0
        except socket.timeout:
            pass
        except ConnectionResetError:
            return time.monotonic() - t0
        if feed:
            try:
                feed()
            except (BrokenPipeError, ConnectionResetError):
                return time.monotonic() - t0
    raise AssertionError(f"connection still open after {limit}s")


class TestTimeouts(AgentTestCase):
    def test_idle_connection_closed(self):
        a = self.start_agent(http_idle_timeout="1secs")
        with connect(a) as s:
            t = closed_after(s)
        self.assertGreater(t, 0.8)
        self.assertLess(t, 3)
        # After an answer the connection is idle again, and closed again.
        with connect(a) as s:
            s.sendall(HEALTH)
            self.assertEqual(s.recv(4096)[:12], b"HTTP/1.1 200")
            t = closed_after(s)
        self.assertGreater(t, 0.8)
        self.assertLess(t, 3)
        self.assertEqual(a.get("/health")[0], 200)

    def test_slow_headers_closed(self):
        # Trickling a header line every 0.2 s keeps any inactivity timer
        # happy; the header timeout counts from the request's first byte.
        a = self.start_agent(http_header_timeout="1secs", http_idle_timeout="30secs")
        with connect(a) as s:
            s.sendall(b"GET /health HTTP/1.1\r\n")
            n = iter(range(1000))
            t = closed_after(s, feed=lambda: s.sendall(b"X-%d: y\r\n" % next(n)))
        self.assertGreater(t, 0.8)
        self.assertLess(t, 3)
        self.assertEqual(a.get("/health")[0], 200)

    def test_slow_body_closed(self):
        a = self.start_agent(http_body_timeout="1secs", http_idle_timeout="30secs",
                             http_header_timeout="30secs")
        with connect(a) as s:
            s.sendall(b"POST /api/v1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 10000\r\n\r\n{")
            t = closed_after(s, feed=lambda: s.sendall(b" "))
        self.assertGreater(t, 0.8)
        self.assertLess(t, 3)
        self.assertEqual(a.get("/health")[0], 200)

    def test_long_poll_outlives_the_timeouts(self):
        # A deferred answer is not a slow client: a pending wait stays.
        a = self.start_agent(http_idle_timeout="1secs", http_header_timeout="1secs",
                             http_body_timeout="1secs")
        a.launch("lp", "exec sleep 1000", ports=[31400])
        a.wait_state("lp", "RUNNING")
        body = json.dumps({"type": "WAIT_CONTAINER",
                           "wait_container": {"container_id": {"value": "lp"}}}).encode()
        with connect(a) as s:
            s.sendall(b"POST /api/v1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(body) + body)
            wait_for(lambda: a.metrics()["api/pending_waits"] == 1, what="the pending wait")
            s.settimeout(2.5)
            with self.assertRaises(socket.timeout):
                s.recv(4096)
            a.kill("lp")
            s.settimeout(10)
            self.assertEqual(s.recv(4096)[:12], b"HTTP/1.1 200")
        a.wait("lp")


class TestFraming(AgentTestCase):
    def test_bad_content_length_is_400(self):
        a = self.start_agent()
        head = b"POST /api/v1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        call = b'{"type":"GET_HEALTH"}'
        n = b"%d" % len(call)
        cases = {
            "duplicate": b"Content-Length: " + n + b"\r\nContent-Length: " + n + b"\r\n",
            "conflicting": b"Content-Length: " + n + b"\r\nContent-Length: 5\r\n",
            "list": b"Content-Length: " + n + b", " + n + b"\r\n",
            "with chunked": b"Content-Length: " + n + b"\r\nTransfer-Encoding: chunked\r\n",
            "negative": b"Content-Length: -1\r\n",
            "not a number": b"Content-Length: 1x\r\n",
        }
        for name, hdrs in cases.items():
            st, data = exchange(a, head + hdrs + b"\r\n" + call)
            self.assertEqual(st, [400], f"{name}: {data[:200]!r}")
            self.assertIn(b"Connection: close", data)
            self.assertIn(b"malformed HTTP request", data)
        # The same call, well framed, works.
        st, _ = exchange(a, head + b"Content-Length: " + n + b"\r\n\r\n" + call)
        self.assertEqual(st, [200])

    def test_declared_body_over_limit_is_413_at_once(self):
        a = self.start_agent(http_body_timeout="30secs")
        with connect(a) as s:
            t0 = time.monotonic()
            # The headers alone: the answer must not wait for the body.
            s.sendall(b"POST /api/v1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\n\r\n" % (2 << 20))
            s.settimeout(5)
            first = s.recv(4096)
            self.assertLess(time.monotonic() - t0, 3)  # the body timeout is 30 s
        self.assertEqual(statuses(first), [413], first)
        self.assertIn(b"1048576", first)
        self.assertEqual(a.get("/health")[0], 200)

    def test_body_limit_flag(self):
        # The limit itself still fits.
        b = self.start_agent(http_max_body_size="100B")
        ok = b'{"type":"GET_HEALTH","pad":"' + b"x" * (100 - 30) + b'"}'
        self.assertEqual(len(ok), 100)
        for body, want in ((ok, 200), (ok + b" ", 413)):
            st, _ = exchange(b, b"POST /api/v1 HTTP/1.1\r\nHost: x\r\n"
                                b"Content-Type: application/json\r\n"
                                b"Content-Length: %d\r\n\r\n" % len(body) + body)
            self.assertEqual(st, [want])

    def test_chunked_body_over_limit_is_413(self):
        a = self.start_agent(http_max_body_size="1KB")
        chunk = b"x" * 600
        raw = (b"POST /api/v1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n"
               + (b"%x\r\n" % len(chunk) + chunk + b"\r\n") * 2 + b"0\r\n\r\n")
        st, _ = exchange(a, raw)
        self.assertEqual(st, [413])
        # A chunked call within the limit is read and answered.
        call = b'{"type":"GET_HEALTH"}'
        st, _ = exchange(a, b"POST /api/v1 HTTP/1.1\r\nHost: x\r\n"
                            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                            + b"%x\r\n" % len(call) + call + b"\r\n0\r\n\r\n")
        self.assertEqual(st, [200])

    def test_oversized_headers_are_431(self):
        a = self.start_agent()
        big = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (70 << 10) + b"\r\n\r\n"
        st, data = exchange(a, big)
        self.assertEqual(st, [431], data[:200])
        fits = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (60 << 10) + b"\r\n\r\n"
        self.assertEqual(exchange(a, fits)[0], [200])
        many = b"GET /health HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(9000))
        self.assertEqual(exchange(a, many + b"\r\n")[0], [431])
        long_target = b"GET /health?" + b"q" * (70 << 10) + b" HTTP/1.1\r\nHost: x\r\n\r\n"
        self.assertEqual(exchange(a, long_target)[0], [431])

    def test_header_limit_flag(self):
        b = self.start_agent(http_max_header_size="4KB")
        self.assertEqual(exchange(b, b"GET /health HTTP/1.1\r\nX: " + b"a" * 5000 +
                                  b"\r\n\r\n")[0], [431])
        self.assertEqual(exchange(b, HEALTH)[0], [200])

    def test_nul_and_bare_cr_are_400(self):
        a = self.start_agent()
        cases = {
            "NUL in a value": b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
            "NUL in a name": b"GET /health HTTP/1.1\r\nHost: x\r\nX\x00A: b\r\n\r\n",
            "NUL in the target": b"GET /hea\x00lth HTTP/1.1\r\nHost: x\r\n\r\n",
            "bare CR in a value": b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n",
            "bare CR ending a line": b"GET /health HTTP/1.1\r\nHost: x\rX-A: b\r\n\r\n",
            "bare CR in a name": b"GET /health HTTP/1.1\r\nHost: x\r\nX\rA: b\r\n\r\n",
            "control char in a value": b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n",
        }
        for name, raw in cases.items():
            st, data = exchange(a, raw)
            self.assertEqual(st, [400], f"{name}: {data[:200]!r}")
            body = data.partition(b"\r\n\r\n")[2]
            self.assertEqual(body.count(b"\n"), 1, f"{name}: one line, got {body!r}")
        self.assertEqual(a.get("/health")[0], 200)

    def test_expect_100_continue(self):
        # curl sends larger bodies only after the server's 100 Continue.
        a = self.start_agent()
        call = b'{"type":"GET_HEALTH"}'
        head = (b"POST /api/v1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n" % len(call))
        with connect(a) as s:
            s.sendall(head + b"Expect: 100-continue\r\n\r\n")
            self.assertEqual(s.recv(4096), b"HTTP/1.1 100 Continue\r\n\r\n")
            s.sendall(call)
            self.assertEqual(s.recv(4096)[:12], b"HTTP/1.1 200")
        self.assertEqual(exchange(a, head + b"Expect: teapot\r\n\r\n" + call)[0], [417])

    def test_pipelined_requests_then_half_close(self):
        a = self.start_agent()
        # 200 requests in one write, then shutdown(SHUT_WR): every one is
        # answered, in order.
        self.assertEqual(exchange(a, HEALTH * 200)[0], [200] * 200)

        version = json.dumps({"type": "GET_VERSION"}).encode()
        post = (b"POST /api/v1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n" % len(version) + version)
        nope = b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
        raw, want = b"", []
        for i in range(60):
            part, code = ((HEALTH, 200), (post, 200), (nope, 404))[i % 3]
            raw += part
            want.append(code)
        st, data = exchange(a, raw)
        self.assertEqual(st, want)
        self.assertEqual(data.count(b'"get_version"'), 20)

        # Sent byte by byte, the answers are the same.
        with connect(a) as s:
            for i in range(len(HEALTH * 3)):
                s.sendall((HEALTH * 3)[i:i + 1])
            s.shutdown(socket.SHUT_WR)
            self.assertEqual(statuses(read_all(s)), [200] * 3)


class TestBackPressure(AgentTestCase):
    @staticmethod
    def rss_kib(pid):
        with open(f"/proc/{pid}/status") as f:
            return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))

    def test_client_that_never_reads(self):
        # Pipelined requests whose answers are never read: the agent stops
        # taking requests once answers pile up, then the idle timeout ends
        # the connection. Without the bound it would buffer every answer.
        # Under ASan, freed memory waits in a quarantine: keep it small so
        # that RSS shows what the agent holds.
        asan = os.environ.get("ASAN_OPTIONS", "")
        a = self.start_agent(http_idle_timeout="3secs",
                             env={"ASAN_OPTIONS": f"{asan}:quarantine_size_mb=1".lstrip(":")})
        rss0 = self.rss_kib(a.proc.pid)
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # answers pile up soon
        s.connect(("127.0.0.1", a.port))
        s.setblocking(False)
        sent, t0, closed = 0, time.monotonic(), None
        batch = HEALTH * 1000
        while time.monotonic() - t0 < 10:
            try:
                sent += s.send(batch)
            except BlockingIOError:
                time.sleep(0.05)
            except (BrokenPipeError, ConnectionResetError):
                closed = time.monotonic() - t0
                break
        s.close()
        self.assertIsNotNone(closed, "the agent kept a client that never reads")
        self.assertLess(closed, 8)
        grew = self.rss_kib(a.proc.pid) - rss0
        self.assertLess(grew, 64 << 10, f"RSS grew by {grew} KiB after {sent} bytes")
        self.assertEqual(a.get("/health")[0], 200)


class TestConnectionLimits(AgentTestCase):
    def test_connection_cap(self):
        a = self.start_agent(http_max_connections=5, http_idle_timeout="60secs")
        held = []
        try:
            for _ in range(5):
                s = connect(a)
                s.sendall(HEALTH)
                self.assertEqual(s.recv(4096)[:12], b"HTTP/1.1 200")
                held.append(s)
            # The sixth waits in the backlog, unanswered.
            extra = connect(a)
            held.append(extra)
            extra.sendall(HEALTH)
            extra.settimeout(1)
            with self.assertRaises(socket.timeout):
                extra.recv(4096)
            wait_for(lambda: "--http_max_connections" in a.log(), what="the cap's log line")
            # One closes: the sixth is taken and answered.
            held.pop(0).close()
            extra.settimeout(10)
            self.assertEqual(extra.recv(4096)[:12], b"HTTP/1.1 200")
        finally:
            for s in held:
                s.close()
        wait_for(lambda: a.get("/health")[0] == 200, what="/health")

    @staticmethod
    def cpu_seconds(pid):
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(") ")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def test_out_of_file_descriptors(self):
        # The agent raises its soft limit to the hard one: lower both.
        limit = 128

        def low_fd_limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

        a = self.start_agent(preexec_fn=low_fd_limit, http_idle_timeout="60secs",
                             container_ports_watch_interval="1secs")
        marker = "Cannot accept API connections"
        socks = []
        try:
            for _ in range(300):
                socks.append(connect(a))
            wait_for(lambda: marker in a.log(), what="the EMFILE log line")
            time.sleep(0.5)  # let the backoff reach its ceiling
            lines0 = a.log().count(marker)
            cpu0, t0 = self.cpu_seconds(a.proc.pid), time.monotonic()
            time.sleep(4)
            cpu = (self.cpu_seconds(a.proc.pid) - cpu0) / (time.monotonic() - t0)
            lines = a.log().count(marker) - lines0
            self.assertLess(cpu, 0.10, f"agent CPU {cpu:.0%} while out of fds")
            # At most once a second (plus one for the window's edges).
            self.assertLessEqual(lines, 5, f"{lines} log lines in 4 s")
            self.assertIsNone(a.proc.poll())
        finally:
            for s in socks:
                s.close()
        wait_for(lambda: self._health(a), timeout=15, what="/health once connections closed")

    @staticmethod
    def _health(a):
        try:
            return a.get("/health")[0] == 200
        except OSError:
            return False


if __name__ == "__main__":
    unittest.main()
