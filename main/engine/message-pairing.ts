/**
 * Request/response pairing of decoded messages, as a session records them: a response (`pair.role` "response")
 * answers the oldest unanswered request of the same key (no key: in order, as RESP's and HTTP/1.1's do; a key: by
 * id, as LSP's do) in the same scope — its connection, or both legs of one proxied connection, so a tap that
 * reports requests on the client leg and responses on the upstream leg pairs them. The response is recorded with
 * `pair.request` (the request's seq) and `pair.latency` (µs between the two events).
 */
import type { LogTimelineEvent, NewTimelineEvent, TimelineEvent } from "../../preload/timeline.ts";

/** At most this many unanswered requests are kept per scope; past it the oldest is forgotten (never answered). */
export const MAX_PENDING_REQUESTS = 10_000;

/** What pairing needs of a timeline: appending returns the recorded event (its seq). A Recorder is one. */
export interface NumberingTimeline {
  append(event: NewTimelineEvent): TimelineEvent;
  readonly count: number;
}

/** An unanswered request. */
interface Pending {
  readonly key: string;
  readonly seq: number;
  readonly t: number;
  answered: boolean;
}

/** A first-in first-out list that skips entries answered out of its order. */
class PendingQueue {
  #items: Pending[] = [];
  #head = 0;

  /** Adds `item` last; sweeps out answered entries once they could outnumber the unanswered ones. */
  push(item: Pending): void {
    this.#items.push(item);
    if (this.#items.length - this.#head > 2 * MAX_PENDING_REQUESTS) {
      this.#items = this.#items.slice(this.#head).filter((p) => !p.answered);
      this.#head = 0;
    }
  }

  /** The oldest unanswered entry, removed; undefined when there is none. */
  shift(): Pending | undefined {
    while (this.#head < this.#items.length) {
      const item = this.#items[this.#head++]!;
      if (!item.answered) {
        this.#compact();
        return item;
      }
    }
    this.#compact();
    return undefined;
  }

  /** Drops the answered entries at the front; true when no unanswered entry is left. */
  prune(): boolean {
    while (this.#head < this.#items.length && this.#items[this.#head]!.answered) this.#head++;
    this.#compact();
    return this.#head >= this.#items.length;
  }

  #compact(): void {
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }
}

/** The unanswered requests of one scope. */
class Scope {
  /** The connections of the scope still open: the scope goes when none is. */
  readonly open: Set<number>;
  readonly byKey = new Map<string, PendingQueue>();
  /** Every unanswered request in the order asked, to forget the oldest past MAX_PENDING_REQUESTS. */
  readonly all = new PendingQueue();
  pending = 0;

  constructor(conns: readonly number[]) {
    this.open = new Set(conns);
  }
}

/** The map key of a pairing key: requests without a key pair in order, apart from any keyed ones. */
function keyOf(key: string | undefined): string {
  return key === undefined ? "" : `=${key}`;
}

/**
 * A session's timeline with pairing: wraps the recorder the session appends to. Called for every event (it only
 * looks at decoded messages with `pair` and at the loss of connections, which drops their scope). `scopeOf(conn)`
 * names the connections sharing conn's scope (conn alone, or both legs of a proxied connection).
 */
export class PairingTimeline implements NumberingTimeline {
  readonly #scopes = new Map<number, Scope>();

  constructor(
    private readonly inner: NumberingTimeline,
    private readonly scopeOf: (conn: number) => readonly number[] = (conn) => [conn],
  ) {}

  get count(): number {
    return this.inner.count;
  }

  /** Appends `event`, a response filled in with the request it answers, and remembers a request. */
  append(event: NewTimelineEvent): TimelineEvent {
    if (event.kind === "log" && event.pair?.role === "response") this.#answer(event);
    const recorded = this.inner.append(event);
    if (event.kind === "log" && event.pair?.role === "request") this.#ask(event, recorded.seq);
    else if (recorded.kind === "lifecycle" && (recorded.event === "lost" || recorded.event === "failed")) {
      this.#closed(recorded.conn);
    }
    return recorded;
  }

  /** How many requests wait for an answer in conn's scope (for tests and diagnostics). */
  pendingIn(conn: number): number {
    return this.#scopes.get(this.#scopeId(conn))?.pending ?? 0;
  }

  #scopeId(conn: number): number {
    return Math.min(...this.scopeOf(conn));
  }

  #answer(event: Omit<LogTimelineEvent, "seq">): void {
    const pair = event.pair!;
    const scope = this.#scopes.get(this.#scopeId(event.conn));
    const key = keyOf(pair.key);
    const queue = scope?.byKey.get(key);
    const request = queue?.shift();
    if (scope === undefined || request === undefined) return;
    request.answered = true;
    scope.pending -= 1;
    if (queue!.prune()) scope.byKey.delete(key);
    scope.all.prune();
    // Built field by field: spreading `pair` here took several µs per response on a busy proxy's main thread.
    const latency = Math.max(0, event.t - request.t);
    event.pair =
      pair.key === undefined
        ? { role: pair.role, request: request.seq, latency }
        : { role: pair.role, key: pair.key, request: request.seq, latency };
  }

  #ask(event: Omit<LogTimelineEvent, "seq">, seq: number): void {
    const id = this.#scopeId(event.conn);
    let scope = this.#scopes.get(id);
    if (scope === undefined) this.#scopes.set(id, (scope = new Scope(this.scopeOf(event.conn))));
    const key = keyOf(event.pair!.key);
    let queue = scope.byKey.get(key);
    if (queue === undefined) scope.byKey.set(key, (queue = new PendingQueue()));
    const pending: Pending = { key, seq, t: event.t, answered: false };
    queue.push(pending);
    scope.all.push(pending);
    scope.pending += 1;
    if (scope.pending > MAX_PENDING_REQUESTS) {
      const oldest = scope.all.shift()!;
      oldest.answered = true;
      scope.pending -= 1;
      if (scope.byKey.get(oldest.key)?.prune()) scope.byKey.delete(oldest.key);
    }
  }

  #closed(conn: number): void {
    const id = this.#scopeId(conn);
    const scope = this.#scopes.get(id);
    if (scope === undefined) return;
    scope.open.delete(conn);
    if (scope.open.size === 0) this.#scopes.delete(id);
  }
}

/** The connections of conn's pairing scope in `session`: conn, and the other leg when it is a proxy leg. */
export function legsOf(
  session: { connections: ReadonlyMap<number, { pairedWith: number | undefined }> },
  conn: number,
): number[] {
  const other = session.connections.get(conn)?.pairedWith;
  return other === undefined ? [conn] : [conn, other];
}
