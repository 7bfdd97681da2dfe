/**
 * A WebSocket client written directly on a TCP socket, for sinks and idle clients. After the
 * subscription is confirmed it never builds a message: it walks frame headers, counts frames and
 * payload bytes, and counts events by scanning payloads for a marker. That keeps thousands of
 * clients cheap enough that the server, not the generator, is what a run measures.
 *
 * Only what the bench needs: no extensions, no fragmentation on send, server frames unmasked.
 */
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import type { DialectCodec } from '../lib/dialects.js';

export interface SinkCounters {
  frames: number;
  bytes: number;
  events: number;
  errors: number;
}

export interface RawSinkOptions {
  url: string;
  codec: DialectCodec;
  /** null: idle (ready after the handshake, never subscribes). */
  channel: string | null;
  marker: Buffer;
  counters: SinkCounters;
  /** Called once: null when subscribed (or idle-ready), else the failure. */
  onSettled(err: Error | null): void;
  onClose(code: number): void;
}

/** Frames smaller than this are decoded even after subscribing: pings and other control chatter. */
const SMALL = 64;

/**
 * One read buffer for every socket of the process (`onread`): reads skip the stream machinery and
 * allocate nothing. Safe because each chunk is fully handled before the next read; anything kept
 * past the callback is copied.
 */
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);

function maskedTextFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const len = payload.length;
  const head = len < 126 ? 2 : 4;
  const out = Buffer.allocUnsafe(head + 4 + len);
  out[0] = 0x81;
  if (len < 126) out[1] = 0x80 | len;
  else {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(len, 2);
  }
  const mask = randomBytes(4);
  mask.copy(out, head);
  for (let i = 0; i < len; i++) out[head + 4 + i] = payload[i] ^ mask[i & 3];
  return out;
}

function controlFrame(opcode: number, payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(6 + payload.length);
  out[0] = 0x80 | opcode;
  out[1] = 0x80 | payload.length; // control payloads are < 126 bytes
  const mask = randomBytes(4);
  mask.copy(out, 2);
  for (let i = 0; i < payload.length; i++) out[6 + i] = payload[i] ^ mask[i & 3];
  return out;
}

export class RawSink {
  private readonly socket: net.Socket;
  private handshake: Buffer | null = Buffer.alloc(0);
  private subscribed = false;
  private settled = false;
  private closeCode = 1006;
  /** Partial frame header carried over from the previous chunk. */
  private header: Buffer | null = null;
  /** Payload bytes left in the current frame. */
  private need = 0;
  private opcode = 0;
  private fin = true;
  /** Pieces of the current frame's payload when it must be decoded; null when only counted. */
  private collect: Buffer[] | null = null;
  /** Last marker.length-1 bytes of the current counted frame, to catch a marker split by a chunk. */
  private carry: Buffer | null = null;

