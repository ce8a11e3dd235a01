/**
 * Fills the agent installer template (deploy/install/kvmagent.sh) for one host. Pure: text in,
 * text out. Every value becomes one single-quoted shell word, so nothing in it — a quote, `$`,
 * a backtick, a newline — can end the assignment or run anything.
 */

export interface InstallerValues {
  /** `host:port` of the kvmservice replicas the agent dials. */
  servers: readonly string[];
  /** Where the installer downloads the agent bundle. */
  bundleUrl: string;
  /** sha256 (hex) the downloaded bundle must have. */
  bundleSha256: string;
  /** The control plane's CA certificate, PEM. */
  caPem: string;
  /** Join token `<id>.<secret>`; empty: the host has a credential, or the token comes at run time. */
  token?: string;
  /** The host name the token is bound to, if any. */
  hostname?: string;
}

export class InstallerTemplateError extends Error {}

/** `'…'` with each `'` written as `'\''`. */
export function shellQuote(value: string): string {
  if (value.includes('\0')) throw new InstallerTemplateError('a value for the installer contains a NUL character');
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

const PLACEHOLDER = /@KVM_[A-Z0-9_]+@/g;

/** The template with every `NAME=@NAME@` line filled in; throws when template and values disagree. */
export function renderInstallerScript(template: string, values: InstallerValues): string {
  const fills: Record<string, string> = {
    KVM_SERVER: values.servers.join(','),
    KVM_BUNDLE_URL: values.bundleUrl,
    KVM_BUNDLE_SHA256: values.bundleSha256,
    KVM_HOSTNAME: values.hostname ?? '',
    KVM_TOKEN: values.token ?? '',
    KVM_CA_PEM: values.caPem.trimEnd(),
  };
  let out = template;
  for (const [name, value] of Object.entries(fills)) {
    const line = new RegExp(`^${name}=@${name}@$`, 'gm');
    const count = out.match(line)?.length ?? 0;
    if (count !== 1) throw new InstallerTemplateError(`installer template: expected one line ${name}=@${name}@, found ${count}`);
    // A function, so that "$&" or "$'" in a value are not replacement patterns.
    out = out.replace(line, () => `${name}=${shellQuote(value)}`);
  }
  const left = template.match(PLACEHOLDER)?.filter((p) => !(p.slice(1, -1) in fills));
  if (left && left.length > 0) throw new InstallerTemplateError(`installer template: unknown placeholder ${left[0]}`);
  return out;
}
