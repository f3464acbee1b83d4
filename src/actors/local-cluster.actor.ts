/**
 * The I/O behind the local cluster machine: reserve ports, start and watch `ray start --block`
 * processes, wait until Ray says the cluster is usable, pick idle workers, and stop exactly the
 * processes of one cluster (never `ray stop`, which kills every Ray on the machine).
 */
import { mkdir, mkdtemp, open, readlink, rm } from 'node:fs/promises';
import { basename, delimiter, dirname, join } from 'node:path';
import { type ActorSystem, fromCallback, fromPromise } from 'xstate';
import { type Dashboards, dashboardError } from '../clients/dashboard.client.js';
import { resolveRayCli } from '../clients/ray-cli.client.js';
import type { Config } from '../config.js';
import type { ClusterDetails, NodeRecord, RayEndpoints, StartStep } from '../domain/cluster-record.js';
import type { DashboardTarget } from '../domain/dashboard.js';
import { RayMcpError } from '../domain/errors.js';
import {
  CLUSTER_DIR_PREFIX,
  HEAD_BLOCKS,
  headLaunch,
  NODE_LABEL,
  WORKER_BLOCKS,
  workerLaunch,
} from '../domain/ray-start.js';
import { nodesFromState, usageOf } from '../domain/ray-views.js';
import type { Logger } from '../logger.js';
import {
  type LocalClusterEvent,
  leaseOwner,
  type NodeProcessInput,
  type NodesJoined,
  type PrepareOutput,
  type StepReporter,
  type StopNodesInput,
  type StopNodesOutput,
} from '../machines/local-cluster.machine.js';
import type { PortAllocatorActor } from '../machines/port-allocator.machine.js';
import { askActor } from './ask.js';
import { listOsProcesses, pidAlive, processesMentioning, signal, waitUntilGone } from './os-processes.js';
import type { ProcessRegistry } from './processes.js';
import { signalGroup } from './processes.js';

// biome-ignore lint/suspicious/noExplicitAny: XState's own system type is generic over any
type AnyActorSystem = ActorSystem<any>;

export interface LocalClusterDeps {
  config: Config;
  processes: ProcessRegistry;
  log: Logger;
  dashboards: Dashboards;
}

const POLL_MS = 100;

function allocator(system: AnyActorSystem): PortAllocatorActor {
  const ref = system.get('ports') as PortAllocatorActor | undefined;
  if (!ref) throw new RayMcpError('shutting_down', 'The port allocator is not running.', 'Restart ray-mcp.');
  return ref;
}

/** Reserves ports for each node; on cancellation gives back what it got and throws. */
async function reserve(system: AnyActorSystem, clusterId: string, nodes: string[], signal: AbortSignal) {
  const ports: Record<string, Record<string, number>> = {};
  const cancelled = async (owners: string[]) => {
    await releasePorts(system, owners);
    return new RayMcpError(
      'conflict',
      `Cluster ${clusterId} was stopped while it reserved ports.`,
      'Nothing to do.',
    );
  };
  for (const node of nodes) {
    if (signal.aborted) throw await cancelled(Object.keys(ports).map((n) => leaseOwner(clusterId, n)));
    const owner = leaseOwner(clusterId, node);
    const snapshot = await askActor(
      allocator(system),
      { type: 'ports.reserve', owner, blocks: node === 'head' ? HEAD_BLOCKS : WORKER_BLOCKS },
      { timeoutMs: 30_000 },
    );
    ports[node] = snapshot.context.leases[owner]!.ports;
  }
  if (signal.aborted) throw await cancelled(nodes.map((n) => leaseOwner(clusterId, n)));
  return ports;
}

export async function releasePorts(system: AnyActorSystem, owners: string[]): Promise<void> {
  const ref = system.get('ports') as PortAllocatorActor | undefined;
  if (!ref) return;
  for (const owner of owners) await askActor(ref, { type: 'ports.release', owner }, { timeoutMs: 10_000 });
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });

/** Terminal escape sequences (CSI, OSC) and every control character but newline and tab. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
const ESCAPES = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: as above
const CONTROLS = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** Untrusted text from a log, made safe to show: no escapes, no control characters. */
export function stripControl(text: string): string {
  return text.replace(ESCAPES, '').replace(/\r\n?/g, '\n').replace(CONTROLS, '');
}

/**
 * The last lines a node wrote, for a failure report: untrusted text, bounded (lines and bytes), no
 * terminal codes or control characters.
 */