  constructor(private readonly o: RawSinkOptions) {
    const u = new URL(o.url);
    this.socket = net.connect({
      host: u.hostname,
      port: Number(u.port),
      onread: {
        buffer: READ_BUFFER,
        callback: (nread: number, buf: Uint8Array): boolean => {
          this.onData(Buffer.from(buf.buffer, buf.byteOffset, nread));
          return true;
        },
      },
    });
    this.socket.setNoDelay(true);
    this.socket.on('connect', () => {
      const key = randomBytes(16).toString('base64');
      this.socket.write(
        `GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    this.socket.on('error', (err) => {
      o.counters.errors++;
      this.settle(err);
    });
    this.socket.on('close', () => {
      this.settle(new Error(`closed ${this.closeCode} before subscribing`));
      o.onClose(this.closeCode);
    });
  }

  get open(): boolean {
    return !this.socket.destroyed && this.handshake === null;
  }

  terminate(): void {
    this.socket.destroy();
  }

  /**
   * Stop reading this connection here and return its file descriptor, for the C reader to read
   * from now on; null (and nothing changes) unless it is subscribed and between two frames.
   */
  detach(): number | null {
    const fd = (this.socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
    if (!this.subscribed || !this.open || this.need !== 0 || this.header !== null || typeof fd !== 'number' || fd < 0) return null;
    this.socket.pause();
    return fd;
  }

  private settle(err: Error | null): void {
    if (this.settled) return;
    this.settled = true;
    this.o.onSettled(err);
  }

  private send(frame: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(frame);
  }

  private onData(chunk: Buffer): void {
    if (this.handshake !== null) {
      const buf = this.handshake.length ? Buffer.concat([this.handshake, chunk]) : chunk;
      const end = buf.indexOf('\r\n\r\n');
      if (end === -1) {
        this.handshake = Buffer.from(buf);
        return;
      }
      const status = buf.subarray(0, buf.indexOf('\r\n')).toString();
      if (!/^HTTP\/1\.1 101/.test(status)) {
        this.settle(new Error(`handshake refused: ${status}`));
        this.socket.destroy();
        return;
      }
      this.handshake = null;
      chunk = buf.subarray(end + 4);
    }
    if (this.header) {
      chunk = Buffer.concat([this.header, chunk]);
      this.header = null;
    }
    let pos = 0;
    const n = chunk.length;
    while (pos < n) {
      if (this.need > 0) {
        const take = Math.min(this.need, n - pos);
        const piece = chunk.subarray(pos, pos + take);
        if (this.collect) this.collect.push(Buffer.from(piece)); // the read buffer is reused
        else this.countPiece(piece);
        this.need -= take;
        pos += take;
        if (this.need === 0) this.endFrame();
        continue;
      }
      // Frame header: 2 bytes, then 0/2/8 bytes of extended length (server frames carry no mask).
      if (n - pos < 2) break;
      const b0 = chunk[pos];
      let len = chunk[pos + 1] & 0x7f;
      let hl = 2;
      if (len === 126) hl = 4;
      else if (len === 127) hl = 10;
      if (n - pos < hl) break;
      if (len === 126) len = chunk.readUInt16BE(pos + 2);
      else if (len === 127) len = Number(chunk.readBigUInt64BE(pos + 2));
      pos += hl;
      this.fin = (b0 & 0x80) !== 0;
      const op = b0 & 0x0f;
      if (op !== 0) this.opcode = op; // continuation frames keep the message's opcode
      this.need = len;
      this.carry = null;
      const decode = !this.subscribed || op >= 8 || len < SMALL;
      this.collect = decode ? [] : null;
      if (op < 8 && this.subscribed) this.o.counters.bytes += len;
      if (len === 0) this.endFrame();
    }
    if (pos < n) this.header = Buffer.from(chunk.subarray(pos));
  }

  private countPiece(piece: Buffer): void {
    const m = this.o.marker;
    if (this.carry) {
      const joint = Buffer.concat([this.carry, piece.subarray(0, m.length - 1)]);
      if (joint.indexOf(m) !== -1) this.o.counters.events++;
    }
    let i = piece.indexOf(m);
    while (i !== -1) {
      this.o.counters.events++;
      i = piece.indexOf(m, i + m.length);
    }
    this.carry = piece.length >= m.length - 1 ? Buffer.from(piece.subarray(piece.length - (m.length - 1))) : null;
  }

  private endFrame(): void {
    const op = this.opcode;
    const parts = this.collect;
    this.collect = null;
    this.carry = null;
    if (op < 8 && this.fin && this.subscribed) this.o.counters.frames++;
    if (!parts) return;
    const payload = parts.length === 1 ? parts[0] : Buffer.concat(parts);
    if (op === 0x9) {
      this.send(controlFrame(0xa, payload));
      return;
    }
    if (op === 0x8) {
      this.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
      this.send(controlFrame(0x8, payload.subarray(0, 2)));
      this.socket.end();
      return;
    }
    if (op === 0xa) return;
    if (this.subscribed) {
      const pong = this.o.codec.control(payload);
      if (pong) this.send(maskedTextFrame(pong));
      else this.countPiece(payload);
      return;
    }
    const msg = this.o.codec.decode(payload.toString());
    switch (msg.kind) {
      case 'ready':
        if (this.o.channel === null) {
          this.subscribed = true;
          this.settle(null);
        } else this.send(maskedTextFrame(this.o.codec.subscribe(this.o.channel, null)));
        break;
      case 'subscribed':
        this.subscribed = true;
        this.settle(null);
        break;
      case 'reply':
        this.send(maskedTextFrame(msg.text));
        break;
      case 'error':
        this.o.counters.errors++;
        this.settle(new Error(msg.message));
        break;
      case 'events':
        break; // cannot happen before the subscription is confirmed
      case 'other':
        break;
    }
  }
}
