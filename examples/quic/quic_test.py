#!/usr/bin/env python3
"""Runs the QUIC transport's tests (quic-echo-test) with a throwaway
self-signed certificate and, when Debian's ngtcp2-server and ngtcp2-client
are installed, handshakes with their HTTP/3 programs (ngtcp2 and GnuTLS):
our client with gtlsserver, and gtlsclient with our echo server.

usage: quic_test.py QUIC_ECHO_TEST --openssl OPENSSL [--gtlsserver PATH] [--gtlsclient PATH]
"""
import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time


def make_certificate(openssl, directory):
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                    "-days", "1", "-keyout", key, "-out", cert],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gtlsserver_handshake(test, gtlsserver, cert, key, directory):
    port = free_udp_port()
    server = subprocess.Popen([gtlsserver, "--quiet", "-d", directory, "127.0.0.1", str(port), key, cert],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        time.sleep(0.3)  # let it bind
        if server.poll() is not None:
            print("gtlsserver exited:", server.stderr.read().decode(errors="replace"), file=sys.stderr)
            return False
        result = subprocess.run([test, "--handshake", "127.0.0.1", str(port)], timeout=20)
        return result.returncode == 0
    finally:
        server.terminate()
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def gtlsclient_handshake(test, gtlsclient, cert, key):
    """gtlsclient's GET comes back echoed, which it rejects as HTTP/3 (fine:
    only the handshake and the close are checked here)."""
    server = subprocess.Popen([test, "--serve", "--cert", cert, "--key", key],
                              stdout=subprocess.PIPE, text=True)
    try:
        port = server.stdout.readline().split()[1]
        client = subprocess.run([gtlsclient, "--exit-on-all-streams-close", "--timeout=3s",
                                 "127.0.0.1", port, "https://localhost/"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=20)
        out, _ = server.communicate(timeout=20)
        print(out, end="")
        ok = (server.returncode == 0 and "QUIC handshake has completed" in client.stdout
              and "Negotiated ALPN is h3" in client.stdout and "closed: peer application code 0x100" in out)
        if not ok:
            print(client.stdout[-3000:], file=sys.stderr)
        return ok
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("test")
    parser.add_argument("--openssl", required=True)
    parser.add_argument("--gtlsserver")
    parser.add_argument("--gtlsclient")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        cert, key = make_certificate(args.openssl, directory)
        ok = subprocess.run([args.test, "--cert", cert, "--key", key], timeout=40).returncode == 0
        print("echo and limits:", "ok" if ok else "FAILED")
        if args.gtlsserver:
            interop = gtlsserver_handshake(args.test, args.gtlsserver, cert, key, directory)
            print("handshake with gtlsserver:", "ok" if interop else "FAILED")
            ok = ok and interop
        if args.gtlsclient:
            interop = gtlsclient_handshake(args.test, args.gtlsclient, cert, key)
            print("handshake of gtlsclient with our server:", "ok" if interop else "FAILED")
            ok = ok and interop
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
