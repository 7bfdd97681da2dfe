/** Server WebSocket frames built whole, so that one socket write sends one (or many) of them. */
import type WebSocket from 'ws';

/**
 * A complete server text frame (RFC 6455 §5.2: FIN, opcode 1, no mask) around a string, built
 * in one buffer. One write per connection instead of ws's header + payload writev; the same
 * frame is shared by every connection that sends it in a cycle.
 */
export function textFrame(s: string): Buffer {
  const len = Buffer.byteLength(s);
  const hl = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const b = Buffer.allocUnsafe(hl + len);
  b[0] = 0x81;
  if (hl === 2) b[1] = len;
  else if (hl === 4) {
    b[1] = 126;
    b.writeUInt16BE(len, 2);
  } else {
    b[1] = 127;
    b.writeUInt32BE(Math.floor(len / 2 ** 32), 2);
    b.writeUInt32BE(len >>> 0, 6);
  }
  b.write(s, hl, 'utf8');
  return b;
}

/** The part of a `ws` WebSocket the prebuilt-frame path uses. */
export interface WholeFrameSocket {
  _sender: { sendFrame(list: Buffer[]): void };
}

/**
 * Write frames built by `textFrame` (one, or several concatenated) as they are: ws's sender
 * writes its list to the socket, the path engine.io takes for Socket.IO's prebuilt broadcast
 * frames. With per-message compression off nothing waits inside the sender, so these frames and
 * `ws.send` replies reach the socket in call order. (A private method of ws: every delivery
 * test goes through it, so a ws upgrade that dropped it fails them at once.)
 */
export function sendWhole(ws: WebSocket | WholeFrameSocket, frames: Buffer): void {
  (ws as unknown as WholeFrameSocket)._sender.sendFrame([frames]);
}
