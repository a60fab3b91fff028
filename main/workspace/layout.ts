/**
 * Where the workspace is, and where things are in it: the one place that names the workspace's files and folders.
 * Whatever builds a path into a workspace (the workspace itself, the engine, the pcapng export, the CLI, the tests)
 * takes it from here, so the folder the user sees is the one its README.txt and the project's README describe.
 *
 *     <root>/README.txt       what the folder is (written by `Workspace.init()` when missing)
 *     <root>/**\/*.ts          protocols; they may import each other with relative paths, and the core as "wirescope"
 *     <root>/profiles.json    saved connection profiles
 *     <root>/captures/        the recorder's capture files, one per session: not a protocol folder, not watched
 *     <root>/exports/         pcapng files exported from sessions
 *     <root>/cli/             protocols from elsewhere, copied there by the CLI for a run
 *     <root>/.trash/          protocols deleted from the app, by deletion time: never a hard delete of user code
 *
 * Pure: nothing here touches the disk.
 */
import os from "node:os";
import path from "node:path";

/** The file at the root that says what the folder is. */
export const README_FILE = "README.txt";
/** The file, at the root, holding the saved connection profiles. */
export const PROFILES_FILE = "profiles.json";
/** The folder, at the root, where sessions keep their capture files. Reserved: no protocol lives there. */
export const CAPTURES_DIR = "captures";
/** The folder, at the root, that pcapng exports are written to. */
export const EXPORTS_DIR = "exports";
/** The folder, at the root, that the CLI copies protocols from elsewhere to (an ordinary protocol folder). */
export const CLI_PROTOCOLS_DIR = "cli";
/** The folder, at the root, that deleted protocols are moved to. Hidden, so neither listed nor watched. */
export const TRASH_DIR = ".trash";

/** The capture files' folder of the workspace at `root`. */
export function capturesDir(root: string): string {
  return path.join(root, CAPTURES_DIR);
}

/** The exports' folder of the workspace at `root`. */
export function exportsDir(root: string): string {
  return path.join(root, EXPORTS_DIR);
}

/** The profiles file of the workspace at `root`. */
export function profilesFile(root: string): string {
  return path.join(root, PROFILES_FILE);
}

/** The README of the workspace at `root`. */
export function readmeFile(root: string): string {
  return path.join(root, README_FILE);
}

/** The protocol path (relative, "/"-separated) the CLI gives its copy of a protocol file named `fileName`. */
export function cliProtocolPath(fileName: string): string {
  return `${CLI_PROTOCOLS_DIR}/${fileName}`;
}

/** The trash path (relative, "/"-separated) protocol `p` is moved to, in the trash's folder `batch`. */
export function trashPath(batch: string, p: string): string {
  return `${TRASH_DIR}/${batch}/${p}`;
}

/**
 * The workspace folder to use: `$WIRESCOPE_WORKSPACE` when set; else `<documents>/Wirescope`, where documents is
 * `options.documentsDir` (the Electron shell passes `app.getPath("documents")`), else `$XDG_DOCUMENTS_DIR`, else
 * `~/Documents`. Pure: creates nothing (that is `Workspace.init()`).
 */
export function defaultWorkspaceRoot(
  options: { documentsDir?: string; env?: NodeJS.ProcessEnv; homeDir?: string } = {},
): string {
  const env = options.env ?? process.env;
  if (env.WIRESCOPE_WORKSPACE) return path.resolve(env.WIRESCOPE_WORKSPACE);
  const documents =
    options.documentsDir ?? env.XDG_DOCUMENTS_DIR ?? path.join(options.homeDir ?? os.homedir(), "Documents");
  return path.resolve(documents, "Wirescope");
}

/** What `Workspace.init()` writes to README.txt: the layout above, for whoever opens the folder. */
export const WORKSPACE_README = `This folder is Wirescope's workspace.

- *.ts files are protocols: TypeScript classes in Twisted's style, e.g.

      import { LineReceiver } from "wirescope";
      export default class Greeter extends LineReceiver {
        override lineReceived(line: Buffer): void {
          this.sendLine(Buffer.from("hello " + line.toString()));
        }
      }

  Wirescope compiles and hot-loads them onto live connections when they are saved, from the app or from any
  editor. A protocol may import the core ("wirescope") and other files of this folder ("./util.ts").
- ${PROFILES_FILE} holds saved connection profiles (client, listener, proxy).
- ${CAPTURES_DIR}/ holds recorded sessions.
- ${TRASH_DIR}/ holds protocols deleted from the app; remove them from there for good.

Plain files: keep this folder under git if you like.
`;
