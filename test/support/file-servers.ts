import { generateKeyPairSync, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, promises as fsp, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { FtpSrv } from 'ftp-srv';
import { Server, utils, type Connection, type ParsedKey } from 'ssh2';
import { sshFingerprint } from '../../bff/src/modules/recon/push-transport';

/**
 * Real file servers on loopback for the reconciliation file push tests, each backed by a temporary
 * directory: an SFTP server (ssh2's server side, speaking the real protocol) and an FTP/FTPS server
 * (ftp-srv). Nothing is mocked: the production client code talks to them over TCP.
 */

/** A throwaway EC key pair as ssh2 reads it (SEC1 PEM), and its OpenSSH fingerprint. */
export function sshKeyPair(): { privatePem: string; publicSsh: Buffer; fingerprint: string } {
  const { privateKey } = generateKeyPairSync('ec', {
    namedCurve: 'prime256v1',
    privateKeyEncoding: { type: 'sec1', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const parsed = utils.parseKey(privateKey) as ParsedKey;
  const publicSsh = parsed.getPublicSSH();
  return { privatePem: privateKey, publicSsh, fingerprint: sshFingerprint(publicSsh) };
}

export interface SftpTestServer {
  port: number;
  root: string;
  hostKey: { privatePem: string; fingerprint: string };
  /** Accepted credentials; change them to simulate the HIS changing its password. */
  users: Map<string, { password?: string; publicKey?: Buffer }>;
  /** Every request in order, `OP path` (e.g. `OPEN /in/.x.part`, `RENAME a -> b`). */
  ops: string[];
  /** Logins refused so far. */
  refusedLogins: number;
  /** Faults to inject: `rename` refuses every RENAME (a full disk, a quota). */
  faults: { rename?: boolean };
  close(): Promise<void>;
}

const { STATUS_CODE } = utils.sftp;

/** An SFTP server like OpenSSH's for what an uploader needs: open/write/close, stat, rename (no replace), remove. */
export async function startSftpServer(
  opts: { users?: Record<string, { password?: string; publicKey?: Buffer }> } = {},
): Promise<SftpTestServer> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'hp-sftp-'));
  const hostKey = sshKeyPair();
  const users = new Map(Object.entries(opts.users ?? {}));
  const ops: string[] = [];
  const clients = new Set<Connection>();
  const local = (p: string) => {
    const resolved = path.resolve(root, `.${path.posix.resolve('/', p)}`);
    if (resolved !== root && !resolved.startsWith(root + path.sep)) throw new Error('outside the root');
    return resolved;
  };
  const state = { refusedLogins: 0 };
  const faults: { rename?: boolean } = {};
  const server = new Server({ hostKeys: [hostKey.privatePem] }, (client) => {
    clients.add(client);
    client.on('close', () => clients.delete(client));
    client.on('error', () => undefined);
    client.on('authentication', (ctx) => {
      const u = users.get(ctx.username);
      if (ctx.method === 'password' && u?.password !== undefined) {
        const a = Buffer.from(ctx.password);
        const b = Buffer.from(u.password);
        if (a.length === b.length && timingSafeEqual(a, b)) return ctx.accept();
      } else if (ctx.method === 'publickey' && u?.publicKey && ctx.key.data.equals(u.publicKey)) {
        // First the client asks whether the key would do (no signature), then proves it holds it.
        if (!ctx.signature) return ctx.accept();
        const pub = utils.parseKey(ctx.key.data) as ParsedKey;
        if (pub.verify(ctx.blob!, ctx.signature, ctx.hashAlgo)) return ctx.accept();
      }
      if (ctx.method !== 'none') state.refusedLogins++;
      ctx.reject(['password', 'publickey']);
    });
    client.on('ready', () => {
      client.on('session', (acceptSession) => {
        const session = acceptSession();
        session.on('sftp', (acceptSftp) => {
          const sftp = acceptSftp();
          const handles = new Map<number, fsp.FileHandle>();
          let nextHandle = 1;
          const fail = (reqid: number, e: unknown) => {
            const code = (e as NodeJS.ErrnoException).code;
            sftp.status(
              reqid,
              code === 'ENOENT'
                ? STATUS_CODE.NO_SUCH_FILE
                : code === 'EACCES'
                  ? STATUS_CODE.PERMISSION_DENIED
                  : STATUS_CODE.FAILURE,
              (e as Error).message,
            );
          };
          const handleOf = (h: Buffer) => handles.get(h.length === 4 ? h.readUInt32BE(0) : -1);
          const attrs = (s: {
            mode: number;
            uid: number;
            gid: number;
            size: number;
            atimeMs: number;
            mtimeMs: number;
          }) => ({
            mode: s.mode,
            uid: s.uid,
            gid: s.gid,
            size: s.size,
            atime: Math.floor(s.atimeMs / 1000),
            mtime: Math.floor(s.mtimeMs / 1000),
          });
          sftp.on('REALPATH', (reqid, p) => {
            const name = path.posix.resolve('/', p);
            sftp.name(reqid, [{ filename: name, longname: name, attrs: {} as never }]);
          });
          sftp.on('OPEN', (reqid, filename, flags) => {
            ops.push(`OPEN ${filename}`);
            const mode = utils.sftp.flagsToString(flags) ?? 'r';
            (async () => {
              const fh = await fsp.open(local(filename), mode);
              const id = nextHandle++;
              handles.set(id, fh);
              const b = Buffer.alloc(4);
              b.writeUInt32BE(id, 0);
              sftp.handle(reqid, b);
            })().catch((e) => fail(reqid, e));
          });
          sftp.on('WRITE', (reqid, handle, offset, data) => {
            const fh = handleOf(handle);
            if (!fh) return sftp.status(reqid, STATUS_CODE.FAILURE, 'bad handle');
            fh.write(data, 0, data.length, offset).then(
              () => sftp.status(reqid, STATUS_CODE.OK),
              (e) => fail(reqid, e),
            );
          });
          sftp.on('CLOSE', (reqid, handle) => {
            const fh = handleOf(handle);
            if (!fh) return sftp.status(reqid, STATUS_CODE.FAILURE, 'bad handle');
            handles.delete(handle.readUInt32BE(0));
            fh.close().then(
              () => sftp.status(reqid, STATUS_CODE.OK),
              (e) => fail(reqid, e),
            );
          });
          const stat = (reqid: number, p: string) => {
            ops.push(`STAT ${p}`);
            fsp.stat(local(p)).then(
              (s) => sftp.attrs(reqid, attrs(s)),
              (e) => fail(reqid, e),
            );
          };
          sftp.on('STAT', stat);
          sftp.on('LSTAT', stat);
          sftp.on('FSTAT', (reqid, handle) => {
            const fh = handleOf(handle);
            if (!fh) return sftp.status(reqid, STATUS_CODE.FAILURE, 'bad handle');
            fh.stat().then(
              (s) => sftp.attrs(reqid, attrs(s)),
              (e) => fail(reqid, e),
            );
          });
          sftp.on('RENAME', (reqid, from, to) => {
            ops.push(`RENAME ${from} -> ${to}`);
            if (faults.rename) return sftp.status(reqid, STATUS_CODE.FAILURE, 'quota exceeded');
            (async () => {
              // SFTP v3 (and OpenSSH without posix-rename): never replaces an existing file.
              const exists = await fsp.stat(local(to)).then(
                () => true,
                () => false,
              );
              if (exists) return sftp.status(reqid, STATUS_CODE.FAILURE, 'target exists');
              await fsp.rename(local(from), local(to));
              sftp.status(reqid, STATUS_CODE.OK);
            })().catch((e) => fail(reqid, e));
          });
          sftp.on('REMOVE', (reqid, p) => {
            ops.push(`REMOVE ${p}`);
            fsp.unlink(local(p)).then(
              () => sftp.status(reqid, STATUS_CODE.OK),
              (e) => fail(reqid, e),
            );
          });
        });
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    root,
    hostKey: { privatePem: hostKey.privatePem, fingerprint: hostKey.fingerprint },
    users,
    ops,
    faults,
    get refusedLogins() {
      return state.refusedLogins;
    },
    async close() {
      for (const c of clients) c.end();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(root, { recursive: true, force: true });
    },
  };
}

export interface FtpTestServer {
  port: number;
  root: string;
  /** Accepted user and password; change them to simulate the HIS changing its password. */
  credentials: { user: string; password: string };
  /** Stored and renamed files in order: `STOR path`, `RNTO path`. */
  ops: string[];
  close(): Promise<void>;
}

/** A silent logger with the bunyan surface ftp-srv uses. */
const quietLog = {
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => quietLog,
};

/**
 * An FTP server (ftp-srv) on a random loopback port with a temporary root; with `tls`, explicit FTPS
 * (AUTH TLS) with that key and certificate.
 */
export async function startFtpServer(opts: {
  user: string;
  password: string;
  tls?: { key: string; cert: string };
}): Promise<FtpTestServer> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'hp-ftp-'));
  const credentials = { user: opts.user, password: opts.password };
  // ftp-srv installs process signal handlers that exit the process; a test worker must not keep them.
  const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGQUIT'] as const;
  const before = new Map(SIGNALS.map((sig) => [sig, new Set(process.listeners(sig))]));
  const server = new FtpSrv({
    url: 'ftp://127.0.0.1:0',
    pasv_url: '127.0.0.1',
    pasv_min: 40000,
    pasv_max: 49999,
    anonymous: false,
    greeting: 'HIS FTP (test)',
    tls: opts.tls ?? false,
    log: quietLog,
  });
  const ops: string[] = [];
  server.on('login', ({ connection, username, password }, resolve, reject) => {
    if (username !== credentials.user || password !== credentials.password)
      return reject(new Error('login incorrect'));
    // STOR reports the local path, RNTO the client's.
    connection.on('STOR', (err: Error | null, p: string) => err || ops.push(`STOR ${p.slice(root.length)}`));
    connection.on('RNTO', (err: Error | null, p: string) => err || ops.push(`RNTO ${p}`));
    resolve({ root, cwd: '/' });
  });
  for (const sig of SIGNALS)
    for (const l of process.listeners(sig)) if (!before.get(sig)!.has(l)) process.removeListener(sig, l);
  await server.listen();
  const inner = (server as unknown as { server: import('node:net').Server }).server;
  return {
    port: (inner.address() as AddressInfo).port,
    root,
    credentials,
    ops,
    async close() {
      await server.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}
