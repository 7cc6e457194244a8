/**
 * Output of commands run on servers ends up in Slack (the failure's last
 * lines, on the environment's message and in the ops alert) and in the
 * store. Scripts print what they print: what looks like a secret is
 * replaced before it leaves the flow. A heuristic: it prefers to hide a
 * harmless string over showing a key.
 */
const HIDDEN = '[hidden]';

const RULES: ReadonlyArray<[RegExp, string | ((...m: string[]) => string)]> = [
  // A private key block, whole.
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g, HIDDEN],
  // Credentials in a URL: scheme://user:password@host
  [/([a-z][a-z0-9+.-]*:\/\/[^\s:/@]+):[^\s@/]+@/gi, (_m, head: string) => `${head}:${HIDDEN}@`],
  // AWS access key ids.
  [/\b(AKIA|ASIA)[0-9A-Z]{16}\b/g, HIDDEN],
  // Slack, GitHub and similar tokens by their prefix.
  [/\bxox[abposr]-[A-Za-z0-9-]{10,}/g, HIDDEN],
  [/\bxapp-[A-Za-z0-9-]{10,}/g, HIDDEN],
  [/\bgh[pousr]_[A-Za-z0-9]{20,}/g, HIDDEN],
  // JSON Web Tokens.
  [/\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, HIDDEN],
  // Authorization headers.
  [/\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{8,}/g, (_m, scheme: string) => `${scheme} ${HIDDEN}`],
  // name=value or name: value where the name says it is secret.
  [
    /\b([A-Za-z0-9_.-]*(?:secret|token|passw(?:or)?d|pwd|api[_-]?key|access[_-]?key|private[_-]?key|credential)[A-Za-z0-9_.-]*)(\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s"',;]+)/gi,
    (_m, name: string, sep: string) => `${name}${sep}${HIDDEN}`,
  ],
];

export function scrubSecrets(text: string): string {
  let out = text;
  for (const [pattern, replacement] of RULES) out = out.replace(pattern, replacement as string);
  return out;
}
