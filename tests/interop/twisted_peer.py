"""A real Twisted 22.4 peer for Wirescope's interop tests, on 127.0.0.1 only.

Usage: twisted_peer.py server KIND        -> listens on a free port, prints it, serves until stdin closes
       twisted_peer.py client KIND PORT   -> connects, runs the exchange, prints one JSON line of what it saw

KIND is "lines" (LineReceiver: echoes each line upper-cased) or "int32" (Int32StringReceiver: echoes each string
reversed) or "netstring" (NetstringReceiver: echoes each string with its length prefixed as text) or "starttls"
(LineReceiver: on the line STARTTLS, answers READY and calls transport.startTLS with tests/fixtures/tls; then as
"lines"; its client sends STARTTLS, and on READY starts TLS trusting the test CA for "localhost", then the lines).
"""
import json
import os
import sys

from twisted.internet import protocol, reactor, ssl, stdio
from twisted.protocols.basic import Int32StringReceiver, LineReceiver, NetstringReceiver


class LineServer(LineReceiver):
    def lineReceived(self, line):
        self.sendLine(line.upper())


class Int32Server(Int32StringReceiver):
    def stringReceived(self, string):
        self.sendString(string[::-1])


class NetstringServer(NetstringReceiver):
    def stringReceived(self, string):
        self.sendString(b"%d:" % len(string) + string)


TLS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "tls")


def fixture(name):
    with open(os.path.join(TLS_DIR, name), "rb") as f:
        return f.read()


class StartTLSServer(LineServer):
    def lineReceived(self, line):
        if line == b"STARTTLS":
            self.sendLine(b"READY")
            cert = ssl.PrivateCertificate.loadPEM(fixture("server.key") + fixture("server.crt"))
            self.transport.startTLS(cert.options())
        else:
            LineServer.lineReceived(self, line)


SERVERS = {"lines": LineServer, "int32": Int32Server, "netstring": NetstringServer, "starttls": StartTLSServer}

MESSAGES = [b"hello", b"", b"x" * 5000, "caf\u00e9".encode("utf-8")]


class LineClient(LineReceiver):
    def connectionMade(self):
        self.got = []
        self.transport.write(b"".join(m + b"\r\n" for m in MESSAGES))

    def lineReceived(self, line):
        self.got.append(line)
        if len(self.got) == len(MESSAGES):
            self.transport.loseConnection()

    def connectionLost(self, reason):
        print(json.dumps([g.decode("utf-8") for g in self.got]), flush=True)
        reactor.stop()


class Int32Client(Int32StringReceiver):
    def connectionMade(self):
        self.got = []
        for m in MESSAGES:
            self.sendString(m)

    def stringReceived(self, string):
        self.got.append(string)
        if len(self.got) == len(MESSAGES):
            self.transport.loseConnection()

    def connectionLost(self, reason):
        print(json.dumps([g.decode("utf-8", "replace") for g in self.got]), flush=True)
        reactor.stop()


class StartTLSClient(LineReceiver):
    def connectionMade(self):
        self.got = []
        self.tls = False
        self.sendLine(b"STARTTLS")

    def lineReceived(self, line):
        if not self.tls:
            if line == b"READY":
                self.tls = True
                ca = ssl.Certificate.loadPEM(fixture("ca.crt"))
                self.transport.startTLS(ssl.optionsForClientTLS("localhost", trustRoot=ca))
                self.transport.write(b"".join(m + b"\r\n" for m in MESSAGES))
            return
        self.got.append(line)
        if len(self.got) == len(MESSAGES):
            self.transport.loseConnection()

    def connectionLost(self, reason):
        print(json.dumps([g.decode("utf-8") for g in self.got]), flush=True)
        reactor.stop()


CLIENTS = {"lines": LineClient, "int32": Int32Client, "starttls": StartTLSClient}


class StopOnEOF(protocol.Protocol):
    def connectionLost(self, reason):
        reactor.stop()


def main():
    role, kind = sys.argv[1], sys.argv[2]
    if role == "server":
        port = reactor.listenTCP(0, protocol.Factory.forProtocol(SERVERS[kind]), interface="127.0.0.1")
        print(port.getHost().port, flush=True)
        stdio.StandardIO(StopOnEOF())
    else:
        f = protocol.ClientFactory.forProtocol(CLIENTS[kind])
        f.clientConnectionFailed = lambda c, r: (print(json.dumps({"error": str(r.value)}), flush=True), reactor.stop())
        reactor.connectTCP("127.0.0.1", int(sys.argv[3]), f, timeout=10)
        reactor.callLater(20, reactor.stop)
    reactor.run()


main()
