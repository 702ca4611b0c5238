import net from 'node:net';

/**
 * Outbound network is closed in tests: a connection to anything but loopback fails at once, so a test can
 * never reach a real channel, HIS or registry by accident.
 */
const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost|::ffff:127\.\d+\.\d+\.\d+)$/i;
const original = net.Socket.prototype.connect;

net.Socket.prototype.connect = function guardedConnect(this: net.Socket, ...args: unknown[]) {
  const first = args[0] as { host?: string; path?: string; port?: number } | number | string | undefined;
  let host: string | undefined;
  if (typeof first === 'object' && first !== null)
    host = first.path ? undefined : (first.host ?? 'localhost');
  else if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first)))
    host = typeof args[1] === 'string' ? (args[1] as string) : 'localhost';
  if (host !== undefined && !LOOPBACK.test(host)) {
    const err = new Error(
      `network-guard: outbound connection to ${host} blocked in tests (only loopback is allowed)`,
    );
    process.nextTick(() => this.destroy(err));
    return this;
  }
  return (original as (...a: unknown[]) => net.Socket).apply(this, args);
} as typeof net.Socket.prototype.connect;
