/**
 * The Kubernetes test bed: a real etcd, kube-apiserver, kube-controller-manager and
 * kube-scheduler on 127.0.0.1, the KubeRay CRDs and the real kuberay-operator, with kwok playing
 * the kubelet of one fake node (pods reach Running without containers). Binaries come from
 * scripts/setup-testbed.sh (.testbed links to them).
 *
 * Library: `startTestbed(dir)` / `stopTestbed(dir)`; state lives in `<dir>/testbed.json`, so a
 * test file can reuse a bed another file started and the global teardown can stop it. Every
 * process runs detached in its own process group and is stopped by group.
 * CLI: `npm run testbed` starts one in the foreground and stops it on Ctrl-C.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

// Run from scripts/ (tests, through vite) or from dist/scripts/ (the CLI).
export const ROOT = existsSync(join(import.meta.dirname, '..', 'package.json'))
  ? resolve(import.meta.dirname, '..')
  : resolve(import.meta.dirname, '..', '..');
export const TESTBED_DIR = join(ROOT, '.testbed');

export const ADMIN_TOKEN = 'ray-mcp-testbed-admin';
/** kwok hands out pod IPs from here (the fake node's podCIDR). */
export const TESTBED_POD_CIDR = '10.213.0.0/24';
/** A user with no rights anywhere, except those a test grants it. */
export const LIMITED_TOKEN = 'ray-mcp-testbed-limited';
export const LIMITED_USER = 'limited';
/** A cluster admin the GKE tests hand out as the cloud's access token (test/e2e/cloud.connect.test.ts). */
export const GKE_TOKEN = 'ray-mcp-testbed-gke';

export interface TestbedState {
  dir: string;
  kubeconfig: string;
  server: string;
  versions: Record<string, string>;
  ports: { etcd: number; etcdPeer: number; apiserver: number; scheduler: number; operatorHealth: number };
  pids: Record<string, number>;
}

const log = (msg: string) => process.stderr.write(`testbed: ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const bin = (name: string) => join(TESTBED_DIR, 'bin', name);

export function testbedAvailable(): boolean {
  return existsSync(join(TESTBED_DIR, '.complete'));
}

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => res(port));
    });
  });
}

function launch(dir: string, name: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  const out = openSync(join(dir, 'logs', `${name}.log`), 'a');
  const child = spawn(bin(name === 'operator' ? 'kuberay-operator' : name), args, {
    cwd: dir,
    detached: true,
    stdio: ['ignore', out, out],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, ...env },
  });
  child.unref();
  return child;
}

function tail(dir: string, name: string, lines = 15): string {
  try {
    return readFileSync(join(dir, 'logs', `${name}.log`), 'utf8')
      .trim()
      .split('\n')
      .slice(-lines)
      .join('\n');
  } catch {
    return '(no log)';
  }
}

async function waitUntil(
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs: number,
  alive?: () => boolean,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (alive && !alive()) throw new Error(`${what}: the process exited`);
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(200);
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The API server over HTTPS with the admin token; the CA is the server's self-signed cert. */
export async function kubeRequest(
  state: Pick<TestbedState, 'server' | 'dir'>,
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
  token = ADMIN_TOKEN,
  // biome-ignore lint/suspicious/noExplicitAny: JSON (or text) from the test API server, read ad hoc by tests
): Promise<{ status: number; json: any }> {
  const { request, Agent } = await import('undici');
  const ca = readFileSync(join(state.dir, 'certs', 'apiserver.crt'));
  const dispatcher = new Agent({ connect: { ca } });
  try {
    const res = await request(`${state.server}${path}`, {
      method: method as 'GET',
      dispatcher,
      headers: { authorization: `Bearer ${token}`, 'content-type': contentType, accept: 'application/json' },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.body.text();
    let json: unknown = text;
    try {
      json = JSON.parse(text);
    } catch {
      // plain text (readyz)
    }
    return { status: res.statusCode, json };
  } finally {
    await dispatcher.close();
  }
}

/** Server-side apply of one object (CRDs are too big for client-side apply, kuberay#410). */
export async function apply(state: TestbedState, path: string, obj: unknown) {
  const res = await kubeRequest(
    state,
    'PATCH',
    `${path}?fieldManager=ray-mcp-testbed&force=true`,
    obj,
    'application/apply-patch+yaml',
  );
  if (res.status >= 300)
    throw new Error(`apply ${path}: ${res.status} ${JSON.stringify(res.json).slice(0, 400)}`);
  return res.json;
}

function kubeconfigYaml(server: string, caFile: string, users: Record<string, string>, current: string) {
  const names = Object.keys(users);
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: testbed',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority: ${caFile}`,
    'users:',
    ...names.flatMap((n) => [`- name: ${n}`, '  user:', `    token: ${users[n]}`]),
    'contexts:',
    ...names.flatMap((n) => [`- name: ${n}`, '  context:', '    cluster: testbed', `    user: ${n}`]),
    `current-context: ${current}`,
    '',
  ].join('\n');
}

