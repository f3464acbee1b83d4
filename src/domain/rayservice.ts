/**
 * KubeRay RayServices as ray-mcp sees them, pure: the manifest it applies (serveConfigV2 from the
 * same application config the local Serve path takes, rayClusterConfig from the same spec as
 * init_ray_cluster's RayCluster), the compact summary of what the API server says (active and
 * pending cluster, upgrade in progress, Serve application statuses), and the diff between an
 * object and what a server-side apply would make of it.
 */
import {
  isProtectedObject,
  type KubeRayClusterSpec,
  MANAGED_BY,
  RAY_API,
  rayClusterManifest,
} from './kuberay.js';
import { type ServeAppConfig, untrustedText } from './serve.js';
import { rayServiceState } from './signatures.js';

export interface RayServiceAppStatus {
  name: string;
  status: string;
  message?: string;
  /** Deployment name → status (HEALTHY, UPDATING, UNHEALTHY, ...). */
  deployments: Record<string, string>;
}

export interface RayServiceSide {
  cluster?: string;
  apps: RayServiceAppStatus[];
}

export interface RayServiceSummary {
  namespace: string;
  name: string;
  uid: string;
  generation: number;
  observedGeneration?: number;
  createdAt?: string;
  managedByUs: boolean;
  /** Labelled or annotated ray-mcp/protected=true: delete refuses. */
  protected?: boolean;
  /** KubeRay's serviceStatus ("Running" once ready). */
  serviceStatus?: string;
  /** Condition Ready is True. */
  ready: boolean;
  /** Condition UpgradeInProgress is True: a pending cluster is being prepared to replace the active one. */
  upgradeInProgress: boolean;
  active: RayServiceSide;
  pending: RayServiceSide;
  serveEndpoints: number;
  conditions: { type: string; status: string; reason?: string; message?: string }[];
  /** The applications its spec asks for (from serveConfigV2). */
  specApps: string[];
  deleting: boolean;
}

// biome-ignore lint/suspicious/noExplicitAny: raw API objects
type Obj = any;

function side(s: Obj): RayServiceSide {
  const apps = Object.entries((s?.applicationStatuses ?? {}) as Record<string, Obj>)
    .slice(0, 20)
    .map(([name, a]) => ({
      name,
      status: String(a?.status ?? ''),
      message: untrustedText(a?.message, 300),
      deployments: Object.fromEntries(
        Object.entries((a?.serveDeploymentStatuses ?? {}) as Record<string, Obj>)
          .slice(0, 20)
          .map(([d, v]) => [d, String(v?.status ?? '')]),
      ),
    }));
  return { cluster: s?.rayClusterName || undefined, apps };
}

