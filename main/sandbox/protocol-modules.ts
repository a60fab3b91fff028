/**
 * The user's modules as the sandbox worker knows them: evaluating one (CommonJS from the workspace compiler, with
 * `require("wirescope")` giving the sandbox's core), the answer main gets for it (a LoadResult), finding the protocol
 * class a connection runs, and the prototype swap of a hot reload (Twisted's rebuild, src/twisted/python/rebuild.py:
 * the instance stays, its prototype is replaced, so its fields survive).
 *
 * Guarantees: a module that fails to evaluate changes nothing (the previous version stays the one classes are taken
 * from); user code evaluates outside any connection's context. Owned by the SandboxRuntime (runtime.ts), which
 * walks its connections on a reload.
 */
import type { AsyncLocalStorage } from "node:async_hooks";
import { createRequire, isBuiltin } from "node:module";
import * as path from "node:path";
import { Logger } from "../../core/logger.ts";
import type { IProtocol } from "../../core/interfaces.ts";
import type { IProcessProtocol } from "../../core/process.ts";
import { isTapClass } from "../../core/protocols/tap.ts";
import type { LoadResult, SourceMapInput } from "./messages.ts";
import type { UserProtocol } from "./process-side.ts";
import { haltReason, type StackMapper } from "./stack-map.ts";

/** A module as last evaluated successfully. */
export interface ModuleRecord {
  readonly key: string;
  readonly exports: Record<string, unknown>;
}

/** A class user code exported that can be instantiated as a protocol. */
export type ProtocolClass = new () => UserProtocol;

/** What `evaluate` gives: the module's previous and new version, or the failure to answer main with. */
export type Evaluated =
  { ok: true; previous: ModuleRecord | null; next: ModuleRecord } | { ok: false; result: LoadResult };

/** A value user code exported that can be instantiated as a protocol: a stream protocol or a process protocol. */
function isProtocolClass(value: unknown): value is ProtocolClass {
  if (typeof value !== "function") return false;
  const proto = (value as { prototype?: unknown }).prototype as Partial<IProtocol & IProcessProtocol> | undefined;
  const receives = typeof proto?.dataReceived === "function" || typeof proto?.childDataReceived === "function";
  return typeof proto?.makeConnection === "function" && receives;
}

export class ProtocolModules {
  private readonly modules = new Map<string, ModuleRecord>();
  private readonly nodeRequire = createRequire(path.join(process.cwd(), "wirescope-sandbox.js"));

  constructor(
    /** What `require("wirescope")` returns: the core, with the bridge reactor as `reactor`. */
    private readonly sandboxCore: Readonly<Record<string, unknown>>,
    /** The runtime's source maps: a module's URL is registered before it is evaluated. */
    private readonly stacks: StackMapper,
    /** The runtime's connection context, left while a module's top-level code runs. */
    private readonly context: Pick<AsyncLocalStorage<unknown>, "exit">,
  ) {}

  private require = (id: string): unknown => {
    if (id === "wirescope") return this.sandboxCore;
    if (isBuiltin(id)) return this.nodeRequire(id) as unknown;
    throw new Error(
      `Cannot import "${id}" in a sandboxed protocol: only "wirescope" and Node's built-in modules are available ` +
        `(other workspace files are bundled in when the protocol is compiled).`,
    );
  };

  /**
   * Evaluates a module and, if it ran, makes it the version classes are taken from. A module that fails to evaluate
   * changes nothing: the previous version keeps running, and the failure says why (EVALUATION_FAILED).
   */
  evaluate(moduleKey: string, code: string, sourceMap: SourceMapInput | null): Evaluated {
    const url = this.stacks.register(moduleKey, sourceMap);
    const module: { exports: Record<string, unknown> } = { exports: {} };
    try {
      const evaluate = new Function("require", "module", "exports", `${code}\n//# sourceURL=${url}`) as (
        require: (id: string) => unknown,
        module: { exports: Record<string, unknown> },
        exports: Record<string, unknown>,
      ) => void;
      this.context.exit(() => evaluate(this.require, module, module.exports));
    } catch (err) {
      const details = this.stacks.describe("load", err);
      this.stacks.forget(url);
      const result: LoadResult = {
        ok: false,
        error: { code: "EVALUATION_FAILED", message: `${moduleKey}: ${haltReason(err, details)}`, details },
      };
      return { ok: false, result };
    }
    const previous = this.modules.get(moduleKey) ?? null;
    const next: ModuleRecord = { key: moduleKey, exports: module.exports };
    this.modules.set(moduleKey, next);
    return { ok: true, previous, next };
  }

