import type { ServerResponse } from 'node:http';
import type { EventSubscription, SequencedEvent, SubscriptionListener } from '../control/event-log.js';

/**
 * Server-sent events (WHATWG HTML "Server-sent events"): one frame per
 * registry event — `event:` its kind, `id:` its sequence number, `data:` its
 * JSON on one line — plus comment-line heartbeats. Written with
 * backpressure: when the socket buffer is full nothing more is written until
 * `drain`, and the backlog stays in the shared event log (the subscription
 * is only a cursor), so a reader that never reads holds at most one socket
 * buffer of this process's memory.
 */

/** The last frame of a stream: why the server ended it. */
export const END_EVENT = 'end';

function frame(event: SequencedEvent): string {
  // JSON.stringify never emits a raw line break, so `data:` stays one line.
  return `event: ${event.kind}\nid: ${event.seq}\ndata: ${JSON.stringify(event.event)}\n\n`;
}

/** The largest interval setInterval takes without overflowing to 1 ms. */
const MAX_INTERVAL = 2 ** 31 - 1;

/**
 * Streams `subscribe`'s events to `res` until the client goes away or the
 * subscription ends (the reason goes out as a final `end` event). Resolves
 * when the response is closed.
 */
export function streamEvents(res: ServerResponse, subscribe: (listener: SubscriptionListener) => EventSubscription, heartbeatMs: number, head: boolean): Promise<void> {
  const headers = {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-store',
    // Proxies that buffer responses (nginx) would hold events back.
    'X-Accel-Buffering': 'no',
  };
  if (head) {
    res.writeHead(200, headers);
    res.end();
    return Promise.resolve();
  }
  let blocked = false;
  let heartbeat: NodeJS.Timeout | undefined;
  const pump = () => {
    if (blocked || res.destroyed) return;
    for (let event = subscription.next(); event; event = subscription.next()) {
      if (!res.write(frame(event))) {
        blocked = true;
        return;
      }
    }
  };
  // Subscribed before anything is written, so a refusal can still be answered as an error.
  // The listener is called only when events are appended, never during subscribe.
  const subscription = subscribe({
    ready: () => pump(),
    end: (reason) => {
      clearInterval(heartbeat);
      res.end(`event: ${END_EVENT}\ndata: ${JSON.stringify({ reason })}\n\n`);
      // A reader that never reads would keep the socket (and its buffer) until the idle timeout: let it go.
      const stuck = setTimeout(() => res.destroy(), Math.min(heartbeatMs, MAX_INTERVAL));
      stuck.unref();
      res.once('finish', () => clearTimeout(stuck));
    },
  });
  res.writeHead(200, headers);
  res.flushHeaders();
  res.on('drain', () => {
    blocked = false;
    pump();
  });
  heartbeat = setInterval(() => {
    // A blocked stream skips its heartbeat: the client has bytes to read already.
    if (!blocked) blocked = !res.write(': heartbeat\n\n');
  }, Math.min(heartbeatMs, MAX_INTERVAL));
  heartbeat.unref();
  return new Promise((resolve) => {
    res.once('close', () => {
      clearInterval(heartbeat);
      subscription.close();
      resolve();
    });
    pump();
  });
}
