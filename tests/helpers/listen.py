#!/usr/bin/env python3
"""listen.py - a test process that listens on ports and then waits to be killed.

    listen.py [--daemonize] [--ready-file F] SPEC...

SPEC is KIND:PORT with KIND one of
    tcp4      TCP on 0.0.0.0           tcp6only  TCP on :: with IPV6_V6ONLY
    dual      TCP on :: dual-stack     udp4      UDP bound on 0.0.0.0
    udp6      UDP bound on ::          recv      receive a listening socket over
                                                 the unix socket PORT (a path)
                                                 by SCM_RIGHTS and hold it
    send      (host side) create a TCP4 listener on PORT and hand it to the
              first client of unix socket PATH given as PORT=PATH, then keep it
    listen0   TCP4 listen() without bind(): the kernel picks the port (PORT is
              ignored)
    udpsend   UDP4 sendto() 127.0.0.1:PORT without bind(): the kernel binds
              the socket to a port it picks
PORT 0 asks the kernel for one. When every socket is ready, prints
"ready <pid> <port>..." on stdout (or into --ready-file), one line, then
sleeps. --daemonize double-forks and setsid()s first, so the listener is a
grandchild whose parent has exited.
"""
import array
import os
import signal
import socket
import sys
import time


def make(kind, port, listen=True):
    """A socket of kind bound to port; a TCP one listening unless listen is
    False (a probe of bind() alone, which no agent enforcement reacts to)."""
    if kind == "tcp4":
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", int(port)))
        if listen:
            s.listen(16)
    elif kind in ("tcp6only", "dual"):
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1 if kind == "tcp6only" else 0)
        s.bind(("::", int(port)))
        if listen:
            s.listen(16)
    elif kind == "udp4":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", int(port)))
    elif kind == "udp6":
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind(("::", int(port)))
    elif kind == "listen0":
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.listen(16)
    elif kind == "udpsend":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.sendto(b"x", ("127.0.0.1", int(port)))
    elif kind == "recv":
        u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        u.connect(port)
        msg, anc, _, _ = u.recvmsg(16, socket.CMSG_SPACE(4))
        fds = array.array("i")
        for level, typ, data in anc:
            if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                fds.frombytes(data[: len(data) - (len(data) % 4)])
        s = socket.socket(fileno=fds[0])
        u.close()
    elif kind == "send":
        tcp_port, path = port.split("=", 1)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", int(tcp_port)))
        s.listen(16)
        u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        u.bind(path)
        u.listen(1)
        announce([s.getsockname()[1]])  # ready to hand over
        c, _ = u.accept()
        c.sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [s.fileno()]))])
        c.close()
        u.close()
    else:
        raise SystemExit(f"listen.py: unknown socket kind '{kind}'")
    return s


READY_FILE = None


def announce(ports):
    line = "ready %d %s\n" % (os.getpid(), " ".join(str(p) for p in ports))
    if READY_FILE:
        tmp = READY_FILE + ".tmp"
        with open(tmp, "w") as f:
            f.write(line)
        os.rename(tmp, READY_FILE)
    else:
        sys.stdout.write(line)
        sys.stdout.flush()


def main(argv):
    global READY_FILE
    daemonize = False
    specs = []
    it = iter(argv)
    for a in it:
        if a == "--daemonize":
            daemonize = True
        elif a == "--ready-file":
            READY_FILE = next(it)
        elif a.startswith("--ready-file="):
            READY_FILE = a.split("=", 1)[1]
        else:
            specs.append(a.split(":", 1))
    if daemonize:
        if os.fork() > 0:
            os._exit(0)
        os.setsid()
        if os.fork() > 0:
            os._exit(0)
    socks = [make(k, p) for k, p in specs]
    ports = [s.getsockname()[1] for s in socks]
    announce(ports)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main(sys.argv[1:])
