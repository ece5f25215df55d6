// Protocol test files that `npm run test:h2` does not run over HTTP/2, and
// why: each one asserts something only HTTP/1.1 has. What they cover that
// HTTP/2 also has is tested over h2 in test/tls.test.ts.
export const H2_EXCLUDED: Record<string, string> = {
  'test/auth-safety.test.ts': 'sends header values HTTP/2 forbids (leading/trailing whitespace, RFC 9113 §8.2.1) and headers past the HTTP/1.1 parser limit (431)',
  'test/faults.test.ts': 'asserts what an HTTP/1.1 client sees when the connection closes (socket hang up, Connection: close); drop and truncate over h2 reset or end the stream instead (test/tls.test.ts)',
  'test/journal.test.ts': 'sends Expect: 100-continue with node:http directly (HTTP/2 has no 100-continue handshake in node:http2 compat)',
  'test/quirks.test.ts': 'asserts repeated header lines (Warning) as received and Connection: close, which node:http2 merges and forbids',
  'test/redirect.test.ts': 'asserts the http: scheme of the signed URL and follows it with fetch over HTTP/1.1; the https redirect is in test/tls.test.ts',
};
