/**
 * `wirescope ca`: Wirescope's certificate authority, the one the app uses (in the settings folder: made on first
 * use), through the engine's caInfo and regenerateCA. Its path is the last line of stdout, for scripts:
 * `curl --cacert "$(wirescope ca | tail -1)" ...`.
 */
import type { CAInfo } from "../../../preload/contract.ts";
import { COMMON_OPTIONS, parseCommandLine } from "../args.ts";
import { preparedCommand, type CliCommand } from "../command.ts";
import { EXIT } from "../errors.ts";
import type { CliRun } from "../run.ts";

const USAGE = `Usage: wirescope ca [--pem] [--regenerate]

Prints Wirescope's certificate authority: the CA that signs the certificates Wirescope presents when it plays a
TLS server (TLS listeners, terminating proxies, STARTTLS). A client trusts Wirescope by trusting this one file.
It is made on first use in the settings folder ($WIRESCOPE_CONFIG_DIR, else $XDG_CONFIG_HOME/wirescope, else
~/.config/wirescope), shared with the app; its key stays there, readable by you only.

Output: its subject and validity, its SHA-256 fingerprint, then the certificate's path as the last line:
  openssl s_client -connect 127.0.0.1:8443 -CAfile "$(wirescope ca | tail -1)"
  curl --cacert "$(wirescope ca | tail -1)" https://localhost:8443/

Options:
  --pem                 print the certificate itself (PEM) instead
  --regenerate          replace the CA with a new one first: clients must then trust the new certificate
  --json                print {"kind":"ca",...}: path, subject, validFrom, validTo, fingerprint256 (and pem with
                        --pem), then a summary
  --workspace <folder>  as for every command (the CA does not depend on it)

Exit codes: 0 printed; 1 the CA could not be written; 2 usage error; 3 the CA's files are damaged or unreadable
(the message says which; delete them or use --regenerate).
`;

const OPTIONS = { ...COMMON_OPTIONS, pem: { type: "boolean" }, regenerate: { type: "boolean" } } as const;

/** `ca`. */
export const caCommand: CliCommand = {
  name: "ca",
  summary: "print Wirescope's certificate authority (its path last), or regenerate it",
  usage: USAGE,
  prepare(argv) {
    const { values } = parseCommandLine("ca", argv, OPTIONS, { names: [], required: 0 });
    return preparedCommand(values, (run) => printCA(run, values.pem === true, values.regenerate === true));
  },
};

async function printCA(run: CliRun, pem: boolean, regenerate: boolean): Promise<number> {
  const info: CAInfo = regenerate ? await run.service.call("regenerateCA", {}) : await run.service.call("caInfo", {});
  if (regenerate) run.note("wirescope: made a new CA: clients that trusted the old one must trust this one instead");
  const { pem: text, ...summary } = info;
  const human = pem
    ? text
    : `${info.subject}, valid from ${info.validFrom} to ${info.validTo}\n` +
      `SHA-256 ${info.fingerprint256}\n${info.path}`;
  run.announce(human, { kind: "ca", ...summary, ...(pem ? { pem: text } : {}) });
  return EXIT.ok;
}
