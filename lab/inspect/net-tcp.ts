// TCP sockets of a network namespace from /proc/<pid>/net/tcp and tcp6:
//   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
//    0: 0100007F:1F90 00000000:0000 0A 00000080:00000000 00:00000000 00000000     0        0 59183 …
// For a listening socket (st 0A) the kernel prints the connections waiting in the accept queue
// (sk_ack_backlog) as rx_queue; the backlog itself is not here (see listen-backlog.ts).

export const TCP_LISTEN = 0x0a;

export interface TcpSocket {
  inode: number;
  family: 4 | 6;
  address: string;
  port: number;
  /** The peer, `address:port` (`0.0.0.0:0` for a listening socket). */
  remote: string;
  /** The kernel's TCP state number (0x0A: listening, 0x01: established). */
  state: number;
  /** Bytes in the send queue. */
  txQueue: number;
  /** Listening: connections waiting to be accepted; otherwise bytes in the receive queue. */
  rxQueue: number;
}

function word(hex: string): number[] {
  // The kernel prints each 32-bit word of the address in host order (little-endian here).
  const n = parseInt(hex, 16);
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}

/** Decodes a /proc/net/tcp address (8 or 32 hex digits) into its usual text form. */
export function decodeAddress(hex: string): string {
  if (hex.length === 8) return word(hex).join('.');
  const bytes: number[] = [];
  for (let i = 0; i < 32; i += 8) bytes.push(...word(hex.slice(i, i + 8)));
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  // The URL parser writes an IPv6 address in its shortest form ([::1], [::ffff:7f00:1]).
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}

/** Parses one /proc/net/tcp or tcp6 file. */
export function parseNetTcp(text: string, family: 4 | 6): TcpSocket[] {
  const out: TcpSocket[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const [addr, port] = f[1]!.split(':') as [string, string];
    const [tx, rx] = f[4]!.split(':') as [string, string];
    const [raddr, rport] = f[2]!.split(':') as [string, string];
    out.push({
      inode: Number(f[9]),
      family,
      address: decodeAddress(addr),
      port: parseInt(port, 16),
      remote: endpoint({ family, address: decodeAddress(raddr), port: parseInt(rport, 16) }),
      state: parseInt(f[3]!, 16),
      txQueue: parseInt(tx, 16),
      rxQueue: parseInt(rx, 16),
    });
  }
  return out;
}

/** `127.0.0.1:8080` or `[::1]:8080`. */
export const endpoint = (s: { family: 4 | 6; address: string; port: number }): string =>
  s.family === 6 ? `[${s.address}]:${s.port}` : `${s.address}:${s.port}`;