export async function logExcerpt(file: string, maxLines = 15, maxBytes = 2000): Promise<string | undefined> {
  if (!file) return undefined;
  try {
    const fh = await open(file, 'r');
    try {
      const { size } = await fh.stat();
      const length = Math.min(size, 16_384);
      const buf = Buffer.alloc(length);
      await fh.read(buf, 0, length, size - length);
      const lines = stripControl(buf.toString('utf8'))
        .split('\n')
        .filter((l) => l.trim());
      const text = lines.slice(-maxLines).join('\n');
      return text.length > maxBytes ? text.slice(-maxBytes) : text;
    } finally {
      await fh.close();
    }
  } catch {
    return undefined;
  }
}

export function localClusterActors(deps: LocalClusterDeps) {
  const { config, processes, log, dashboards } = deps;
  const rayEnv = (rayBin: string, extra: Record<string, string>) => ({
    ...config.childEnv,
    // Jobs run `python ...` with the node's PATH: make it the Python Ray runs on, not whatever
    // python comes first on the user's PATH (which may not have Ray at all).
    PATH: [dirname(rayBin), config.childEnv.PATH].filter(Boolean).join(delimiter),
    // From Ray 2.59 a token anywhere switches auth on unless the mode is set: always set it.
    RAY_AUTH_MODE: config.rayAuth.mode ?? 'disabled',
    RAY_USAGE_STATS_ENABLED: '0',
    ...extra,
  });

  return {
    prepareLaunch: fromPromise<PrepareOutput, { clusterId: string; nodes: string[] }>(
      async ({ input, system, signal }) => {
        const cli = await resolveRayCli(config);
        // Short on purpose: Ray's socket paths under it must fit in 107 bytes (CLUSTER_DIR_PREFIX).
        await mkdir(config.tempRoot, { recursive: true });
        const tempDir = await mkdtemp(join(config.tempRoot, CLUSTER_DIR_PREFIX));
        try {
          return {
            rayBin: cli.path,
            tempDir,
            ports: await reserve(system, input.clusterId, input.nodes, signal),
          };
        } catch (err) {
          await releasePorts(system, [`cluster:${input.clusterId}`]).catch(() => {});
          throw err;
        }
      },
    ),

    reservePorts: fromPromise<Record<string, Record<string, number>>, { clusterId: string; nodes: string[] }>(
      async ({ input, system, signal }) => {
        try {
          return await reserve(system, input.clusterId, input.nodes, signal);
        } catch (err) {
          await releasePorts(
            system,
            input.nodes.map((n) => leaseOwner(input.clusterId, n)),
          ).catch(() => {});
          throw err;
        }
      },
    ),

    checkAlive: fromPromise<boolean, { tempDir?: string; nodes: NodeRecord[] }>(async ({ input }) => {
      const head = input.nodes.find((n) => n.role === 'head');
      if (!head?.pid || !input.tempDir) return false;
      // Alive only if the head pid is still that node: pids get reused.
      const procs = await listOsProcesses();
      return procs.some((p) => p.pid === head.pid && p.cmdline.includes(input.tempDir!));
    }),

    adoptPorts: fromPromise<void, { clusterId: string; nodes: NodeRecord[] }>(async ({ input, system }) => {
      for (const node of input.nodes) {
        if (!node.ports || node.state === 'exited') continue;
        await askActor(
          allocator(system),
          {
            type: 'ports.adopt',
            lease: {
              owner: leaseOwner(input.clusterId, node.name),
              ports: node.ports,
              blocks: node.role === 'head' ? HEAD_BLOCKS : WORKER_BLOCKS,
            },
          },
          { timeoutMs: 10_000 },
        );
      }
    }),

    nodeProcess: fromCallback<LocalClusterEvent, NodeProcessInput>(({ input, sendBack }) => {
      const { node } = input;
      if (input.adoptPid !== undefined) {
        // Not our child (we restarted): watch the pid, and make sure it is still that node.
        const pid = input.adoptPid;
        const timer = setInterval(() => {
          if (!pidAlive(pid)) {
            clearInterval(timer);
            void logExcerpt(node.logFile).then((excerpt) =>
              sendBack({ type: 'node.exited', node: node.name, exit: 'process ended', excerpt }),
            );
          }
        }, 1000);
        return () => clearInterval(timer);
      }
      const launch =
        node.role === 'head'
          ? headLaunch(input.spec, node.ports!, input.tempDir)
          : workerLaunch(node.name, node.nodeType, node.resources, node.ports!, input.ray!.gcsAddress);
      // Output goes to a file, not a pipe: with --on-exit=keep the node outlives us.
      let stopped = false;
      processes
        .start(input.rayBin, launch.args, {
          env: rayEnv(input.rayBin, launch.env),
          stdout: { file: node.logFile, append: true },
          stderr: { file: node.logFile, append: true },
          cwd: input.tempDir,
          // With auto, whether it stays is decided at exit (clusters with running jobs stay).
          keep: config.onExit !== 'stop',
        })
        .then(({ child }) => {
          if (child.pid !== undefined) sendBack({ type: 'node.launched', node: node.name, pid: child.pid });
          return child.then(async (res) => {
            if (stopped) return;
            const exit = res.signal ? `killed by ${res.signal}` : `exit code ${res.exitCode ?? '?'}`;
            const excerpt = (await logExcerpt(node.logFile)) ?? res.message;
            log.info({ node: node.name, exit }, 'ray node process ended');
            sendBack({ type: 'node.exited', node: node.name, exit, excerpt });
          });
        })
        .catch((err) => {
          if (!stopped)
            sendBack({ type: 'node.exited', node: node.name, exit: `could not start: ${String(err)}` });
        });
      return () => {
        stopped = true;
      };
    }),

    waitForHead: fromPromise<
      RayEndpoints,
      { tempDir: string; ports: Record<string, number>; owner: string; report?: StepReporter }
    >(async ({ input, signal }) => {
      const dashboardUrl = `http://127.0.0.1:${input.ports.dashboard}`;
      const client = dashboards.client({ url: dashboardUrl, owner: input.owner }, { timeoutMs: 2000 });
      let step: StartStep = 'dashboard';
      const reached = (next: StartStep) => {
        if (next === step) return;
        step = next;
        input.report?.send({ type: 'start.step', step });
      };
      while (!signal.aborted) {
        if (await client.gcsHealthy(signal)) {
          reached('session');
          try {
            const version = await client.version(signal);
            // Proof the dashboard is ours and not a stranger on a reused port.
            const ours = basename(await readlink(join(input.tempDir, 'session_latest')).catch(() => ''));
            if (version.session_name !== ours) {
              throw new RayMcpError(
                'conflict',
                `The dashboard on port ${input.ports.dashboard} belongs to another Ray session (${version.session_name}).`,
                'Another program took the port: try init_ray_cluster again.',
              );
            }
            reached('jobApi');
            await client.listJobs(signal, 0);
            return {
              version: version.ray_version,
              sessionName: version.session_name,
              dashboardUrl,
              gcsAddress: `127.0.0.1:${input.ports.gcs}`,
              clientAddress: `ray://127.0.0.1:${input.ports.client}`,
            };
          } catch (err) {
            if (err instanceof RayMcpError) throw err;
            // Up but not answering everything yet.
          }
        }
        await sleep(POLL_MS, signal);
      }
      throw new RayMcpError('timeout', 'Stopped waiting for the head node.', 'Try again.');
    }),

    waitForNodes: fromPromise<
      NodesJoined,
      { dashboard: DashboardTarget; names: string[]; jobAgent?: DashboardTarget; report?: StepReporter }
    >(async ({ input, signal }) => {
      const client = dashboards.client(input.dashboard, { timeoutMs: 3000 });
      let said = '';
      const report = (step: StartStep, detail?: string) => {
        if (`${step}/${detail}` === said) return;
        said = `${step}/${detail}`;
        input.report?.send({ type: 'start.step', step, detail });
      };
      // The head's job agent warms up while the workers join: the first submit does not wait for it.
      let agentReady = !input.jobAgent;
      const agent = input.jobAgent
        ? (async () => {
            const c = dashboards.client(input.jobAgent!, { timeoutMs: 30_000 });
            while (!signal.aborted && !(await c.warmJobAgent(signal))) await sleep(POLL_MS * 2, signal);
            agentReady = true;
          })()
        : Promise.resolve();
      let joined: NodesJoined | undefined;
      while (!signal.aborted && !joined) {
        try {
          const nodes = await client.listNodes(signal);
          const ids: Record<string, string> = {};
          for (const n of nodes) {
            const name = n.labels?.[NODE_LABEL];
            if (name && n.state === 'ALIVE' && input.names.includes(name)) ids[name] = n.node_id;
          }
          const missing = input.names.filter((name) => !ids[name]);
          if (!missing.length) joined = { nodeIds: ids, at: Date.now() };
          else if (missing.includes('head')) report('head');
          else {
            const alive = input.names.length - missing.length - (ids.head ? 1 : 0);
            const workers = input.names.filter((n) => n !== 'head').length;
            report('workers', `${alive} of ${workers} ALIVE; waiting for ${missing.slice(0, 5).join(', ')}`);
          }
        } catch {
          // not answering yet
        }
        if (!joined) await sleep(POLL_MS * 2, signal);
      }
      if (joined && !agentReady) report('jobAgent');
      await agent;
      if (signal.aborted || !joined)
        throw new RayMcpError('timeout', 'Stopped waiting for the nodes to join.', 'Try again.');
      return joined;
    }),

    pickWorkersToRemove: fromPromise<
      string[],
      { dashboard: DashboardTarget; candidates: { name: string; nodeId?: string }[]; count: number }
    >(async ({ input, signal }) => {
      const client = dashboards.client(input.dashboard);
      let busy = new Set<string>();
      try {
        busy = await client.busyNodeIds(signal);
      } catch (err) {
        log.warn({ err }, 'could not read task and actor placement; removing the newest workers');
      }
      // Idle workers first, newest first within each group: the oldest busy ones stay longest.
      const ordered = [...input.candidates].reverse();
      ordered.sort((a, b) => Number(busy.has(a.nodeId ?? '')) - Number(busy.has(b.nodeId ?? '')));
      return ordered.slice(0, input.count).map((c) => c.name);
    }),

    stopNodes: fromPromise<StopNodesOutput, StopNodesInput>(async ({ input, system }) => {
      await stopLocalNodes(input, log);
      const headExcerpt = input.headLog ? await logExcerpt(input.headLog) : undefined;
      await releasePorts(system, input.release);
      if (input.removeTempDir && input.tempDir) await rm(input.tempDir, { recursive: true, force: true });
      return { headExcerpt };
    }),

    describeCluster: fromPromise<ClusterDetails, { dashboard: DashboardTarget }>(
      async ({ input, signal }) => {
        const client = dashboards.client(input.dashboard);
        try {
          const [nodes, status, jobs] = await Promise.all([
            client.listNodes(signal),
            client.clusterStatus(signal).catch(() => undefined),
            client.listJobs(signal),
          ]);
          const counts: Record<string, number> = {};
          for (const j of jobs) counts[j.status] = (counts[j.status] ?? 0) + 1;
          const views = nodesFromState(nodes, status?.data);
          return { fetchedAt: Date.now(), nodes: views, usage: usageOf(views, status?.data), jobs: counts };
        } catch (err) {
          throw dashboardError(client.url, err);
        }
      },
    ),
  };
}