export function readState(dir: string): TestbedState | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, 'testbed.json'), 'utf8')) as TestbedState;
  } catch {
    return undefined;
  }
}

/** A bed already running in `dir`, or undefined. */
export async function runningTestbed(dir: string): Promise<TestbedState | undefined> {
  const state = readState(dir);
  if (!state) return undefined;
  const ok = await kubeRequest(state, 'GET', '/readyz')
    .then((r) => r.status === 200)
    .catch(() => false);
  return ok ? state : undefined;
}

/** The running bed in `dir`, or a new one. */
export async function ensureTestbed(dir: string): Promise<TestbedState> {
  return (await runningTestbed(dir)) ?? startTestbed(dir);
}

/** `kuberay: false` leaves out the KubeRay CRDs and operator: a plain Kubernetes cluster. */
export async function startTestbed(dir: string, opts: { kuberay?: boolean } = {}): Promise<TestbedState> {
  const withKubeRay = opts.kuberay !== false;
  if (!testbedAvailable()) {
    throw new Error(
      'The Kubernetes test bed is not built: run `bash scripts/setup-testbed.sh` (npm test does).',
    );
  }
  const started = Date.now();
  await stopTestbed(dir);
  for (const sub of ['logs', 'certs', 'etcd']) mkdirSync(join(dir, sub), { recursive: true });
  const versions = JSON.parse(readFileSync(join(TESTBED_DIR, 'versions.json'), 'utf8'));
  const ports = {
    etcd: await freePort(),
    etcdPeer: await freePort(),
    apiserver: await freePort(),
    scheduler: await freePort(),
    operatorHealth: await freePort(),
  };
  const server = `https://127.0.0.1:${ports.apiserver}`;
  const state: TestbedState = {
    dir,
    kubeconfig: join(dir, 'kubeconfig'),
    server,
    versions,
    ports,
    pids: {},
  };
  const save = () => writeFileSync(join(dir, 'testbed.json'), JSON.stringify(state, null, 2));
  save();
  try {
    // etcd
    const etcdUrl = `http://127.0.0.1:${ports.etcd}`;
    const etcd = startEtcd(state);
    save();
    await waitUntil(
      'etcd',
      async () => (await fetch(`${etcdUrl}/health`)).ok,
      30_000,
      () => pidAlive(etcd.pid!),
    );

    // kube-apiserver
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(join(dir, 'certs', 'sa.key'), privateKey.export({ type: 'pkcs1', format: 'pem' }));
    writeFileSync(
      join(dir, 'certs', 'tokens.csv'),
      `${ADMIN_TOKEN},admin,admin,system:masters\n${LIMITED_TOKEN},${LIMITED_USER},${LIMITED_USER}\n${GKE_TOKEN},gke-user,gke-user,system:masters\n`,
    );
    startApiserver(state);
    save();
    await waitForApiserver(state, 60_000);
    const ca = join(dir, 'certs', 'apiserver.crt');
    writeFileSync(
      state.kubeconfig,
      kubeconfigYaml(
        server,
        ca,
        { 'testbed-admin': ADMIN_TOKEN, 'testbed-limited': LIMITED_TOKEN },
        'testbed-admin',
      ),
    );

    if (withKubeRay) await installCrds(state);

    // kube-controller-manager and kube-scheduler
    const kcm = launch(dir, 'kube-controller-manager', [
      `--kubeconfig=${state.kubeconfig}`,
      '--leader-elect=false',
      '--secure-port=0',
      `--service-account-private-key-file=${join(dir, 'certs', 'sa.key')}`,
      `--root-ca-file=${ca}`,
      '--use-service-account-credentials=false',
      '--controllers=*,-endpoint,-endpointslice,-endpointslicemirroring',
      // kwok's one node never fails for real. If its heartbeat lags (an API server restart on a busy
      // machine), the node lifecycle controller would mark it NotReady and every pod not ready, and
      // no kubelet would set them ready again: only a real failure should change a pod.
      '--node-monitor-grace-period=1h',
      '--node-startup-grace-period=1h',
    ]);
    state.pids['kube-controller-manager'] = kcm.pid!;
    const scheduler = launch(dir, 'kube-scheduler', [
      `--kubeconfig=${state.kubeconfig}`,
      '--leader-elect=false',
      '--bind-address=127.0.0.1',
      `--secure-port=${ports.scheduler}`,
    ]);
    state.pids['kube-scheduler'] = scheduler.pid!;
    save();

    // kwok and its fake node
    const stageDir = join(TESTBED_DIR, 'stages');
    const kwok = launch(dir, 'kwok', [
      `--kubeconfig=${state.kubeconfig}`,
      '--manage-all-nodes=true',
      ...readdirSync(stageDir).flatMap((f) => ['-c', join(stageDir, f)]),
    ]);
    state.pids.kwok = kwok.pid!;
    save();
    await apply(state, '/api/v1/nodes/kwok-node-0', {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: 'kwok-node-0',
        annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
        labels: { 'kubernetes.io/hostname': 'kwok-node-0', type: 'kwok' },
      },
      // Pod IPs from a range of our own: a test that stands a real Ray dashboard in for a head pod
      // puts that pod's IP on the loopback device, and no real network is shadowed.
      spec: { podCIDR: TESTBED_POD_CIDR, podCIDRs: [TESTBED_POD_CIDR] },
      status: {
        allocatable: { cpu: '64', memory: '256Gi', pods: '110', 'nvidia.com/gpu': '8' },
        capacity: { cpu: '64', memory: '256Gi', pods: '110', 'nvidia.com/gpu': '8' },
        addresses: [{ type: 'InternalIP', address: '127.0.0.1' }],
      },
    });

    if (withKubeRay) {
      // The operator, out of cluster, plus its Deployment as the in-cluster marker tools look for.
      const operator = launch(
        dir,
        'operator',
        [
          `--kubeconfig=${state.kubeconfig}`,
          '--enable-leader-election=false',
          '--metrics-addr=0',
          `--health-probe-bind-address=127.0.0.1:${ports.operatorHealth}`,
          '--log-stdout-encoder=console',
          // Out of cluster it cannot reach a head's dashboard by service DNS: through the API server's
          // services/proxy (and pods/proxy for Serve's proxy health), as tests relay heads to real Ray.
          '--use-kubernetes-proxy',
        ],
        { RAYJOB_STATUS_CHECK_TIMEOUT_SECONDS: '3600' },
      );
      state.pids.operator = operator.pid!;
      save();
      await waitUntil(
        'kuberay-operator ready',
        async () => (await fetch(`http://127.0.0.1:${ports.operatorHealth}/readyz`)).ok,
        60_000,
        () => pidAlive(operator.pid!),
      );
      await registerOperatorDeployment(state);
    }
    log(
      `up in ${((Date.now() - started) / 1000).toFixed(1)} s at ${server} (KUBECONFIG=${state.kubeconfig})`,
    );
    return state;
  } catch (err) {
    const names = Object.keys(state.pids);
    const detail = names.map((n) => `--- ${n}\n${tail(dir, n)}`).join('\n');
    await stopTestbed(dir);
    throw new Error(`${(err as Error).message}\n${detail}`);
  }
}

