/**
 * The running digest of an upload session's bytes, with the session's
 * commit-or-roll-back of each request's chunk.
 *
 * Small uploads are hashed inline, as they arrive. Large ones are hashed on a
 * worker thread while the next bytes arrive: hashing on the thread that
 * receives capped a push at 1 / (1/http + 1/sha256), about half of what
 * node:http alone takes in. Each full segment of the session (a body chunk
 * kept as node:http handed it over, or one the session filled with smaller
 * pieces) is transferred to the worker and back, so no byte of it is copied;
 * only the partly filled last segment's new bytes are copied at the end of
 * each request. A session's state on the worker, its messages, and its
 * segments' return all travel on one ordered channel, so the digest arrives
 * after every segment is back.
 *
 * A segment that holds the end of the committed bytes was sent (as a copy)
 * when they were committed, so it is never lent later: a chunk rolled back
 * cuts only into segments that are here.
 */
import type * as Crypto from 'node:crypto';
import type { Worker as WorkerThread } from 'node:worker_threads';
import { nodeCrypto, type DigestAlgorithm } from '../oci/digest.js';
import { requireBuiltin } from '../builtins.js';
import type { SegmentWriter } from './segments.js';

export interface UploadHash {
  /** A chunk starts: what follows is rolled back by rollback(). */
  begin(): void;
  /**
   * Bytes of the current chunk, just written to the session's segments. They
   * may be detached once this returns (a kept chunk lent to the hashing
   * thread): read their length before.
   */
  update(bytes: Uint8Array): void;
  commit(): void;
  rollback(): void;
  /** Hex digest of the committed bytes and the current chunk's. */
  digest(): Promise<string>;
  /** The session is over: forget its state. A digest still awaited fails with `reason` (the session was cancelled). */
  drop(reason?: Error): void;
}

/** Uploads at least this large (or of unknown length) are hashed on the worker. */
export const WORKER_HASH_MIN_BYTES = 1024 * 1024;

export function uploadHash(algorithm: DigestAlgorithm, writer: SegmentWriter, expectedBytes: number | undefined): UploadHash {
  return expectedBytes === undefined || expectedBytes >= WORKER_HASH_MIN_BYTES ? new WorkerHash(algorithm, writer) : new InlineHash(algorithm);
}

/** Hashing on the receiving thread; no Hash object is made until there are bytes, and none is copied for the first chunk. */
class InlineHash implements UploadHash {
  #committed: Crypto.Hash | undefined;
  #current: Crypto.Hash | undefined;

  constructor(readonly algorithm: DigestAlgorithm) {}

  begin(): void {
    this.#current = this.#committed?.copy();
  }

