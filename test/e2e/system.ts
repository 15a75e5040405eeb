// Starts the real system (`npm start`) on a free port and a fresh state directory, and speaks HTTP to it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..', '..');

export const TOKENS = {
  admin: 'e2e-admin-token',
  enqueue: 'e2e-enqueue-token',
  consume: 'e2e-consume-token',
  consume2: 'e2e-consume-token-2',
  cn: 'e2e-cn-token',
  weur: 'e2e-weur-token',
};

export const TOKEN_LIST = [
  `${TOKENS.admin}:admin`,
  `${TOKENS.enqueue}:enqueue`,
  `${TOKENS.consume}:consume`,
  `${TOKENS.consume2}:consume`,
  `${TOKENS.cn}:consume@cn`,
  `${TOKENS.weur}:consume@weur+enqueue`,
].join(',');

/** Every test system signs HTTP tasks with this key and may call the tests' own servers on 127.0.0.1. */
export const SIGNING_KEY = `whsec_${btoa('drover-e2e-signing-key-0123456789')}`;

export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => ok(port));
    });
  });
}

export interface Reply<T = any> {
  status: number;
  body: T;
  text: string;
}

/** A tiny HTTP client for one token. */
export class Api {
  readonly url: string;
  readonly token: string | null;

  constructor(url: string, token: string | null = TOKENS.admin) {
    this.url = url;
    this.token = token;
  }

  as(token: string | null): Api {
    return new Api(this.url, token);
  }

  async request<T = any>(method: string, path: string, body?: unknown, init: RequestInit = {}): Promise<Reply<T>> {
    const headers: Record<string, string> = { ...(init.headers as Record<string, string>) };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let payload: BodyInit | undefined;
    if (typeof body === 'string') payload = body;
    else if (body !== undefined) {
      payload = JSON.stringify(body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(this.url + path, { ...init, method, headers, body: payload });
    const text = await res.text();
    let parsed: any = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, body: parsed, text };
  }

  get<T = any>(path: string) {
    return this.request<T>('GET', path);
  }

  post<T = any>(path: string, body?: unknown) {
    return this.request<T>('POST', path, body ?? {});
  }
}

export interface System {
  url: string;
  /** Where the runtime takes local triggers: GET /cdn-cgi/local/scheduled?cron=&time= runs the cron trigger. */
  triggers: string;
  port: number;
  stateDir: string;
  api: Api;
  logs: () => string;
  /** The process group of `npm start`: wrangler, workerd and all. Its leader is `npm start`, or its parent with `parent`. */
  pgid: number;
  /** SIGKILL to the whole process group: wrangler, workerd and all. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

/** A parent for `npm start` that does nothing else, for tests of what its death does: its output is npm start's. */
const PARENT = `import { spawn } from 'node:child_process';
spawn('npm', ['start', '--silent'], { stdio: ['ignore', 'inherit', 'inherit'] });`;

export async function startSystem(options: { stateDir?: string; port?: number; env?: Record<string, string>; parent?: boolean } = {}): Promise<System> {
  const port = options.port ?? (await freePort());
  const stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), 'drover-e2e-'));
  const url = `http://127.0.0.1:${port}`;
  let output = '';
  const [command, args] = options.parent ? [process.execPath, ['--input-type=module', '--eval', PARENT]] : ['npm', ['start', '--silent']];
  const child: ChildProcess = spawn(command, args, {
    cwd: root,
    env: {
      ...process.env,
      PORT: String(port),
      DROVER_STATE_DIR: stateDir,
      DROVER_TOKENS: TOKEN_LIST,
      DROVER_SIGNING_KEYS: SIGNING_KEY,
      DROVER_HTTP_ALLOW: '127.0.0.1',
      ...options.env,
    },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // already gone
    }
  };
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`npm start exited early:\n${output}`);
    if (Date.now() > deadline) {
      killGroup('SIGKILL');
      throw new Error(`npm start did not become healthy:\n${output}`);
    }
    if (output.includes('hub ready at')) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const triggers = /local triggers at (\S+)/.exec(output)?.[1];
  if (!triggers) {
    killGroup('SIGKILL');
    throw new Error(`npm start did not say where its local triggers are:\n${output}`);
  }
  return {
    url,
    triggers,
    port,
    stateDir,
    api: new Api(url),
    logs: () => output,
    pgid: child.pid!,
    async kill() {
      killGroup('SIGKILL');
      await exited;
    },
    async stop() {
      killGroup('SIGTERM');
      const timer = setTimeout(() => killGroup('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Unique queue names keep tests that share a system apart. */
let counter = 0;
export function uniqueQueue(prefix = 'q'): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter++}`;
}

/** Claims until `n` jobs arrived or the wait ends. */
export async function claimAll(api: Api, queue: string, n: number, body: Record<string, unknown> = {}, timeoutMs = 20_000) {
  const jobs: any[] = [];
  const deadline = Date.now() + timeoutMs;
  while (jobs.length < n && Date.now() < deadline) {
    const res = await api.post(`/v1/queues/${queue}/claim`, { worker: 'e2e', max: 100, waitSeconds: 1, ...body });
    if (res.status !== 200) throw new Error(`claim failed: ${res.status} ${res.text}`);
    jobs.push(...res.body.jobs);
  }
  return jobs;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
