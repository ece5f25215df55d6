// What a client reads from a WWW-Authenticate header, so tests assert the
// challenge's parameters rather than one spelling of the header.

/**
 * RFC 9110 §11.6.1: `scheme 1*SP auth-param *( OWS "," OWS auth-param )`,
 * values a token or a quoted-string (with `\` escapes).
 */
export function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const match = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) +(.*)$/s.exec(header);
  if (!match) return { scheme: header.trim(), params: {} };
  const params: Record<string, string> = {};
  const param = /[ \t]*([!#$%&'*+.^_`|~0-9A-Za-z-]+)[ \t]*=[ \t]*(?:"((?:[^"\\]|\\.)*)"|([!#$%&'*+.^_`|~0-9A-Za-z-]+))[ \t]*(?:,|$)/y;
  const rest = match[2]!;
  while (param.lastIndex < rest.length) {
    const p = param.exec(rest);
    if (!p) throw new Error(`unparseable challenge: ${header}`);
    params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!;
  }
  return { scheme: match[1]!, params };
}