  /** What main is answered for a module that evaluated: its export names and which of them are taps. */
  loaded(module: ModuleRecord): LoadResult {
    return { ok: true, exports: Object.keys(module.exports), taps: this.taps(module) };
  }

  /** The exports of `module` whose class is a tap, and "default" when the class run by default is one. */
  private taps(module: ModuleRecord): string[] {
    const taps = Object.keys(module.exports).filter((name) => isTapClass(module.exports[name]));
    if (taps.includes("default")) return taps;
    try {
      if (isTapClass(this.protocolClass(module.key, null).cls)) taps.push("default");
    } catch {
      // No protocol class to run by default.
    }
    return taps;
  }

  /**
   * The protocol class to attach: the named export, else the default export, else the only protocol class. Throws,
   * saying why, when the module is not loaded or has no such class.
   */
  protocolClass(moduleKey: string, exportName: string | null): { name: string; cls: ProtocolClass } {
    const module = this.modules.get(moduleKey);
    if (!module) throw new Error(`The protocol module "${moduleKey}" is not loaded`);
    const exports = module.exports;
    if (exportName !== null) {
      const cls = exports[exportName];
      if (!isProtocolClass(cls)) throw new Error(`"${moduleKey}" exports no protocol class named "${exportName}"`);
      return { name: exportName, cls };
    }
    const preferred = exports["default"];
    if (isProtocolClass(preferred)) return { name: "default", cls: preferred };
    const candidates = Object.entries(exports).filter(([, value]) => isProtocolClass(value));
    if (candidates.length === 1) {
      const [name, cls] = candidates[0]!;
      return { name, cls: cls as ProtocolClass };
    }
    if (candidates.length === 0) throw new Error(`"${moduleKey}" exports no Protocol class`);
    const names = candidates.map(([name]) => name).join(", ");
    throw new Error(`"${moduleKey}" exports several protocol classes (${names}): export one as default`);
  }
}

/**
 * Twisted's rebuild for one live instance of module `next.key`: `protocol` gets the prototype of its class's
 * counterpart in `next` (matched by export name, else by class name, else `exportName`). Returns the prototype it
 * had, for its `rebuilt(previousPrototype)` hook; null, with a warning logged against it, when `next` no longer
 * exports its class (it keeps the old code); null too when `accept` refuses the replacement (the caller says why).
 */
export function swapPrototype(
  protocol: UserProtocol,
  previous: ModuleRecord | null,
  next: ModuleRecord,
  exportName: string | null,
  accept: (replacement: ProtocolClass) => boolean = () => true,
): { constructor: unknown } | null {
  const current = Object.getPrototypeOf(protocol) as { constructor: unknown };
  const replacement = counterpart(current.constructor, previous, next, exportName);
  if (replacement === null) {
    const name = (current.constructor as { name?: string }).name ?? "?";
    new Logger("wirescope.sandbox", protocol).warn("Kept the old code of {name}: {module} no longer exports it", {
      name,
      module: next.key,
    });
    return null;
  }
  if (!accept(replacement)) return null;
  Object.setPrototypeOf(protocol, replacement.prototype);
  return current;
}

/** The class of the new module version that replaces `cls` of the previous one, or null. */
function counterpart(
  cls: unknown,
  previous: ModuleRecord | null,
  next: ModuleRecord,
  exportName: string | null,
): ProtocolClass | null {
  if (previous !== null) {
    for (const [name, value] of Object.entries(previous.exports)) {
      if (value === cls && isProtocolClass(next.exports[name])) return next.exports[name];
    }
  }
  const className = (cls as { name?: unknown }).name;
  for (const value of Object.values(next.exports)) {
    if (isProtocolClass(value) && value.name === className) return value;
  }
  if (exportName !== null && isProtocolClass(next.exports[exportName])) return next.exports[exportName];
  return null;
}