/**
 * Stops the given nodes of one cluster: workers first, then the head (a head stopped first
 * leaves workers waiting on a dead GCS). SIGTERM to each `ray start --block` lets it stop its
 * own raylet and daemons; after the grace period the process group gets SIGKILL. Last, anything
 * still mentioning the cluster's temp dir is ours and is killed; if something survives even
 * that, the stop fails loudly.
 */
export async function stopLocalNodes(input: StopNodesInput, log: Logger): Promise<void> {
  const workers = input.nodes.filter((n) => n.role === 'worker' && n.pid);
  const heads = input.nodes.filter((n) => n.role === 'head' && n.pid);
  for (const group of [workers, heads]) {
    const pids = group.map((n) => n.pid!).filter(pidAlive);
    for (const pid of pids) signal(pid, 'SIGTERM');
    const left = await waitUntilGone(pids, input.graceMs);
    for (const pid of left) {
      log.warn({ cluster: input.clusterId, pid }, 'ray node did not stop in time; killing its process group');
      signalGroup(pid, 'SIGKILL');
    }
    await waitUntilGone(left, 5000);
    // Whatever the node left in its process group goes too.
    for (const pid of pids) signalGroup(pid, 'SIGKILL');
  }
  // Only a whole-cluster stop names the temp dir: while the head runs, it mentions it too.
  if (!input.tempDir) return;
  let stragglers = await processesMentioning(input.tempDir);
  for (const p of stragglers) signal(p.pid, 'SIGKILL');
  await waitUntilGone(
    stragglers.map((p) => p.pid),
    5000,
  );
  stragglers = await processesMentioning(input.tempDir);
  if (stragglers.length) {
    throw new RayMcpError(
      'internal',
      `${stragglers.length} process(es) of cluster ${input.clusterId} survived SIGKILL: ${stragglers.map((p) => p.pid).join(', ')}.`,
      'Check them with ps; they may be stuck in the kernel.',
    );
  }
}
