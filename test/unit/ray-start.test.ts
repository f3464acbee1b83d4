import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { type NodeResources, toLocalSpec, type WorkerGroup } from '../../src/domain/cluster.js';
import type { PortBlock } from '../../src/domain/ports.js';
import {
  AF_UNIX_PATH_MAX,
  CLUSTER_DIR_PREFIX,
  HEAD_BLOCKS,
  headLaunch,
  LONGEST_RAY_SOCKET_TAIL,
  MAX_TEMP_ROOT,
  NODE_LABEL,
  NODE_TYPE_LABEL,
  type NodeLaunch,
  WORKER_BLOCKS,
  WORKER_PORTS_PER_NODE,
  workerLaunch,
} from '../../src/domain/ray-start.js';

/** Distinct port numbers for every block, the way a lease would give them. */
const portsArb = (blocks: PortBlock[]) =>
  fc
    .uniqueArray(fc.integer({ min: 1024, max: 65_000 - WORKER_PORTS_PER_NODE }), {
      minLength: blocks.length,
      maxLength: blocks.length,
    })
    .map((values) => Object.fromEntries(blocks.map((b, i) => [b.name, values[i]!])));

const resourcesArb: fc.Arbitrary<NodeResources> = fc.record(
  {
    num_cpus: fc.integer({ min: 0, max: 64 }),
    num_gpus: fc.integer({ min: 0, max: 8 }),
    memory: fc.integer({ min: 0, max: 2 ** 40 }),
    object_store_memory: fc.integer({ min: 78_643_200, max: 2 ** 36 }),
    resources: fc.dictionary(fc.constantFrom('accelerator_type:A100', 'disk', 'tpu'), fc.nat(16), {
      minKeys: 1,
    }),
    labels: fc.dictionary(fc.constantFrom('zone', 'team', 'example.com/tier'), fc.constantFrom('a', 'b-1'), {
      minKeys: 1,
    }),
  },
  { requiredKeys: [] },
);

/** `--flag=value` arguments as a map; bare flags map to ''. */
function flags(launch: NodeLaunch): Map<string, string> {
  const out = new Map<string, string>();
  for (const arg of launch.args) {
    if (!arg.startsWith('--')) continue;
    const eq = arg.indexOf('=');
    const key = eq < 0 ? arg : arg.slice(0, eq);
    expect(out.has(key), `${key} given twice`).toBe(false);
    out.set(key, eq < 0 ? '' : arg.slice(eq + 1));
  }
  return out;
}

/** Every flag that names a port, with the number it names. */
function portFlags(f: Map<string, string>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [k, v] of f) if (/-port$/.test(k) || k === '--port') out.set(k, Number(v));
  return out;
}

function labels(f: Map<string, string>): Record<string, string> {
  const raw = f.get('--labels');
  expect(raw).toBeDefined();
  return Object.fromEntries(raw!.split(',').map((kv) => kv.split('=') as [string, string]));
}

function expectArgv(launch: NodeLaunch) {
  expect(Array.isArray(launch.args)).toBe(true);
  for (const a of launch.args) {
    expect(typeof a).toBe('string');
    // One argument each: nothing here would need a shell to split or quote it.
    expect(a).not.toMatch(/\s/);
  }
  expect(launch.args[0]).toBe('start');
  expect(launch.args).toContain('--block');
  expect(launch.args).toContain('--node-ip-address=127.0.0.1');
}

function expectNodePorts(f: Map<string, string>, ports: Record<string, number>) {
  expect(Number(f.get('--dashboard-agent-listen-port'))).toBe(ports.agentListen);
  expect(Number(f.get('--dashboard-agent-grpc-port'))).toBe(ports.agentGrpc);
  expect(Number(f.get('--node-manager-port'))).toBe(ports.nodeManager);
  expect(Number(f.get('--object-manager-port'))).toBe(ports.objectManager);
  expect(Number(f.get('--runtime-env-agent-port'))).toBe(ports.runtimeEnvAgent);
  expect(Number(f.get('--metrics-export-port'))).toBe(ports.metricsExport);
  const min = Number(f.get('--min-worker-port'));
  const max = Number(f.get('--max-worker-port'));
  expect(min).toBe(ports.workers);
  expect(max - min + 1).toBe(WORKER_PORTS_PER_NODE);
}

