// What the kernel shows about a process tree's epoll instances and listening sockets: the data
// `forklab inspect` prints, `--json` writes and a run keeps in results.json.

export interface InspectedProcess {
  pid: number;
  ppid: number;
  name: string;
  cmdline: string;
  /** The fds of this process that are epoll instances. */
  epollFds: number[];
  /** Epoll fds its threads were blocked on when inspected (a snapshot). */
  waitingOn: number[];
  /** What could not be read for this process, and why. */
  unseen?: string;
}

export interface Holder {
  pid: number;
  fd: number;
}

export type WatchKind =
  | 'listening socket'
  | 'tcp connection'
  | 'socket'
  | 'pipe'
  | 'eventfd'
  | 'timerfd'
  | 'signalfd'
  | 'eventpoll'
  | 'file'
  | 'unknown';

export interface Watch {
  /** The fd number in the process that registered it. */
  tfd: number;
  kind: WatchKind;
  /** The registration mask in hex, as fdinfo prints it. */
  events: string;
  flags: string[];
  trigger: 'level' | 'edge';
  exclusive: boolean;
  oneshot: boolean;
  ino: number;
  /** For sockets: `127.0.0.1:8080`, and the peer for connections. */
  local?: string;
  remote?: string;
}

export interface EpollInstance {
  /** `E1`, `E2`, … in the order first seen (parents before children). */
  id: string;
  holders: Holder[];
  /** Distinct processes holding it; more than one means the instance is shared. */
  pids: number[];
  /** Processes seen blocked in epoll_wait on it. */
  waiters: number[];
  watches: Watch[];
}

/**
 * Whose a listening socket is, when the inspection was told the ports: `server`, the port under
 * load; `adapter`, a port of the lab's side of the server (the supervisor's or adapter's metrics
 * port, nginx's stub_status), which the findings and the SO_REUSEPORT groups leave out.
 */
export type SocketRole = 'server' | 'adapter';

export interface ListeningSocket {
  inode: number;
  endpoint: string;
  port: number;
  /** Set when the inspection knew the ports (a run's servers, `forklab inspect --port`). */
  role?: SocketRole;
  /** The backlog the socket listens with (sk_max_ack_backlog, from ss), null when unknown. */
  backlog: number | null;
  /** Connections waiting in its accept queue when inspected. */
  acceptQueue: number;
  heldBy: number[];
  watchedBy: { instance: string; exclusive: boolean; trigger: 'level' | 'edge' }[];
}

export interface ReuseportGroup {
  endpoint: string;
  /** Listening sockets on the same address and port in the namespace (SO_REUSEPORT). */
  inodes: number[];
}

export interface Evidence {
  rootPid: number;
  inspectedAt: string;
  processes: InspectedProcess[];
  /** Whether kcmp could tell instances apart; when not, every epoll fd counts as its own. */
  kcmp: { available: true } | { available: false; reason: string };
  /**
   * False when a process's fd table could not be read (not because it exited) or kcmp could not
   * compare two epoll fds of live processes: whether instances are shared is then not known.
   */
  sharingKnown: boolean;
  instances: EpollInstance[];
  listeners: ListeningSocket[];
  reuseportGroups: ReuseportGroup[];
  /** Everything that could not be seen, and why. */
  unseen: string[];
}
