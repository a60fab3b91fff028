/**
 * The saved connection profiles of a workspace: `profiles.json` at its root, `{ "version": 1, "profiles": [...] }`,
 * what the connect dialog fills in. Read from disk on every call, so an edit made in another editor is always seen;
 * written atomically; a file that cannot be read is never overwritten.
 */
import { promises as fsp } from "node:fs";
import { MAX_ENDPOINT_LENGTH, MAX_NAME_LENGTH, MAX_PROFILES, shorten } from "../../preload/limits.ts";
import { isErrno, writeAtomically } from "./atomic-write.ts";
import { CorruptProfilesError, InvalidProfileError, NotFoundError, WriteFailedError } from "./errors.ts";
import { PROFILES_FILE, profilesFile } from "./layout.ts";
import { checkProtocolPath } from "./protocol-path.ts";

/** A saved connection: what the connect dialog fills in. */
export interface ConnectionProfile {
  /** Unique within the workspace; what the user picks it by. */
  name: string;
  /** Connect to a server, accept connections, or sit in the middle. */
  kind: "client" | "listener" | "proxy";
  /** A Twisted endpoint string: where to connect (client) or listen (listener, proxy). */
  endpoint: string;
  /** For a proxy (required there): the endpoint string of the server to forward to. */
  upstream?: string;
  /** A protocol path in the workspace, or absent for raw bytes. */
  protocol?: string;
}

const PROFILE_KINDS = ["client", "listener", "proxy"] as const;

/** Checks a profile's shape and returns a clean copy (unknown fields dropped); throws InvalidProfileError. */
function checkProfile(value: unknown): ConnectionProfile {
  if (typeof value !== "object" || value === null) throw new InvalidProfileError("a profile must be an object");
  const { name, kind, endpoint, upstream, protocol } = value as Record<string, unknown>;
  // The contract's limits (limits.ts), so that what saveProfile accepts is kept and what profiles.json holds is shown.
  const text = (field: string, v: unknown, max: number): string => {
    if (typeof v !== "string" || v.trim() === "" || v.length > max || /\p{Cc}/u.test(v)) {
      throw new InvalidProfileError(`a profile's ${field} must be a non-empty line of at most ${max} characters`);
    }
    return v;
  };
  const profile: ConnectionProfile = { name: text("name", name, MAX_NAME_LENGTH), kind: "client", endpoint: "" };
  if (!PROFILE_KINDS.includes(kind as ConnectionProfile["kind"])) {
    throw new InvalidProfileError(`a profile's kind is one of ${PROFILE_KINDS.join(", ")}: got ${String(kind)}`);
  }
  profile.kind = kind as ConnectionProfile["kind"];
  profile.endpoint = text("endpoint", endpoint, MAX_ENDPOINT_LENGTH);
  if (upstream !== undefined) profile.upstream = text("upstream", upstream, MAX_ENDPOINT_LENGTH);
  if (profile.kind === "proxy" && profile.upstream === undefined) {
    throw new InvalidProfileError(`proxy profile '${profile.name}' needs an upstream endpoint to forward to`);
  }
  if (protocol !== undefined) {
    try {
      profile.protocol = checkProtocolPath(protocol);
    } catch (err) {
      throw new InvalidProfileError(`profile '${profile.name}': ${(err as Error).message}`);
    }
  }
  return profile;
}

/**
 * The profiles of the workspace at `root`. One per Workspace (its owner): saves through the same store are
 * serialised, so two saves at the same time never lose one another.
 */
export class ProfileStore {
  /** Serialises the read-modify-write of profiles.json. */
  #queue: Promise<unknown> = Promise.resolve();

  /** `root` is the workspace's absolute folder. */
  constructor(private readonly root: string) {}

  /** The saved profiles, in the order saved. [] when there is no profiles.json; CorruptProfilesError if unreadable. */
  async list(): Promise<ConnectionProfile[]> {
    let text: string;
    try {
      text = await fsp.readFile(profilesFile(this.root), "utf8");
    } catch (err) {
      if (isErrno(err, "ENOENT")) return [];
      throw err;
    }
    try {
      const parsed: unknown = JSON.parse(text);
      const list = (parsed as { profiles?: unknown } | null)?.profiles;
      if (!Array.isArray(list)) throw new Error('no "profiles" array');
      return list.map(checkProfile);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new CorruptProfilesError(
        `${PROFILES_FILE} in ${this.root} cannot be read (${reason}): fix or remove it; it is left as it is`,
        err,
      );
    }
  }

  /**
   * Saves `profile` (validated: InvalidProfileError), replacing the one with the same name or adding it at the end.
   * Atomic; saves are serialised so concurrent ones never lose one another. Refuses (CorruptProfilesError) to
   * overwrite a profiles.json it cannot read.
   */
  async save(profile: ConnectionProfile): Promise<void> {
    const clean = checkProfile(profile);
    await this.#update((profiles) => {
      const at = profiles.findIndex((p) => p.name === clean.name);
      if (at === -1 && profiles.length >= MAX_PROFILES) {
        throw new InvalidProfileError(
          `there are ${MAX_PROFILES.toLocaleString("en-US")} profiles, the most kept: delete some you no longer use`,
        );
      }
      if (at === -1) profiles.push(clean);
      else profiles[at] = clean;
      return profiles;
    });
  }

  /** Deletes the profile named `name`; NotFoundError if there is none. */
  async delete(name: string): Promise<void> {
    await this.#update((profiles) => {
      const kept = profiles.filter((p) => p.name !== name);
      if (kept.length === profiles.length) throw new NotFoundError(`there is no profile named '${shorten(name)}'`);
      return kept;
    });
  }

  async #update(change: (profiles: ConnectionProfile[]) => ConnectionProfile[]): Promise<void> {
    const run = async (): Promise<void> => {
      const profiles = change(await this.list());
      try {
        await fsp.mkdir(this.root, { recursive: true });
        await writeAtomically(profilesFile(this.root), `${JSON.stringify({ version: 1, profiles }, null, 2)}\n`, false);
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        throw new WriteFailedError(
          `could not save ${PROFILES_FILE}: ${reason}; the previous profiles are unchanged`,
          err,
        );
      }
    };
    const done = this.#queue.then(run, run);
    this.#queue = done.catch(() => undefined);
    return done;
  }
}
