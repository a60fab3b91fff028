"""Reference figure for the LineReceiver benchmark: Twisted's own LineReceiver counting lines on 127.0.0.1.

Prints the port it listens on, then, for each connection, a line "lines=N seconds=S" when the peer closes.
Exits after `connections` connections (argv[1], default 1).
"""
import sys
import time

from twisted.internet import protocol, reactor
from twisted.protocols.basic import LineReceiver

remaining = int(sys.argv[1]) if len(sys.argv) > 1 else 1


class Counter(LineReceiver):
    MAX_LENGTH = 1 << 20

    def connectionMade(self):
        self.count = 0
        self.start = None

    def dataReceived(self, data):
        if self.start is None:
            self.start = time.perf_counter()
        LineReceiver.dataReceived(self, data)

    def lineReceived(self, line):
        self.count += 1

    def connectionLost(self, reason):
        global remaining
        print("lines=%d seconds=%f" % (self.count, time.perf_counter() - (self.start or time.perf_counter())), flush=True)
        remaining -= 1
        if remaining == 0:
            reactor.stop()


port = reactor.listenTCP(0, protocol.Factory.forProtocol(Counter), interface="127.0.0.1")
print(port.getHost().port, flush=True)
reactor.run()