describe("a cluster's temp dir", () => {
  it("keeps Ray's longest socket path within 107 bytes under the longest temp root allowed", () => {
    const root = `/${'r'.repeat(MAX_TEMP_ROOT - 1)}`;
    expect(loadConfig({ tempRoot: root }, {}).tempRoot).toBe(root);
    expect(() => loadConfig({ tempRoot: `${root}x` }, {})).toThrow(/at most 28 bytes/);
    // Counted in bytes, as the kernel counts: 15 characters, 29 bytes in UTF-8.
    expect(() => loadConfig({ tempRoot: `/${'é'.repeat(14)}` }, {})).toThrow(/at most 28 bytes/);
    const dir = `${root}/${CLUSTER_DIR_PREFIX}XXXXXX`;
    expect(Buffer.byteLength(`${dir}${LONGEST_RAY_SOCKET_TAIL}`)).toBeLessThanOrEqual(AF_UNIX_PATH_MAX);
  });
});

describe('headLaunch', () => {
  it('takes every port from the lease, binds the dashboard to 127.0.0.1, and blocks', () => {
    fc.assert(
      fc.property(portsArb(HEAD_BLOCKS), resourcesArb, (ports, head) => {
        const launch = headLaunch({ head, workers: [] }, ports, '/tmp/rmt/c1-abc');
        expect(launch).toMatchObject({ name: 'head', nodeType: 'head', role: 'head' });
        expectArgv(launch);
        const f = flags(launch);
        expect(f.has('--head')).toBe(true);
        expect(f.get('--dashboard-host')).toBe('127.0.0.1');
        expect(f.get('--temp-dir')).toBe('/tmp/rmt/c1-abc');
        expect(Number(f.get('--port'))).toBe(ports.gcs);
        expect(Number(f.get('--dashboard-port'))).toBe(ports.dashboard);
        expect(Number(f.get('--ray-client-server-port'))).toBe(ports.client);
        expectNodePorts(f, ports);
        expect(launch.env).toEqual({ DASHBOARD_METRIC_PORT: String(ports.dashboardMetrics) });

        // No port flag has a value that is not from the lease (or its worker-port run).
        const leased = new Set(Object.values(ports));
        for (const [flag, port] of portFlags(f)) {
          if (flag === '--max-worker-port') continue;
          expect(leased.has(port), `${flag}=${port}`).toBe(true);
        }

        expect(labels(f)).toEqual({ ...head.labels, [NODE_LABEL]: 'head', [NODE_TYPE_LABEL]: 'head' });
        if (head.num_cpus !== undefined) expect(f.get('--num-cpus')).toBe(String(head.num_cpus));
        else expect(f.has('--num-cpus')).toBe(false);
        if (head.resources) expect(JSON.parse(f.get('--resources')!)).toEqual(head.resources);
        else expect(f.has('--resources')).toBe(false);
      }),
      { numRuns: 100 },
    );
  });

  it('gives the exact command line for a small head', () => {
    const ports = Object.fromEntries(HEAD_BLOCKS.map((b, i) => [b.name, 20_000 + i]));
    expect(headLaunch({ head: { num_cpus: 2 }, workers: [] }, ports, '/tmp/t').args).toEqual([
      'start',
      '--head',
      '--block',
      '--node-ip-address=127.0.0.1',
      '--temp-dir=/tmp/t',
      '--port=20000',
      '--dashboard-host=127.0.0.1',
      '--dashboard-port=20001',
      '--ray-client-server-port=20002',
      '--dashboard-agent-listen-port=20004',
      '--dashboard-agent-grpc-port=20005',
      '--node-manager-port=20006',
      '--object-manager-port=20007',
      '--runtime-env-agent-port=20008',
      '--metrics-export-port=20009',
      '--min-worker-port=20010',
      `--max-worker-port=${20_010 + WORKER_PORTS_PER_NODE - 1}`,
      '--num-cpus=2',
      `--labels=${NODE_LABEL}=head,${NODE_TYPE_LABEL}=head`,
      '--disable-usage-stats',
      '--log-style=record',
      '--log-color=false',
    ]);
  });
});

