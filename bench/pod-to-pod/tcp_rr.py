#!/usr/bin/env python3
"""TCP request/response latency, used by bench/pod-to-pod only when sockperf is not installed.

  tcp_rr.py server <ip> <port>
  tcp_rr.py client <ip> <port> <seconds> <size>

The client sends a <size>-byte message, waits for the whole echo, and records the round trip
(time.perf_counter_ns), for <seconds> after 0.4 s of warm-up; it prints one JSON line with the
p50/p99 round trip in microseconds. TCP_NODELAY on both ends, one connection, blocking sockets:
the same shape as `sockperf ping-pong --tcp`, with an interpreter's overhead on both ends.
"""
import json
import socket
import sys
import time


def recv_exact(sock, size):
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def server(ip, port):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((ip, port))
    listener.listen(4)
    while True:
        conn, _ = listener.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        size_bytes = recv_exact(conn, 4)
        if size_bytes is None:
            conn.close()
            continue
        size = int.from_bytes(size_bytes, "big")
        while True:
            message = recv_exact(conn, size)
            if message is None:
                break
            conn.sendall(message)
        conn.close()


def client(ip, port, seconds, size):
    conn = socket.create_connection((ip, port))
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    conn.sendall(size.to_bytes(4, "big"))
    message = b"x" * size
    samples = []
    warm_until = time.monotonic() + 0.4
    end = warm_until + seconds
    while True:
        start = time.perf_counter_ns()
        conn.sendall(message)
        if recv_exact(conn, size) is None:
            raise SystemExit("server closed the connection")
        now = time.perf_counter_ns()
        wall = time.monotonic()
        if wall >= end:
            break
        if wall >= warm_until:
            samples.append((now - start) / 1000.0)
    conn.close()
    samples.sort()

    def at(p):
        rank = max(1, min(len(samples), -(-len(samples) * p // 100)))
        return samples[int(rank) - 1]

    print(json.dumps({"count": len(samples), "p50": at(50), "p99": at(99), "max": samples[-1]}))


if __name__ == "__main__":
    if sys.argv[1] == "server":
        server(sys.argv[2], int(sys.argv[3]))
    else:
        client(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]))
