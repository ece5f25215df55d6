// A server-sent events reader on a raw TCP socket: it writes the request
// bytes itself, parses the status line and headers, undoes chunked framing
// and parses frames as WHATWG HTML "Server-sent events" says (fields, comment
// lines, a blank line dispatching), so the tests see exactly what was sent.
import type { Socket } from 'node:net';
import { rawSocket } from './http.js';

/** One dispatched event, or a comment line (heartbeats). */
export type SseFrame = { event: string; id?: string; data: string } | { comment: string };

export class SseReader {
  readonly socket: Socket;
  status = 0;
  headers: Record<string, string> = {};
  readonly frames: SseFrame[] = [];
  /** Set when the server closed the connection. */
  closed = false;
  #raw = Buffer.alloc(0);
  #text = '';
  #headersDone = false;
  #chunked = false;
  #field: { event?: string; id?: string; data: string[] } = { data: [] };
  #waiters: (() => void)[] = [];

  private constructor(socket: Socket) {
    this.socket = socket;
  }

  /**
   * Opens `path` and resolves once the status line and headers are in.
   * With `read: false` the socket is then left paused: a reader that never reads.
   */
  static open(port: number, path: string, headers: Record<string, string> = {}, { read = true } = {}): Promise<SseReader> {
    const socket = rawSocket(port);
    const reader = new SseReader(socket);
    const lines = [`GET ${path} HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'Accept: text/event-stream', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    socket.on('close', () => {
      reader.closed = true;
      reader.#wake();
    });
    socket.on('error', () => {});
    return new Promise((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        reader.#take(chunk);
        if (!reader.#headersDone) return;
        if (!read) {
          socket.off('data', onData);
          socket.pause();
        }
        resolve(reader);
      };
      socket.on('data', onData);
      socket.once('close', () => reject(new Error(`closed before the headers: ${reader.#raw.toString('latin1')}`)));
      reader.resume = () => {
        socket.off('data', onData);
        socket.on('data', (chunk: Buffer) => reader.#take(chunk));
        socket.resume();
      };
    });
  }

  /** Starts reading a reader opened with `read: false`. */
  resume: () => void = () => {};

  /** Resolves with the frames so far once `done(frames)` holds (checked on every frame), or rejects when the connection closes first. */
  async until(done: (frames: SseFrame[]) => boolean): Promise<SseFrame[]> {
    while (!done(this.frames)) {
      if (this.closed) throw new Error(`the stream closed first; frames: ${JSON.stringify(this.frames).slice(-500)}`);
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    return this.frames;
  }

  /** Events only (no comments). */
  events(): { event: string; id?: string; data: string }[] {
    return this.frames.filter((f): f is { event: string; id?: string; data: string } => 'event' in f);
  }

  close(): void {
    this.socket.destroy();
  }

  #wake(): void {
    for (const waiter of this.#waiters.splice(0)) waiter();
  }

  #take(chunk: Buffer): void {
    this.#raw = Buffer.concat([this.#raw, chunk]);
    if (!this.#headersDone) {
      const end = this.#raw.indexOf('\r\n\r\n');
      if (end === -1) return;
      const [statusLine, ...headerLines] = this.#raw.subarray(0, end).toString('latin1').split('\r\n');
      this.status = Number(statusLine!.split(' ')[1]);
      for (const line of headerLines) {
        const colon = line.indexOf(':');
        this.headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      this.#chunked = this.headers['transfer-encoding'] === 'chunked';
      this.#headersDone = true;
      this.#raw = this.#raw.subarray(end + 4);
    }
    this.#body();
  }

  /** Undoes chunked framing (RFC 9112 §7.1), then parses what is complete. */
  #body(): void {
    if (!this.#chunked) {
      this.#text += this.#raw.toString('utf8');
      this.#raw = Buffer.alloc(0);
    } else {
      for (;;) {
        const lineEnd = this.#raw.indexOf('\r\n');
        if (lineEnd === -1) break;
        const size = parseInt(this.#raw.subarray(0, lineEnd).toString('latin1'), 16);
        if (this.#raw.length < lineEnd + 2 + size + 2) break;
        this.#text += this.#raw.subarray(lineEnd + 2, lineEnd + 2 + size).toString('utf8');
        this.#raw = this.#raw.subarray(lineEnd + 2 + size + 2);
      }
    }
    let newline;
    let added = false;
    while ((newline = this.#text.indexOf('\n')) !== -1) {
      const line = this.#text.slice(0, newline).replace(/\r$/, '');
      this.#text = this.#text.slice(newline + 1);
      added = this.#line(line) || added;
    }
    if (added) this.#wake();
  }

  /** One line of the stream; true when it completed a frame. */
  #line(line: string): boolean {
    if (line === '') {
      const { event, id, data } = this.#field;
      this.#field = { data: [] };
      if (data.length === 0 && event === undefined) return false;
      this.frames.push({ event: event ?? 'message', ...(id === undefined ? {} : { id }), data: data.join('\n') });
      return true;
    }
    if (line.startsWith(':')) {
      this.frames.push({ comment: line.slice(1).trim() });
      return true;
    }
    const colon = line.indexOf(':');
    const name = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (name === 'event') this.#field.event = value;
    else if (name === 'id') this.#field.id = value;
    else if (name === 'data') this.#field.data.push(value);
    return false;
  }
}