describe('workerLaunch', () => {
  it('joins the head, takes every port from its lease, and labels the node with its name', () => {
    fc.assert(
      fc.property(
        portsArb(WORKER_BLOCKS),
        resourcesArb,
        fc.constantFrom('worker', 'cpu', 'gpu-a100'),
        fc.integer({ min: 1, max: 32 }),
        (ports, resources, nodeType, n) => {
          const name = `${nodeType}-${n}`;
          const launch = workerLaunch(name, nodeType, resources, ports, '127.0.0.1:26379');
          expect(launch).toEqual(expect.objectContaining({ name, nodeType, role: 'worker', env: {} }));
          expectArgv(launch);
          const f = flags(launch);
          expect(f.get('--address')).toBe('127.0.0.1:26379');
          expect(f.has('--head')).toBe(false);
          // Only the head serves a dashboard, the GCS and Ray Client.
          for (const k of ['--port', '--dashboard-port', '--dashboard-host', '--ray-client-server-port'])
            expect(f.has(k)).toBe(false);
          expectNodePorts(f, ports);
          const leased = new Set(Object.values(ports));
          for (const [flag, port] of portFlags(f)) {
            if (flag === '--max-worker-port') continue;
            expect(leased.has(port), `${flag}=${port}`).toBe(true);
          }
          expect(labels(f)).toEqual({ ...resources.labels, [NODE_LABEL]: name, [NODE_TYPE_LABEL]: nodeType });
        },
      ),
      { numRuns: 100 },
    );
  });

  it('a user label cannot override the ray-mcp node labels', () => {
    const ports = Object.fromEntries(WORKER_BLOCKS.map((b, i) => [b.name, 30_000 + i]));
    const launch = workerLaunch('cpu-1', 'cpu', { labels: { [NODE_LABEL]: 'spoof' } }, ports, '127.0.0.1:1');
    expect(labels(flags(launch))[NODE_LABEL]).toBe('cpu-1');
  });

  it('the block tables give the worker run exactly WORKER_PORTS_PER_NODE ports', () => {
    for (const blocks of [HEAD_BLOCKS, WORKER_BLOCKS]) {
      expect(blocks.find((b) => b.name === 'workers')?.size).toBe(WORKER_PORTS_PER_NODE);
      expect(new Set(blocks.map((b) => b.name)).size).toBe(blocks.length);
    }
  });
});

describe('toLocalSpec', () => {
  it('adds up Python-style entries (one per worker) of one node_name into a count', () => {
    const workers: WorkerGroup[] = [
      { num_cpus: 2, node_name: 'CPU Worker' },
      { num_cpus: 2, node_name: 'CPU Worker' },
      { num_cpus: 2, node_name: 'CPU Worker' },
      { num_gpus: 1, node_name: 'gpu' },
    ];
    expect(toLocalSpec({ num_cpus: 1 }, workers)).toEqual({
      head: { num_cpus: 1 },
      workers: [
        { nodeType: 'cpu-worker', count: 3, resources: { num_cpus: 2 } },
        { nodeType: 'gpu', count: 1, resources: { num_gpus: 1 } },
      ],
    });
  });

  it('defaults to one worker of type "worker", and merges explicit counts with single entries', () => {
    expect(toLocalSpec({}, [{ num_cpus: 1 }, { num_cpus: 1 }])).toEqual({
      head: {},
      workers: [{ nodeType: 'worker', count: 2, resources: { num_cpus: 1 } }],
    });
    expect(toLocalSpec({}, [{ node_type: 'cpu', count: 2 }, { node_name: 'cpu' }]).workers).toEqual([
      { nodeType: 'cpu', count: 3, resources: {} },
    ]);
    expect(toLocalSpec({ num_cpus: 4 })).toEqual({ head: { num_cpus: 4 }, workers: [] });
  });

  it('turns any node_name into a valid node type', () => {
    const spec = toLocalSpec({}, [{ node_name: '123 Fancy_GPU node!!' }, { node_name: '!!!' }]);
    expect(spec.workers.map((w) => w.nodeType)).toEqual(['fancy-gpu-node', 'worker']);
  });

  it('refuses two groups of one node type with different resources', () => {
    expect(() =>
      toLocalSpec({}, [
        { node_type: 'cpu', num_cpus: 1 },
        { node_type: 'cpu', num_cpus: 2 },
      ]),
    ).toThrow(/two groups of node_type cpu with different resources/);
  });

  it('keeps the total number of workers (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record(
            {
              node_name: fc.constantFrom('a', 'b', 'Worker 1', 'worker'),
              node_type: fc.constantFrom('cpu', 'gpu'),
              count: fc.integer({ min: 0, max: 4 }),
            },
            { requiredKeys: [] },
          ),
          { maxLength: 12 },
        ),
        (workers) => {
          const spec = toLocalSpec({}, workers);
          const total = workers.reduce((n, w) => n + (w.count ?? 1), 0);
          expect(spec.workers.reduce((n, w) => n + w.count, 0)).toBe(total);
          expect(new Set(spec.workers.map((w) => w.nodeType)).size).toBe(spec.workers.length);
          for (const w of spec.workers) {
            expect(w.nodeType).toMatch(/^[a-z][a-z0-9-]{0,30}$/);
            expect(w.resources).not.toHaveProperty('node_name');
            expect(w.resources).not.toHaveProperty('count');
          }
        },
      ),
    );
  });
});
