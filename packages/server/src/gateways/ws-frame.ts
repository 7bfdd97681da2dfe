/** Server WebSocket frames built whole, so that one socket write sends one (or many) of them. */

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

/** The payload of a frame built by `textFrame`. */
export function payloadOf(frame: Buffer): Buffer {
  const l = frame[1];
  return frame.subarray(l === 126 ? 4 : l === 127 ? 10 : 2);
}
