#!/usr/bin/python3
"""Records what a real HTTP/2 client sends, for the h2wire-inspect tests.

    capture.py OUT_FILE -- CLIENT_COMMAND...

Listens on 127.0.0.1 at a port chosen by the system, runs CLIENT_COMMAND with
every "{port}" replaced by that port, answers as a minimal h2c server with
prior knowledge (SETTINGS, SETTINGS ACK, then for each request a 200 response
with a short body), and writes every byte the client sent to OUT_FILE. Stops
when the client closes, or after 10 seconds.

How test/data/*.bin were made:

    capture.py test/data/nghttp_post.bin -- nghttp -nv -d test/inspect/body.txt \
        -H 'x-inspect: yes' http://127.0.0.1:{port}/upload
    capture.py test/data/curl_get.bin -- curl -s --http2-prior-knowledge \
        http://127.0.0.1:{port}/index.html -o /dev/null
"""
import socket
import struct
import subprocess
import sys
import time


def frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream) + payload


def main():
    out_file = sys.argv[1]
    assert sys.argv[2] == "--"
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    command = [a.replace("{port}", str(port)) for a in sys.argv[3:]]
    client = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    listener.settimeout(10)
    conn, _ = listener.accept()
    conn.settimeout(0.5)
    received = bytearray()
    conn.sendall(frame(4, 0, 0))  # server preface: empty SETTINGS
    acked = False
    answered = set()
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            chunk = conn.recv(65536)
        except socket.timeout:
            if client.poll() is not None:
                break
            continue
        if not chunk:
            break
        received += chunk
        if not acked and len(received) > 24 + 9:
            conn.sendall(frame(4, 1, 0))  # ACK the client's SETTINGS
            acked = True
        # Answer each stream whose request ended (END_STREAM on HEADERS or DATA).
        pos = 24 if received.startswith(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") else 0
        while pos + 9 <= len(received):
            length = int.from_bytes(received[pos:pos + 3], "big")
            ftype, flags = received[pos + 3], received[pos + 4]
            stream = int.from_bytes(received[pos + 5:pos + 9], "big") & 0x7FFFFFFF
            if pos + 9 + length > len(received):
                break
            if ftype in (0, 1) and flags & 1 and stream not in answered:
                answered.add(stream)
                body = b"hello from capture.py\n"
                conn.sendall(frame(1, 4, stream, b"\x88") + frame(0, 1, stream, body))  # :status 200
            pos += 9 + length
    try:
        client.wait(timeout=5)
    except subprocess.TimeoutExpired:
        client.kill()
    conn.close()
    listener.close()
    with open(out_file, "wb") as f:
        f.write(received)
    print(f"{out_file}: {len(received)} bytes from {command[0]}")


if __name__ == "__main__":
    main()