/** The KubeRay CRDs, server-side applied as they are, until Established. */
async function installCrds(state: TestbedState) {
  const crdDir = join(TESTBED_DIR, 'crds');
  const crds: string[] = [];
  for (const file of readdirSync(crdDir).filter((f) => f.endsWith('.yaml'))) {
    // Sent as YAML, untouched: apply-patch+yaml takes it as it is.
    const text = readFileSync(join(crdDir, file), 'utf8');
    const name = /^metadata:\n(?:\s+.*\n)*?\s+name:\s*(\S+)/m.exec(text)?.[1];
    if (!name) throw new Error(`no metadata.name in ${file}`);
    crds.push(name);
    await apply(state, `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`, text);
  }
  for (const name of crds) {
    await waitUntil(
      `CRD ${name} established`,
      async () => {
        const r = await kubeRequest(
          state,
          'GET',
          `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`,
        );
        return (r.json?.status?.conditions ?? []).some(
          (c: { type: string; status: string }) => c.type === 'Established' && c.status === 'True',
        );
      },
      30_000,
    );
  }
}

function startEtcd(state: TestbedState): ChildProcess {
  const { dir, ports } = state;
  const etcdUrl = `http://127.0.0.1:${ports.etcd}`;
  const peerUrl = `http://127.0.0.1:${ports.etcdPeer}`;
  const etcd = launch(dir, 'etcd', [
    `--data-dir=${join(dir, 'etcd')}`,
    `--listen-client-urls=${etcdUrl}`,
    `--advertise-client-urls=${etcdUrl}`,
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=default=${peerUrl}`,
    '--unsafe-no-fsync',
    '--max-request-bytes=8388608',
    '--log-level=warn',
  ]);
  state.pids.etcd = etcd.pid!;
  return etcd;
}

function startApiserver(state: TestbedState) {
  const { dir, ports } = state;
  const apiserver = launch(state.dir, 'kube-apiserver', [
    `--etcd-servers=http://127.0.0.1:${ports.etcd}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${ports.apiserver}`,
    `--cert-dir=${join(dir, 'certs')}`,
    '--service-cluster-ip-range=10.96.0.0/16',
    '--service-account-issuer=https://kubernetes.default.svc',
    `--service-account-key-file=${join(dir, 'certs', 'sa.key')}`,
    `--service-account-signing-key-file=${join(dir, 'certs', 'sa.key')}`,
    `--token-auth-file=${join(dir, 'certs', 'tokens.csv')}`,
    '--authorization-mode=RBAC',
    '--endpoint-reconciler-type=none',
    '--disable-admission-plugins=ServiceAccount',
    '--allow-privileged=true',
  ]);
  state.pids['kube-apiserver'] = apiserver.pid!;
}

