import { createHash, randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import { Client as FtpClient } from 'basic-ftp';
import {
  Client as SshClient,
  utils as sshUtils,
  type ConnectConfig,
  type SFTPWrapper,
  type Stats,
} from 'ssh2';

/** How a reconciliation file reaches the HIS. */
export const PUSH_PROTOCOLS = ['sftp', 'ftp', 'ftps'] as const;
export type PushProtocol = (typeof PUSH_PROTOCOLS)[number];

/** Everything one upload needs, secrets opened. Never logged, never returned by an API. */
export interface PushEndpoint {
  protocol: PushProtocol;
  host: string;
  port: number;
  username: string;
  password?: string;
  /** SFTP: an OpenSSH or PEM private key, instead of or besides the password. */
  privateKey?: string;
  passphrase?: string;
  /** SFTP: the server's host key, `SHA256:<base64>` as `ssh-keygen -l` prints it. */
  hostKeySha256?: string;
  /** Refuse an SFTP server whose host key is not pinned (production). */
  requireHostKey: boolean;
  /** FTPS: the certificate (or CA) to trust besides the system's, PEM. */
  caCertPem?: string;
}

/** What landed on the server. */
export interface UploadResult {
  remotePath: string;
  bytes: number;
  /** SFTP: the host key the server presented. */
  hostKeySha256?: string;
}

/**
 * A failed upload. `unreachable`: no answer (refused, reset, timed out) — try again later; `refused`: the
 * server answered and said no (login, host key, permissions, a size that does not match). The message is
 * for staff and never holds a password or a key.
 */
export class PushError extends Error {
  override name = 'PushError';
  constructor(
    readonly kind: 'unreachable' | 'refused',
    message: string,
    opts?: { cause?: unknown },
  ) {
    super(message, opts);
  }
}

/** `SHA256:<base64 without padding>` of an SSH public key blob, as OpenSSH prints fingerprints. */
export function sshFingerprint(publicKeyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(publicKeyBlob).digest('base64').replace(/=+$/, '')}`;
}

/**
 * A host key fingerprint as stored: `SHA256:<base64>` (OpenSSH) or the same 32 bytes in hex (with or
 * without colons) become `SHA256:<base64>`; anything else is null.
 */
export function normalizeFingerprint(text: string): string | null {
  const t = text.trim();
  const b64 = /^(?:SHA256:)?([A-Za-z0-9+/]{43})=?$/.exec(t);
  if (b64) return Buffer.from(b64[1]!, 'base64').length === 32 ? `SHA256:${b64[1]}` : null;
  const hex = t.replace(/:/g, '');
  if (/^[0-9a-fA-F]{64}$/.test(hex))
    return `SHA256:${Buffer.from(hex, 'hex').toString('base64').replace(/=+$/, '')}`;
  return null;
}

/** Null when ssh2 can use the private key (OpenSSH or PEM, decrypted with the passphrase), else why not. */
export function privateKeyProblem(privateKey: string, passphrase?: string): string | null {
  const k = sshUtils.parseKey(privateKey, passphrase);
  const key = Array.isArray(k) ? k[0] : k;
  if (!key || key instanceof Error) return `not a private key ssh2 can read: ${key?.message ?? 'empty'}`;
  if (!key.isPrivateKey()) return 'a public key, not a private key';
  return null;
}

/**
 * Uploads `content` as `dir/fileName` atomically: written under a temporary name in the same directory,
 * its size checked on the server, then renamed over the final name (a reader never sees half a file), and
 * the final file's size checked again. A failed upload removes its temporary file. Every step must make
 * progress within `timeoutMs`.
 */
export async function uploadFile(
  ep: PushEndpoint,
  dir: string,
  fileName: string,
  content: Buffer,
  timeoutMs: number,
): Promise<UploadResult> {
  const job: UploadJob = {
    finalPath: posix.join(dir, fileName),
    // Unique per try: two tries at once (a retry and an admin's re-delivery) never write the same file.
    tempPath: posix.join(dir, `.${fileName}.${randomBytes(4).toString('hex')}.part`),
    content,
    timeoutMs,
  };
  return ep.protocol === 'sftp' ? uploadSftp(ep, job) : uploadFtp(ep, job);
}

/** One upload, whatever the protocol: `content` to `tempPath`, then renamed to `finalPath`. */
interface UploadJob {
  tempPath: string;
  finalPath: string;
  content: Buffer;
  timeoutMs: number;
}

/** Rejects when no step has made progress for `ms`; `touch()` on progress, `stop()` when done. */
function watchdog(ms: number, what: string) {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let fail!: (e: Error) => void;
  const expired = new Promise<never>((_, reject) => (fail = reject));
  expired.catch(() => undefined);
  const touch = () => {
    clearTimeout(timer);
    // Requests still in flight after a failure settle later: they must not re-arm the clock.
    if (stopped) return;
    timer = setTimeout(
      () => fail(new PushError('unreachable', `${what}: no progress for ${ms} ms (timed out)`)),
      ms,
    );
  };
  touch();
  return {
    touch,
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
    /** Runs one step against the clock. */
    step<T>(p: Promise<T>): Promise<T> {
      touch();
      return Promise.race([p, expired]).finally(touch);
    },
  };
}

const NETWORK_CODES =
  /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|EPIPE)$/;

function networkError(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  return typeof code === 'string' && NETWORK_CODES.test(code);
}

function sizeCheck(what: string, got: number, want: number) {
  if (got !== want)
    throw new PushError('refused', `${what} is ${got} bytes on the server, ${want} were sent`);
}

/** Removes a failed upload's temporary file, waiting at most two seconds (or the timeout) for the server. */
async function removeTemp(remove: () => Promise<unknown>, timeoutMs: number): Promise<void> {
  await Promise.race([
    remove().catch(() => undefined),
    new Promise((r) => setTimeout(r, Math.min(timeoutMs, 2000))),
  ]);
}

/**
 * Renames the temporary file over the final one. Some servers refuse to rename over an existing file (a
 * forced re-delivery): when the final file exists, it is removed first and the rename tried again.
 */
async function renameReplacing(ops: {
  rename: () => Promise<unknown>;
  exists: () => Promise<boolean>;
  remove: () => Promise<unknown>;
}): Promise<void> {
  try {
    await ops.rename();
  } catch (e) {
    if (!(await ops.exists())) throw e;
    await ops.remove();
    await ops.rename();
  }
}

// ---------------------------------------------------------------- SFTP

async function uploadSftp(
  ep: PushEndpoint,
  { tempPath, finalPath, content, timeoutMs }: UploadJob,
): Promise<UploadResult> {
  const expected = ep.hostKeySha256 ? normalizeFingerprint(ep.hostKeySha256) : null;
  if (ep.hostKeySha256 && !expected)
    throw new PushError('refused', 'settings.hostKeySha256 is not a SHA-256 fingerprint');
  if (!expected && ep.requireHostKey)
    throw new PushError(
      'refused',
      'the SFTP host key fingerprint (settings.hostKeySha256) is required in production',
    );
  const dog = watchdog(timeoutMs, `sftp ${ep.host}:${ep.port}`);
  const conn = new SshClient();
  let seen: string | undefined;
  let tempCreated = false;
  let sftp: SFTPWrapper | undefined;
  try {
    await dog
      .step(
        new Promise<void>((resolve, reject) => {
          conn.once('ready', resolve);
          conn.once('error', reject);
          const cfg: ConnectConfig = {
            host: ep.host,
            port: ep.port,
            username: ep.username,
            password: ep.password,
            privateKey: ep.privateKey,
            passphrase: ep.passphrase,
            readyTimeout: timeoutMs,
            // Without hostHash ssh2 hands over the raw key blob.
            hostVerifier: (key: Buffer) => {
              seen = sshFingerprint(key);
              return expected === null || seen === expected;
            },
          };
          conn.connect(cfg);
        }),
      )
      .catch((e: Error & { level?: string }) => {
        if (e instanceof PushError) throw e;
        if (expected && seen && seen !== expected)
          throw new PushError(
            'refused',
            `host key mismatch: the server presented ${seen}, the target expects ${expected}`,
          );
        if (e.level === 'client-authentication')
          throw new PushError('refused', `login refused for user ${ep.username} (password or key)`, {
            cause: e,
          });
        if (networkError(e) || e.level === 'client-timeout' || e.level === 'client-socket')
          throw new PushError('unreachable', `cannot reach ${ep.host}:${ep.port}: ${e.message}`, {
            cause: e,
          });
        throw new PushError('refused', `ssh: ${e.message}`, { cause: e });
      });
    // Later errors reach the pending SFTP callbacks (ssh2 fails them when the channel closes).
    conn.on('error', () => undefined);
    const s = await dog.step(
      new Promise<SFTPWrapper>((resolve, reject) => conn.sftp((e, w) => (e ? reject(e) : resolve(w)))),
    );
    sftp = s;
    const call = <T>(what: string, fn: (cb: (e: Error | null | undefined, v?: T) => void) => void) =>
      dog
        .step(new Promise<T>((resolve, reject) => fn((e, v) => (e ? reject(e) : resolve(v as T)))))
        .catch((e: unknown) => {
          if (e instanceof PushError) throw e;
          throw new PushError('refused', `${what}: ${(e as Error).message}`, { cause: e });
        });

    const handle = await call<Buffer>(`cannot create ${tempPath}`, (cb) => s.open(tempPath, 'w', cb));
    tempCreated = true;
    await writeAll(s, handle, content, dog).catch((e: unknown) => {
      if (e instanceof PushError) throw e;
      throw new PushError('refused', `writing ${tempPath}: ${(e as Error).message}`, { cause: e });
    });
    await call<void>(`closing ${tempPath}`, (cb) => s.close(handle, cb));
    const tmpStat = await call<Stats>(`stat ${tempPath}`, (cb) => s.stat(tempPath, cb));
    sizeCheck(tempPath, tmpStat.size, content.length);
    await sftpRename(s, tempPath, finalPath, call);
    tempCreated = false;
    const finalStat = await call<Stats>(`stat ${finalPath}`, (cb) => s.stat(finalPath, cb));
    sizeCheck(finalPath, finalStat.size, content.length);
    conn.end();
    return { remotePath: finalPath, bytes: content.length, hostKeySha256: seen };
  } catch (e) {
    if (tempCreated && sftp) {
      const w = sftp;
      await removeTemp(() => new Promise<void>((r) => w.unlink(tempPath, () => r())), timeoutMs);
    }
    conn.destroy();
    throw e;
  } finally {
    dog.stop();
  }
}

/** Writes the whole buffer with several requests in flight (a round trip per 32 KiB would crawl). */
async function writeAll(
  s: SFTPWrapper,
  handle: Buffer,
  content: Buffer,
  dog: ReturnType<typeof watchdog>,
): Promise<void> {
  const CHUNK = 32 * 1024;
  const IN_FLIGHT = 16;
  let next = 0;
  const worker = async () => {
    while (next < content.length) {
      const at = next;
      const len = Math.min(CHUNK, content.length - at);
      next += len;
      await dog.step(
        new Promise<void>((resolve, reject) =>
          s.write(handle, content, at, len, at, (e) => (e ? reject(e) : resolve())),
        ),
      );
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
}

/**
 * Renames over an existing file. OpenSSH's posix-rename extension replaces atomically; plain SFTP v3 RENAME
 * refuses an existing target, so there (a forced re-delivery) the old file is removed first.
 */
async function sftpRename(
  s: SFTPWrapper,
  from: string,
  to: string,
  call: <T>(what: string, fn: (cb: (e: Error | null | undefined, v?: T) => void) => void) => Promise<T>,
) {
  const what = `renaming ${from} to ${to}`;
  try {
    // Throws at once (inside the promise) when the server does not offer the extension.
    await call<void>(what, (cb) => s.ext_openssh_rename(from, to, cb));
    return;
  } catch (e) {
    if (!/does not support/.test((e as Error).message)) throw e;
  }
  await renameReplacing({
    rename: () => call<void>(what, (cb) => s.rename(from, to, cb)),
    exists: () =>
      call<Stats>(`stat ${to}`, (cb) => s.stat(to, cb)).then(
        () => true,
        () => false,
      ),
    remove: () => call<void>(`removing the previous ${to}`, (cb) => s.unlink(to, cb)),
  });
}

// ---------------------------------------------------------------- FTP / FTPS

async function uploadFtp(
  ep: PushEndpoint,
  { tempPath, finalPath, content, timeoutMs }: UploadJob,
): Promise<UploadResult> {
  const dog = watchdog(timeoutMs, `${ep.protocol} ${ep.host}:${ep.port}`);
  // basic-ftp's own timeout closes an idle control or data socket; the watchdog covers the rest.
  const client = new FtpClient(timeoutMs);
  let tempCreated = false;
  const step = <T>(what: string, p: Promise<T>, kindOf?: (code: number | undefined) => PushError['kind']) =>
    dog.step(p).catch((e: unknown) => {
      if (e instanceof PushError) throw e;
      const code = (e as { code?: unknown }).code;
      const kind =
        networkError(e) || /timeout|closed/i.test((e as Error).message)
          ? 'unreachable'
          : (kindOf?.(typeof code === 'number' ? code : undefined) ?? 'refused');
      throw new PushError(kind, `${what}: ${(e as Error).message}`, { cause: e });
    });
  try {
    await step(
      `cannot log in to ${ep.host}:${ep.port} as ${ep.username}`,
      client.access({
        host: ep.host,
        port: ep.port,
        user: ep.username,
        password: ep.password,
        // Explicit TLS (AUTH TLS) on the control and every data connection; certificates always checked.
        secure: ep.protocol === 'ftps',
        secureOptions:
          ep.protocol === 'ftps'
            ? { rejectUnauthorized: true, ...(ep.caCertPem ? { ca: ep.caCertPem } : {}) }
            : undefined,
      }),
      // 4xx: the server is busy or too many connections — a transient no.
      (code) => (code !== undefined && code >= 400 && code < 500 ? 'unreachable' : 'refused'),
    );
    client.trackProgress(() => dog.touch());
    tempCreated = true;
    await step(`uploading ${tempPath}`, client.uploadFrom(Readable.from([content]), tempPath));
    client.trackProgress();
    sizeCheck(tempPath, await step(`SIZE ${tempPath}`, client.size(tempPath)), content.length);
    await renameReplacing({
      rename: () => step(`renaming ${tempPath} to ${finalPath}`, client.rename(tempPath, finalPath)),
      exists: () =>
        client.size(finalPath).then(
          () => true,
          () => false,
        ),
      remove: () => step(`removing the previous ${finalPath}`, client.remove(finalPath)),
    });
    tempCreated = false;
    sizeCheck(finalPath, await step(`SIZE ${finalPath}`, client.size(finalPath)), content.length);
    return { remotePath: finalPath, bytes: content.length };
  } catch (e) {
    if (tempCreated && !client.closed) await removeTemp(() => client.remove(tempPath, true), timeoutMs);
    throw e;
  } finally {
    dog.stop();
    client.close();
  }
}
