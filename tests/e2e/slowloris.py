#!/usr/bin/env python3
"""slowloris.py - slow HTTP clients for serve_slowloris.sh (not a test itself).

  slowloris.py slow HOST PORT SRC N INTERVAL DURATION READY
      N connections from source address SRC, each sending a request line
      and then one header line every INTERVAL seconds, never ending its
      headers; a connection the server closes is opened again, until
      DURATION seconds. Prints "connections=C closed_by_server=K
      max_life=S" where max_life is the longest a connection lived before
      the server closed it (connections still open at the end count with
      their age then). READY is created once the first N are connected.
  slowloris.py hold HOST PORT SRC N WAIT
      N connections from SRC, each sending a request line and one header
      line; after WAIT seconds prints "open=K": how many the server has
      not closed.
Every socket has a deadline; the script ends by itself.
"""
import selectors, socket, sys, time

REQ = b"GET /debug/pprof/cmdline HTTP/1.1\r\nHost: localhost\r\n"

def connect(host, port, src):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((src, 0))
    s.settimeout(5)
    s.connect((host, port))
    s.sendall(REQ)
    s.setblocking(False)
    return s

def closed(s):
    try:
        d = s.recv(4096)
        return len(d) == 0 or d.startswith(b"HTTP/")
    except BlockingIOError:
        return False
    except OSError:
        return True

def slow(host, port, src, n, interval, duration, ready):
    end = time.monotonic() + duration
    conns = {}
    total = server_closed = 0
    max_life = 0.0
    sel = selectors.DefaultSelector()
    def open_one():
        nonlocal total
        try:
            s = connect(host, port, src)
        except OSError:
            return
        total += 1
        now = time.monotonic()
        conns[s] = [now, now + interval]
        sel.register(s, selectors.EVENT_READ)
    for _ in range(n):
        open_one()
    open(ready, "w").write("%d\n" % len(conns))
    while time.monotonic() < end:
        for key, _ in sel.select(timeout=0.2):
            s = key.fileobj
            if closed(s):
                life = time.monotonic() - conns[s][0]
                max_life = max(max_life, life)
                server_closed += 1
                sel.unregister(s)
                s.close()
                del conns[s]
                open_one()
        now = time.monotonic()
        for s, st in list(conns.items()):
            if now >= st[1]:
                try:
                    s.send(b"X-Slow: 1\r\n")
                except OSError:
                    pass
                st[1] = now + interval
    now = time.monotonic()
    for s, st in conns.items():
        max_life = max(max_life, now - st[0])
        s.close()
    print("connections=%d closed_by_server=%d max_life=%.1f" % (total, server_closed, max_life))

def hold(host, port, src, n, wait):
    socks = []
    errors = set()
    for _ in range(n):
        try:
            s = connect(host, port, src)
            socks.append(s)
        except OSError as e:
            errors.add(str(e))
    time.sleep(wait)
    print("open=%d connected=%d errors=%s" % (sum(1 for s in socks if not closed(s)),
                                              len(socks), ";".join(sorted(errors)) or "-"))

if __name__ == "__main__":
    a = sys.argv
    if a[1] == "slow":
        slow(a[2], int(a[3]), a[4], int(a[5]), float(a[6]), float(a[7]), a[8])
    else:
        hold(a[2], int(a[3]), a[4], int(a[5]), float(a[6]))
