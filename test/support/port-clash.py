"""Two sockets of one client on the same local port, each to its own destination.

The client's kernel allows it (each 4-tuple is unique to the kernel): with SO_REUSEADDR on both, a
socket may bind a port another one connected from. Run inside the client pod's netns:

  port-clash.py tcp <first host> <first port> <second host> <second port> <local port>
  port-clash.py tcp-reset <first host> <first port> <second host> <second port> <local port>
  port-clash.py udp <first host> <first port> <second host> <second port> <local port>
  port-clash.py udp-recverr <first host> <first port> <second host> <second port> <local port>
  port-clash.py udp-late <first host> <first port> <second host> <second port> <local port>
  port-clash.py tcp-reopen <first host> <first port> <second host> <second port> <local port>

tcp: the first connection asks one line, the second tries to connect and, if it can, asks one
too; then the first asks again. tcp-reset: the same, each socket closed with a reset (SO_LINGER 0)
rather than a FIN, so no TIME_WAIT keeps the port from connecting to the same destination again
at once. udp: one socket sends a datagram to each destination, then to the
first again. udp-recverr: the same, on a socket with IP_RECVERR, so that an ICMP error about a
datagram it sent is reported to it (ConnectionRefusedError for a port unreachable), as it is not to
an unconnected socket otherwise. Prints one JSON object: each answer (the server's JSON line) or the
error it met. udp-late: one socket asks the first destination, then sends the second a line whose
answer comes 300 ms late (`late:300`), closes the socket 100 ms later and waits: the late answer
finds no socket, and the client's kernel answers it with an ICMP port unreachable. tcp-reopen: the
first connection asks one line and is reset; the second connects from the port and asks; a new
connection to the first destination, from the port again, asks (firstAgain); then the second asks
again (secondAgain). All are reset at the end.
"""

import json
import socket
import struct
import sys
import time

TIMEOUT_S = 2.0
# Linux's IP_RECVERR (linux/in.h), which Python's socket module does not name.
IP_RECVERR = 11


def bound(kind, local_port):
    sock = socket.socket(socket.AF_INET, kind)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.settimeout(TIMEOUT_S)
    sock.bind(("0.0.0.0", local_port))
    return sock


def ask(sock, line):
    try:
        sock.sendall(line.encode() + b"\n")
        answer = b""
        while not answer.endswith(b"\n"):
            chunk = sock.recv(4096)
            if not chunk:
                return {"error": "closed"}
            answer += chunk
        return {"answer": json.loads(answer)}
    except OSError as error:
        return {"error": type(error).__name__}


def reset_close(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def tcp(first, second, local_port, reset=False):
    one = bound(socket.SOCK_STREAM, local_port)
    one.connect(first)
    result = {"first": ask(one, "first")}
    two = bound(socket.SOCK_STREAM, local_port)
    try:
        two.connect(second)
        result["second"] = ask(two, "second")
    except OSError as error:
        result["second"] = {"error": type(error).__name__}
    result["firstAgain"] = ask(one, "first again")
    for sock in (two, one):
        if reset:
            reset_close(sock)
        else:
            sock.close()
    return result


def connected_ask(destination, local_port, line):
    sock = bound(socket.SOCK_STREAM, local_port)
    try:
        sock.connect(destination)
    except OSError as error:
        sock.close()
        return None, {"error": type(error).__name__}
    return sock, ask(sock, line)


def tcp_reopen(first, second, local_port):
    one, first_answer = connected_ask(first, local_port, "first")
    result = {"first": first_answer}
    if one:
        reset_close(one)
    two, result["second"] = connected_ask(second, local_port, "second")
    three, result["firstAgain"] = connected_ask(first, local_port, "first again")
    result["secondAgain"] = ask(two, "second again") if two else {"error": "not connected"}
    for sock in (three, two):
        if sock:
            reset_close(sock)
    return result


def udp_ask(sock, destination, line):
    try:
        sock.sendto(line.encode(), destination)
        data, source = sock.recvfrom(4096)
        return {"answer": json.loads(data), "from": list(source)}
    except OSError as error:
        return {"error": type(error).__name__}


def udp(first, second, local_port, recverr=False):
    sock = bound(socket.SOCK_DGRAM, local_port)
    if recverr:
        sock.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
    result = {
        "first": udp_ask(sock, first, "first"),
        "second": udp_ask(sock, second, "second"),
        "firstAgain": udp_ask(sock, first, "first again"),
    }
    sock.close()
    return result


def udp_late(first, second, local_port):
    sock = bound(socket.SOCK_DGRAM, local_port)
    result = {"first": udp_ask(sock, first, "first")}
    sock.settimeout(0.1)
    result["second"] = udp_ask(sock, second, "late:300")
    sock.close()
    time.sleep(0.6)
    return result


def main():
    kind, first_host, first_port, second_host, second_port, local_port = sys.argv[1:7]
    first = (first_host, int(first_port))
    second = (second_host, int(second_port))
    if kind in ("tcp", "tcp-reset"):
        result = tcp(first, second, int(local_port), reset=kind == "tcp-reset")
    elif kind == "tcp-reopen":
        result = tcp_reopen(first, second, int(local_port))
    elif kind == "udp-late":
        result = udp_late(first, second, int(local_port))
    else:
        result = udp(first, second, int(local_port), recverr=kind == "udp-recverr")
    print(json.dumps(result))


main()
