// A recording pass-through in front of a registry: a real client talks to
// it as it would to the registry, and the test reads afterwards which
// requests went over the wire (e.g. whether a client mounted a blob instead
// of uploading it). It adds nothing and changes nothing on the way.
import { createServer, request, Agent, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface WireRecord {
  method: string;
  /** Path and query as the client sent them. */
  url: string;
  status: number;
  /** Response headers as the registry sent them. */
  headers: IncomingHttpHeaders;
}

export interface Wire {
  /** `127.0.0.1:PORT` of the pass-through, for image references. */
  host: string;
  /** Every request, in the order their responses began. */
  records: WireRecord[];
  close(): Promise<void>;
}

/** Starts a pass-through on a free loopback port that forwards to `target` (a registry url). */
export async function startWire(target: string): Promise<Wire> {
  const upstream = new URL(target);
  const agent = new Agent({ keepAlive: true });
  const records: WireRecord[] = [];
  const server = createServer((req, res) => {
    const forward = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        // The client's own Host header goes through, so any absolute URL the
        // registry builds from it points back here, not around the wire.
        headers: req.headers,
        agent,
      },
      (reply) => {
        records.push({ method: req.method ?? '', url: req.url ?? '', status: reply.statusCode ?? 0, headers: reply.headers });
        res.writeHead(reply.statusCode ?? 502, reply.rawHeaders);
        reply.pipe(res);
      },
    );
    forward.on('error', (error) => {
      res.destroy(error);
    });
    req.pipe(forward);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    records,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      }),
  };
}