  update(bytes: Uint8Array): void {
    (this.#current ??= nodeCrypto().createHash(this.algorithm)).update(bytes);
  }

  commit(): void {
    if (this.#current) this.#committed = this.#current;
    this.#current = undefined;
  }

  rollback(): void {
    this.#current = undefined;
  }

  /**
   * Ends the chunk's hash (no copy: a digest is asked for once, when the
   * upload completes, and the chunk then commits into a closed session or
   * rolls back to the committed hash, which is never finalised).
   */
  async digest(): Promise<string> {
    const hash = this.#current ?? this.#committed?.copy() ?? nodeCrypto().createHash(this.algorithm);
    this.#current = undefined;
    return hash.digest('hex');
  }

  drop(): void {
    this.#committed = this.#current = undefined;
  }
}

// ---------------------------------------------------------------------------
// The worker. Its source is a string, not a file, so that the CLI's one-file
// bundle carries it.

type Step =
  | { op: 'open'; algorithm: DigestAlgorithm }
  | { op: 'begin' | 'commit' | 'rollback' | 'digest' | 'drop' }
  /** Bytes to hash: a lent segment (`at`, with its lend's `ticket`) to send back, or a copy. */
  | { op: 'data'; buffer: ArrayBuffer; at?: number; ticket?: number };

type Reply = { id: number; back: { at: number; ticket: number; buffer: ArrayBuffer }[] } | { id: number; digest: string };

// import() rather than require or import statements: the same source runs
// whether node evaluates it as CommonJS or, with --input-type=module
// inherited from the parent, as a module. Messages wait until the listener is on.
const WORKER_SOURCE = `
Promise.all([import('node:worker_threads'), import('node:crypto')]).then(([{ parentPort }, { createHash }]) => {
const sessions = new Map();
parentPort.on('message', ({ id, steps }) => {
  let s = sessions.get(id);
  const back = [];
  const transfer = [];
  for (const step of steps) {
    if (s === undefined && step.op !== 'open') continue;
    switch (step.op) {
      case 'open': s = { algorithm: step.algorithm, committed: undefined, current: undefined }; sessions.set(id, s); break;
      case 'begin': s.current = s.committed ? s.committed.copy() : createHash(s.algorithm); break;
      case 'data':
        s.current.update(new Uint8Array(step.buffer));
        if (step.at !== undefined) { back.push({ at: step.at, ticket: step.ticket, buffer: step.buffer }); transfer.push(step.buffer); }
        break;
      case 'commit': s.committed = s.current; s.current = undefined; break;
      case 'rollback': s.current = undefined; break;
      case 'digest':
        if (back.length > 0) parentPort.postMessage({ id, back: back.splice(0) }, transfer.splice(0));
        parentPort.postMessage({ id, digest: (s.current || s.committed || createHash(s.algorithm)).copy().digest('hex') });
        break;
      case 'drop': sessions.delete(id); break;
    }
  }
  if (back.length > 0) parentPort.postMessage({ id, back }, transfer);
});
});
`;

/** Bytes sent to the hashing thread so far in this process (tests read it to know which path an upload took). */
export let bytesHashedOffThread = 0;

/** Bytes queued before they are posted: large enough that messages cost little, small enough to overlap. */
const BATCH_BYTES = 1024 * 1024;

/** The one hashing thread of this process, started on the first large upload; unref'd, so it never keeps a process alive. */
class HashThread {
  static #thread: HashThread | undefined;

  static get(): HashThread {
    return (HashThread.#thread ??= new HashThread());
  }

  readonly #worker: WorkerThread;
  readonly #hashes = new Map<number, WorkerHash>();
  #next = 0;

  private constructor() {
    const { Worker } = requireBuiltin('node:worker_threads') as typeof import('node:worker_threads');
    // execArgv []: none of the parent's flags or loaders (tsx, --input-type), which the worker does not need.
    this.#worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [], name: 'oci-test-registry hashing' });
    this.#worker.on('message', (reply: Reply) => this.#hashes.get(reply.id)?.receive(reply));
    // A hashing thread that fails takes its sessions' in-flight bytes with it: those uploads fail; the next starts a new thread.
    const fail = (error: Error) => {
      if (HashThread.#thread === this) HashThread.#thread = undefined;
      for (const hash of this.#hashes.values()) hash.lost(error);
      this.#hashes.clear();
    };
    this.#worker.on('error', fail);
    this.#worker.on('exit', (code) => fail(new Error(`the hashing thread exited (${code})`)));
    // After the listeners: adding a 'message' listener refs the worker's port again.
    this.#worker.unref();
  }

  open(hash: WorkerHash): number {
    const id = ++this.#next;
    this.#hashes.set(id, hash);
    return id;
  }

  close(id: number): void {
    this.#hashes.delete(id);
  }

  post(id: number, steps: Step[], transfer: ArrayBuffer[]): void {
    this.#worker.postMessage({ id, steps }, transfer);
  }
}

/**
 * Hashing on the worker, segment by segment: a segment is sent once it is
 * full (lent: transferred and given back, no byte copied), and at the end of
 * each chunk the bytes of the partly filled last segment not yet sent are
 * sent as a copy (at most one segment per request).
 */
class WorkerHash implements UploadHash {
  readonly #thread = HashThread.get();
  readonly #id: number;
  #steps: Step[];
  #transfer: ArrayBuffer[] = [];
  #queued = 0;
  #digests: { resolve: (hex: string) => void; reject: (error: Error) => void }[] = [];
  #lost: Error | undefined;
  /** Dropped (the session closed): a commit that follows the close is nothing to send. */
  #dropped = false;
  /** The first segment with bytes not yet sent, and how many of its bytes were sent (as a copy). */
  #next = 0;
  #sent = 0;
  /** Where the committed bytes end, to go back to on a rollback. */
  #committed = { next: 0, sent: 0 };

  constructor(
    algorithm: DigestAlgorithm,
    readonly writer: SegmentWriter,
  ) {
    this.#id = this.#thread.open(this);
    this.#steps = [{ op: 'open', algorithm }];
  }

  begin(): void {
    this.#committed = { next: this.#next, sent: this.#sent };
    this.#steps.push({ op: 'begin' });
  }

  update(): void {
    // Every segment but the one still filling is complete.
    const { writer } = this;
    while (this.#next < writer.count && writer.full(this.#next)) this.#sendRest(this.#next++);
    if (this.#queued >= BATCH_BYTES) this.#flush();
  }

  /** Sends what is unsent of segment `index`, lent whole when none of it was sent, else as a copy. */
  #sendRest(index: number): void {
    const length = this.writer.filled(index);
    const from = this.#sent;
    this.#sent = 0;
    if (from === length) return;
    let buffer: ArrayBuffer;
    if (from === 0) {
      const lent = this.writer.lend(index);
      buffer = lent.buffer;
      this.#steps.push({ op: 'data', buffer, at: index, ticket: lent.ticket });
    } else {
      buffer = new Uint8Array(this.writer.bytesOf(index, from, length)).buffer as ArrayBuffer;
      this.#steps.push({ op: 'data', buffer });
    }
    this.#transfer.push(buffer);
    this.#queued += length - from;
    bytesHashedOffThread += length - from;
  }

  /** The chunk is over (commit or digest): the last segment's unsent bytes go as a copy. */
  #sendTail(): void {
    this.update();
    const last = this.writer.count - 1;
    if (last < this.#next) return;
    const filled = this.writer.filled(last);
    if (filled === this.#sent) return;
    const buffer = new Uint8Array(this.writer.bytesOf(last, this.#sent, filled)).buffer as ArrayBuffer;
    this.#steps.push({ op: 'data', buffer });
    this.#transfer.push(buffer);
    this.#queued += filled - this.#sent;
    bytesHashedOffThread += filled - this.#sent;
    this.#sent = filled;
  }

  commit(): void {
    this.#sendTail();
    this.#steps.push({ op: 'commit' });
    this.#flush();
  }

  rollback(): void {
    // The writer has been cut back to the committed bytes; so is what was sent.
    ({ next: this.#next, sent: this.#sent } = this.#committed);
    this.#steps.push({ op: 'rollback' });
    this.#flush();
  }

  digest(): Promise<string> {
    if (this.#lost) return Promise.reject(this.#lost);
    if (this.#dropped) return Promise.reject(new Error('the upload session was dropped'));
    const reply = new Promise<string>((resolve, reject) => this.#digests.push({ resolve, reject }));
    this.#sendTail();
    this.#steps.push({ op: 'digest' });
    this.#flush();
    return reply;
  }

  drop(reason: Error = new Error('the upload session was dropped')): void {
    this.#steps.push({ op: 'drop' });
    this.#flush();
    this.#dropped = true;
    this.#thread.close(this.#id);
    // Their replies will not reach this hash any more (close): a digest awaited now would wait for ever.
    for (const { reject } of this.#digests.splice(0)) reject(reason);
  }

  #flush(): void {
    if (this.#steps.length === 0 || this.#lost || this.#dropped) return;
    this.#thread.post(this.#id, this.#steps, this.#transfer);
    this.#steps = [];
    this.#transfer = [];
    this.#queued = 0;
  }

  receive(reply: Reply): void {
    if ('back' in reply) for (const { at, ticket, buffer } of reply.back) this.writer.restore(at, ticket, buffer);
    else this.#digests.shift()?.resolve(reply.digest);
  }

  lost(error: Error): void {
    this.#lost = error;
    for (const { reject } of this.#digests.splice(0)) reject(error);
  }
}
