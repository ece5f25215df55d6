// src/http/reply.ts on its own: streaming a blob's segments stops once the
// response is gone, whichever kind of response it is. Over HTTP/2 node's
// compatibility response has no `destroyed`; a stream reset during
// backpressure must still end the loop, not leave it waiting for a 'drain'
// or 'close' that already came (which kept the handler and its segments
// for ever after every cancelled h2 download).
import t from 'tap';
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { sendSegments } from '../src/http/reply.js';

/** A response shaped like node:http2's compatibility response: writes refused (backpressure), no `destroyed`. */
class Http2LikeResponse extends EventEmitter {
  readonly req = { httpVersionMajor: 2 };
  readonly stream = { destroyed: false, closed: false };
  writes = 0;
  ended = false;
  setHeader(): void {}
  writeHead(): void {}
  write(): boolean {
    this.writes++;
    return false;
  }
  end(): void {
    this.ended = true;
  }
  /** The client resets the stream: node marks it destroyed and the response emits 'close' once. */
  reset(): void {
    this.stream.destroyed = true;
    this.stream.closed = true;
    this.emit('close');
  }
}

t.test('sendSegments over an HTTP/2-shaped response: a reset during backpressure ends it, with no write after the reset', { timeout: 10_000 }, async (t) => {
  const res = new Http2LikeResponse();
  const segments = [Buffer.alloc(16, 1), Buffer.alloc(16, 2), Buffer.alloc(16, 3)];
  const sent = sendSegments(res as unknown as ServerResponse, 200, segments, 0, 48, {});
  t.equal(res.writes, 1, 'the first segment is written, and the socket is full');
  res.reset();
  await sent;
  t.equal(res.writes, 1, 'nothing is written after the reset');
  t.equal(res.ended, false, 'and the gone response is not ended');
  t.equal(res.listenerCount('drain') + res.listenerCount('close'), 0, 'no listener is left waiting');
});

t.test('sendSegments ends a response that is gone before its next wait', { timeout: 10_000 }, async (t) => {
  const res = new Http2LikeResponse();
  res.write = function (this: Http2LikeResponse) {
    this.writes++;
    // Reset while the write is under way: its 'close' comes before the wait for 'drain' begins.
    this.reset();
    return false;
  };
  await sendSegments(res as unknown as ServerResponse, 200, [Buffer.alloc(8), Buffer.alloc(8)], 0, 16, {});
  t.equal(res.writes, 1);
  t.equal(res.listenerCount('drain') + res.listenerCount('close'), 0);
});
