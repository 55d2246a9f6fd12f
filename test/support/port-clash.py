"""Two sockets of one client on the same local port, each to its own destination.

The client's kernel allows it (each 4-tuple is unique to the kernel): with SO_REUSEADDR on both, a
socket may bind a port another one connected from. Run inside the client pod's netns:

  port-clash.py tcp <first host> <first port> <second host> <second port> <local port>
  port-clash.py udp <first host> <first port> <second host> <second port> <local port>

tcp: the first connection asks one line, the second tries to connect and, if it can, asks one
too; then the first asks again. udp: one socket sends a datagram to each destination, then to the
first again. Prints one JSON object: each answer (the server's JSON line) or the error it met.
"""

import json
import socket
import sys

TIMEOUT_S = 2.0


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


def tcp(first, second, local_port):
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
        sock.close()
    return result


def udp_ask(sock, destination, line):
    try:
        sock.sendto(line.encode(), destination)
        data, source = sock.recvfrom(4096)
        return {"answer": json.loads(data), "from": list(source)}
    except OSError as error:
        return {"error": type(error).__name__}


def udp(first, second, local_port):
    sock = bound(socket.SOCK_DGRAM, local_port)
    result = {
        "first": udp_ask(sock, first, "first"),
        "second": udp_ask(sock, second, "second"),
        "firstAgain": udp_ask(sock, first, "first again"),
    }
    sock.close()
    return result


def main():
    kind, first_host, first_port, second_host, second_port, local_port = sys.argv[1:7]
    first = (first_host, int(first_port))
    second = (second_host, int(second_port))
    run = tcp if kind == "tcp" else udp
    print(json.dumps(run(first, second, int(local_port))))


main()