/** The application names of a serveConfigV2 (JSON or simple YAML); [] when it cannot be read. */
export function serveConfigApps(text: unknown): string[] {
  if (typeof text !== 'string' || !text) return [];
  try {
    const parsed = JSON.parse(text) as { applications?: { name?: unknown }[] };
    return (parsed.applications ?? []).map((a) => String(a.name ?? '')).filter(Boolean);
  } catch {
    return [...text.matchAll(/^\s*-?\s*name:\s*["']?([\w.-]+)/gm)].map((m) => m[1]!).slice(0, 20);
  }
}

export function summarizeRayService(o: Obj): RayServiceSummary {
  const status = o.status ?? {};
  const conditions = ((status.conditions ?? []) as Obj[]).map((c) => ({
    type: String(c.type),
    status: String(c.status),
    reason: c.reason || undefined,
    message: c.message ? untrustedText(String(c.message), 300) : undefined,
  }));
  const isTrue = (t: string) => conditions.some((c) => c.type === t && c.status === 'True');
  return {
    namespace: o.metadata.namespace,
    name: o.metadata.name,
    uid: o.metadata.uid,
    generation: o.metadata.generation ?? 0,
    observedGeneration: status.observedGeneration,
    createdAt: o.metadata.creationTimestamp,
    managedByUs: o.metadata.labels?.[MANAGED_BY.key] === MANAGED_BY.value,
    protected: isProtectedObject(o),
    serviceStatus: status.serviceStatus || undefined,
    ready: isTrue('Ready'),
    upgradeInProgress: isTrue('UpgradeInProgress'),
    active: side(status.activeServiceStatus),
    pending: side(status.pendingServiceStatus),
    serveEndpoints: status.numServeEndpoints ?? 0,
    conditions,
    specApps: serveConfigApps(o.spec?.serveConfigV2),
    deleting: Boolean(o.metadata.deletionTimestamp),
  };
}

export { rayServiceState };

/** The RayService manifest for server-side apply: one Serve application on a cluster of its own. */
export function rayServiceManifest(input: {
  name: string;
  namespace: string;
  apps: ServeAppConfig[];
  cluster: KubeRayClusterSpec;
}) {
  const labels = { [MANAGED_BY.key]: MANAGED_BY.value };
  const { spec: rayClusterConfig } = rayClusterManifest(input.cluster);
  // Serve's proxy on the head: the port KubeRay's serve service points at.
  for (const c of rayClusterConfig.headGroupSpec.template.spec.containers)
    c.ports?.push({ containerPort: 8000, name: 'serve' });
  return {
    apiVersion: RAY_API,
    kind: 'RayService',
    metadata: { name: input.name, namespace: input.namespace, labels },
    spec: {
      // JSON is YAML: KubeRay reads it as the Serve config file.
      serveConfigV2: JSON.stringify({ applications: input.apps }),
      rayClusterConfig,
    },
  };
}

/** What an apply did (or, dry, would do). */
export interface RayServiceApplyResult {
  created: boolean;
  /** False: the object already is what the manifest says; nothing was sent. */
  changed: boolean;
  diff: SpecChange[];
  /** The object after the apply (dry run: as it would be). */
  summary?: RayServiceSummary;
}

export interface SpecChange {
  path: string;
  before?: string;
  after?: string;
}

export const MAX_DIFF = 40;
const MAX_VALUE = 200;

const show = (v: unknown): string | undefined => {
  if (v === undefined) return undefined;
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > MAX_VALUE ? `${s.slice(0, MAX_VALUE)}…` : s;
};

/** serveConfigV2 as a value, so a change shows as the field that changed, not the whole string. */
function comparable(o: Obj): Obj {
  const spec = o?.spec ? { ...o.spec } : undefined;
  if (spec && typeof spec.serveConfigV2 === 'string') {
    try {
      spec.serveConfigV2 = JSON.parse(spec.serveConfigV2);
    } catch {}
  }
  return {
    metadata: { labels: o?.metadata?.labels ?? {}, annotations: o?.metadata?.annotations ?? {} },
    spec,
  };
}

const isEmpty = (v: unknown) =>
  v === undefined ||
  v === null ||
  (Array.isArray(v) ? v.length === 0 : typeof v === 'object' && Object.keys(v as object).length === 0);

/**
 * What would change from `before` to `after` (labels, annotations, spec; status and bookkeeping
 * left out), leaf by leaf, at most MAX_DIFF entries. Empty: the apply changes nothing.
 */
export function objectDiff(before: Obj, after: Obj): SpecChange[] {
  const out: SpecChange[] = [];
  const walk = (a: unknown, b: unknown, path: string) => {
    if (out.length >= MAX_DIFF) return;
    if (JSON.stringify(a) === JSON.stringify(b)) return;
    // Absent and empty mean the same to the API server (omitempty): the operator writes `scaleStrategy: {}`.
    if (isEmpty(a) && isEmpty(b)) return;
    const bothObjects =
      a !== null &&
      b !== null &&
      typeof a === 'object' &&
      typeof b === 'object' &&
      Array.isArray(a) === Array.isArray(b);
    if (bothObjects) {
      if (Array.isArray(a) && Array.isArray(b)) {
        for (let i = 0; i < Math.max(a.length, b.length); i++) walk(a[i], b[i], `${path}[${i}]`);
        return;
      }
      const keys = [...new Set([...Object.keys(a as object), ...Object.keys(b as object)])].sort();
      for (const k of keys)
        walk((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], path ? `${path}.${k}` : k);
      return;
    }
    out.push({ path, before: show(a), after: show(b) });
  };
  walk(comparable(before), comparable(after), '');
  return out;
}
