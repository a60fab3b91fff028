/**
 * Wirescope's core: Twisted's networking model in TypeScript. The whole public API, from one module.
 *
 * Names and semantics are Twisted's (src/twisted/internet, src/twisted/protocols), in camelCase, with bytes as
 * Uint8Array. Node built-ins only: this is a library a user can use without the app.
 */
export { bufferSize } from "./abstract.ts";
export * from "./address.ts";
export { DelayedCall, ReactorTime } from "./base.ts";
export { checkBytes } from "./bytes.ts";
export * from "./errors.ts";
export * from "./interfaces.ts";
export * from "./logger.ts";
export {
  BaseProtocol,
  ClientFactory,
  connectionDone,
  Factory,
  Protocol,
  ServerFactory,
  type ProtocolClass,
} from "./protocol.ts";
export { Reactor, reactor } from "./reactor.ts";
export { Clock, deferLater, LoopingCall } from "./task.ts";
export { Connection, Connector, ListeningPort, type Bind, type ConnectionSide, type Destination } from "./tcp.ts";
export {
  connectedProtocol,
  MemoryConnector,
  MemoryListeningPort,
  MemoryReactor,
  StringTransport,
  StringTransportWithDisconnection,
  type RecordedClient,
  type RecordedServer,
} from "./testing.ts";
export {
  clientFromString,
  ConnectingCancelledError,
  EndpointParseError,
  NoProtocol,
  parseEndpointString,
  parsePortNumber,
  quoteStringArgument,
  serverFromString,
  SSL4ClientEndpoint,
  SSL4ServerEndpoint,
  TCP4ClientEndpoint,
  TCP4ServerEndpoint,
  TCP6ServerEndpoint,
  UNIXClientEndpoint,
  UNIXServerEndpoint,
  type ConnectOptions,
  type IStreamClientEndpoint,
  type IStreamServerEndpoint,
  type ParsedEndpointString,
  type ProtocolFactoryOf,
} from "./endpoints.ts";
export {
  deliverMessage,
  Int16StringReceiver,
  Int32StringReceiver,
  Int8StringReceiver,
  IntNStringReceiver,
  LineOnlyReceiver,
  LineReceiver,
  NetstringReceiver,
  PauseableProtocol,
  ReceiveBuffer,
} from "./protocols/basic.ts";
export { StatefulProtocol, type StatefulState, type StateHandler } from "./protocols/stateful.ts";
export * from "./protocols/policies.ts";
export { Proxy, ProxyClient, ProxyClientFactory, ProxyFactory, ProxyServer } from "./protocols/portforward.ts";
export { isTapClass, Tap, TapWriteError, type TapDeclaration } from "./protocols/tap.ts";
export * from "./protocols/wire.ts";
export {
  ProcessProtocol,
  ProcessSpawnFailed,
  ProcessTransport,
  SpawnError,
  spawnProcess,
  type ChildFDTarget,
  type IProcessProtocol,
  type IProcessTransport,
  type ProcessExitReason,
  type ProcessSignal,
  type SpawnProcessOptions,
} from "./process.ts";
export { normalVariate, ReconnectingClientFactory } from "./reconnecting.ts";