async function waitForApiserver(state: TestbedState, timeoutMs: number) {
  const pid = state.pids['kube-apiserver']!;
  await waitUntil(
    'kube-apiserver /readyz',
    async () => {
      if (!existsSync(join(state.dir, 'certs', 'apiserver.crt'))) return false;
      return (await kubeRequest(state, 'GET', '/readyz')).status === 200;
    },
    timeoutMs,
    () => pidAlive(pid),
  );
}

/**
 * The operator runs as a process here, not in a pod. Tools find an operator by its Deployment, so
 * the bed registers one (its pod is a kwok pod) carrying the real operator's image and version.
 */
async function registerOperatorDeployment(state: TestbedState) {
  await apply(state, '/api/v1/namespaces/ray-system', {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: 'ray-system' },
  });
  const labels = {
    'app.kubernetes.io/name': 'kuberay-operator',
    'app.kubernetes.io/component': 'kuberay-operator',
  };
  await apply(state, '/apis/apps/v1/namespaces/ray-system/deployments/kuberay-operator', {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'kuberay-operator', namespace: 'ray-system', labels },
    spec: {
      replicas: 1,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          containers: [
            { name: 'kuberay-operator', image: `quay.io/kuberay/operator:${state.versions.kuberay}` },
          ],
        },
      },
    },
  });
}

/**
 * Stops the API server alone and starts it again on the same port (tests of watch recovery).
 * `whileDown` runs after it stopped and before it starts again (etcd is still up then).
 */
export async function restartApiserver(
  state: TestbedState,
  downMs = 1000,
  whileDown?: () => Promise<void>,
): Promise<void> {
  const pid = state.pids['kube-apiserver'];
  if (pid) await stopGroup(pid, 10_000);
  await sleep(downMs);
  await whileDown?.();
  startApiserver(state);
  writeFileSync(join(state.dir, 'testbed.json'), JSON.stringify(state, null, 2));
  await waitForApiserver(state, 60_000);
}

/**
 * Stops etcd (SIGTERM) and starts it again with the same arguments and data dir; waits for its
 * /health. The API server stays up and reconnects by itself (tests of watch recovery).
 */
export async function restartEtcd(state: TestbedState, downMs = 1000): Promise<void> {
  const pid = state.pids.etcd;
  if (pid) await stopGroup(pid, 10_000);
  await sleep(downMs);
  const etcd = startEtcd(state);
  writeFileSync(join(state.dir, 'testbed.json'), JSON.stringify(state, null, 2));
  await waitUntil(
    'etcd /health',
    async () => (await fetch(`http://127.0.0.1:${state.ports.etcd}/health`)).ok,
    30_000,
    () => pidAlive(etcd.pid!),
  );
}

async function stopGroup(pid: number, graceMs: number): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      // gone
    }
  };
  signal('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (pidAlive(pid) && Date.now() < deadline) await sleep(50);
  signal('SIGKILL');
  while (pidAlive(pid) && Date.now() < deadline + 2000) await sleep(50);
}

/** Stops every process of the bed in `dir`, in reverse order. Safe when nothing runs. */
export async function stopTestbed(dir: string): Promise<void> {
  const state = readState(dir);
  if (!state) return;
  const order = ['operator', 'kwok', 'kube-scheduler', 'kube-controller-manager', 'kube-apiserver', 'etcd'];
  for (const name of order) {
    const pid = state.pids[name];
    if (pid) await stopGroup(pid, 5000);
  }
  rmSync(join(dir, 'testbed.json'), { force: true });
  rmSync(join(dir, 'etcd'), { recursive: true, force: true });
}

// CLI: start in the foreground, stop on a signal.
if (import.meta.url === `file://${process.argv[1]}`) {
  const dir = process.argv[2] ? resolve(process.argv[2]) : join(tmpdir(), `ray-mcp-testbed-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const state = await startTestbed(dir);
  process.stdout.write(`KUBECONFIG=${state.kubeconfig}\n`);
  const stop = async () => {
    await stopTestbed(dir);
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  setInterval(() => {}, 1 << 30);
}
