/**
 * How the worker drives a protocol on a process session's child (core/process.ts): a ProcessProtocol subclass (any
 * protocol with `childDataReceived`) gets the process callbacks as `spawnProcess` would give them; a plain Protocol
 * gets the child's stdout as its stream and the child's end as its connectionLost, as Twisted's adapter does
 * (twisted/internet/endpoints.py, _WrapIProtocol). What others wrote to the child's stdin comes as fd 0.
 */
import { ProcessDone, ProcessTerminated } from "../../core/errors.ts";
import type { IProtocol } from "../../core/interfaces.ts";
import type { IProcessProtocol, ProcessExitReason } from "../../core/process.ts";
import type { WireExit } from "./messages.ts";

/** What user code gives the worker: a stream protocol, or a process protocol. */
export type UserProtocol = IProtocol | IProcessProtocol;

/** Whether `protocol` takes the process callbacks (a ProcessProtocol subclass, or one written like it). */
export function isProcessProtocol(protocol: UserProtocol): protocol is IProcessProtocol {
  return typeof (protocol as Partial<IProcessProtocol>).childDataReceived === "function";
}

/** `protocol` as a stream protocol, or null when it is a process protocol (which has no stream callbacks). */
export function streamSide(protocol: UserProtocol): IProtocol | null {
  return isProcessProtocol(protocol) ? null : protocol;
}

/** The core's reason for a child's end, rebuilt from its wire form: ProcessDone for exit code 0. */
export function exitReason(exit: WireExit): ProcessExitReason {
  return exit.exitCode === 0 && exit.signal === null
    ? new ProcessDone()
    : new ProcessTerminated(exit.exitCode, exit.signal);
}
