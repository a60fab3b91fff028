/**
 * The Settings dialog's "Certificate authority" section, as rune state: Wirescope's CA as the engine describes it
 * (caInfo: made on first use), its download, and its regeneration behind a confirmation. One instance per open
 * Settings dialog, made by the section's component, which calls `load` once mounted.
 */
import type { CAInfo, WirescopeApi } from "../../../preload/contract.ts";
import { offerText } from "./download.ts";
import { sentence } from "./format.ts";

/** The file name a downloaded CA certificate gets. */
export const CA_DOWNLOAD_NAME = "wirescope-ca.pem";

export class CertificateAuthorityState {
  #info = $state<CAInfo | null>(null);
  #problem = $state<string | null>(null);
  #confirming = $state(false);
  #busy = $state(false);

  /** `api`: the contract object to use at each call (a component's prop, read when used). */
  constructor(private readonly api: () => WirescopeApi) {}

  /** The CA, once loaded (or regenerated); null before, and while its files can't be read. */
  get info(): CAInfo | null {
    return this.#info;
  }

  /** Why the CA can't be shown or was not regenerated (the engine's message: which file, what to do), or null. */
  get problem(): string | null {
    return this.#problem;
  }

  /** The user asked to regenerate and has not yet confirmed or cancelled. */
  get confirming(): boolean {
    return this.#confirming;
  }

  /** A regeneration is under way. */
  get busy(): boolean {
    return this.#busy;
  }

  /** Asks the engine for its CA (making it on first use). */
  async load(): Promise<void> {
    this.#show(await this.api().caInfo({}));
  }

  /** Offers the CA certificate as a .pem download (from memory: it is a few hundred bytes). */
  download(): void {
    if (this.#info !== null) offerText(this.#info.pem, CA_DOWNLOAD_NAME, "application/x-pem-file");
  }

  /** "Regenerate…": asks for confirmation first. */
  askToRegenerate(): void {
    this.#confirming = true;
  }

  /** The confirmation was declined: nothing changes. */
  cancelRegenerate(): void {
    this.#confirming = false;
  }

  /** The confirmation was given: the engine replaces the CA (also repairs damaged files). */
  async regenerate(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      this.#show(await this.api().regenerateCA({}));
    } finally {
      this.#busy = false;
      this.#confirming = false;
    }
  }

  #show(result: Awaited<ReturnType<WirescopeApi["caInfo"]>>): void {
    if (result.ok) {
      this.#info = result.value;
      this.#problem = null;
    } else {
      this.#problem = sentence(result.error.message);
    }
  }
}
