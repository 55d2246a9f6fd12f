"""Load for the LB churn test, run inside the client pod's netns:

  lb-churn-load.py <seconds> <cluster ip> <port> <direct ip> <direct port>

For <seconds>: two threads open short connections to the ClusterIP (connect, one line, the answer,
close), one opens short connections straight to the direct address, and eight long-lived
connections to the ClusterIP each ask a line every 0.2 s. Every answer must be the server's JSON
line echoing what was sent. Prints one JSON object: per kind, the exchanges that worked and the
first failures (seconds since the start, the error), and which backend answered how often.
"""

import json
import socket
import sys
import threading
import time

TIMEOUT_S = 5.0
FAILURES_KEPT = 20


def main():
    seconds = float(sys.argv[1])
    service = (sys.argv[2], int(sys.argv[3]))
    direct = (sys.argv[4], int(sys.argv[5]))
    started = time.monotonic()
    stop = started + seconds
    lock = threading.Lock()
    stats = {kind: {"ok": 0, "failed": 0, "failures": []} for kind in ("short", "direct", "long")}
    names = {}

    def record(kind, answer=None, error=None):
        with lock:
            entry = stats[kind]
            if error is None:
                entry["ok"] += 1
                names[answer["name"]] = names.get(answer["name"], 0) + 1
                return
            entry["failed"] += 1
            if len(entry["failures"]) < FAILURES_KEPT:
                entry["failures"].append([round(time.monotonic() - started, 2), error])

    def exchange(sock, line):
        sock.sendall(line.encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(4096)
            if not chunk:
                raise OSError("closed by the peer")
            data += chunk
        answer = json.loads(data)
        if answer.get("echo") != line:
            raise OSError(f"answer to {line!r} was {answer.get('echo')!r}")
        return answer

    def short(kind, address):
        count = 0
        while time.monotonic() < stop:
            count += 1
            try:
                with socket.create_connection(address, timeout=TIMEOUT_S) as sock:
                    record(kind, exchange(sock, f"{kind} {count}"))
            except (OSError, ValueError) as error:
                record(kind, error=f"{type(error).__name__}: {error}")

    def long_lived(index):
        try:
            sock = socket.create_connection(service, timeout=TIMEOUT_S)
        except OSError as error:
            record("long", error=f"connect: {error}")
            return
        count = 0
        with sock:
            while time.monotonic() < stop:
                count += 1
                try:
                    record("long", exchange(sock, f"long {index} {count}"))
                except (OSError, ValueError) as error:
                    record("long", error=f"{type(error).__name__}: {error}")
                    return
                time.sleep(0.2)

    threads = [threading.Thread(target=short, args=("short", service)) for _ in range(2)]
    threads.append(threading.Thread(target=short, args=("direct", direct)))
    threads += [threading.Thread(target=long_lived, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps({"stats": stats, "names": names}))


main()
