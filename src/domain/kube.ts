import { z } from 'zod';

/**
 * What a Kubernetes connection points at: a context of the user's kubeconfig files, or a managed
 * cluster (GKE, EKS) whose kubeconfig ray-mcp builds in memory from the cloud API's endpoint and
 * CA, authenticating with a short-lived token the cloud credentials mint per request.
 */
export type CloudProvider = 'gke' | 'eks';

export interface KubeconfigTarget {
  kind: 'kubeconfig';
  context: string;
}

export interface CloudKubeTarget {
  kind: 'cloud';
  provider: CloudProvider;
  /** The cluster's name in its cloud. */
  cluster: string;
  /** GKE: zone or region; EKS: region. */
  location: string;
  /** GKE project. */
  project?: string;
  /** https URL of the API server. */
  server: string;
  /** base64 PEM of the cluster CA, as the cloud API returns it. */
  caData: string;
}

export type KubeTarget = KubeconfigTarget | CloudKubeTarget;

/** A bearer token for a managed cluster's API server (GKE OAuth token, EKS presigned STS token). */
export interface KubeToken {
  token: string;
  /** Use it until then (ms since the epoch); absent: ask the source for every request. */
  expiresAt?: number;
  /** False once the cloud session that minted it is gone or replaced. */
  valid?: () => boolean;
}

/** Mints tokens; the connection's client keeps one for as long as it may be used. */
export type KubeTokenSource = (target: CloudKubeTarget, signal?: AbortSignal) => Promise<KubeToken>;

/** The connection id a target gets: the context name, or `gke:<project>/<location>/<name>`. */
export function connectionIdOf(target: KubeTarget): string {
  if (target.kind === 'kubeconfig') return target.context;
  return target.provider === 'gke'
    ? `gke:${target.project}/${target.location}/${target.cluster}`
    : `eks:${target.location}/${target.cluster}`;
}

/** What tools show of a Kubernetes connection. */
export const ConnectionViewSchema = z.object({
  connection: z.string().describe('Connection id: the kubeconfig context, or gke:/eks: plus the cluster'),
  status: z.enum(['connecting', 'connected', 'lost', 'reconnecting', 'failed', 'disconnected']),
  context: z.string().optional(),
  server: z.string().optional(),
  kubernetes_version: z.string().optional(),
  namespace: z.string().optional().describe('The default namespace of the context'),
  cluster_wide: z.boolean().optional().describe('The user may list RayClusters in every namespace'),
  kuberay_crds: z.boolean().optional(),
  error: z.object({ message: z.string(), fix: z.string() }).optional(),
  last_watch_error: z.string().optional(),
  watch_errors: z
    .array(z.string())
    .optional()
    .describe(
      'What the watches of the default namespace could not read (connect waits for their first list)',
    ),
});
export type ConnectionView = z.infer<typeof ConnectionViewSchema>;

/**
 * What RBAC refused, from an API server's 403 message (`User "u" cannot get resource "pods" in API
 * group "" in the namespace "ns"`). Only names Kubernetes allows pass, so nothing else of the
 * untrusted text gets out of its quotes. Undefined when the message is not RBAC's.
 */
export function deniedPermission(
  message: string,
): { user: string; verb: string; resource: string; namespace?: string } | undefined {
  const m =
    /User "([\w:.@-]{1,253})" cannot ([a-z]{1,32}) resource "([a-z0-9.-]{1,253}(?:\/[a-z0-9.-]{1,63})?)"(?: in API group "([a-z0-9.-]{0,253})")?(?: in the namespace "([a-z0-9-]{1,63})")?/.exec(
      message,
    );
  if (!m) return undefined;
  return {
    user: m[1]!,
    verb: m[2]!,
    resource: m[4] ? `${m[3]}.${m[4]}` : m[3]!,
    namespace: m[5],
  };
}

/**
 * A 403 of RBAC in words a user can act on: who lacks which verb on what, where (a missing
 * permission, not a ray-mcp error), and for a ServiceAccount how to grant it. Undefined when the
 * message is not RBAC's (an admission policy, say).
 */
export function rbacDenial(message: string): { text: string; fix: string } | undefined {
  const d = deniedPermission(message);
  if (!d) return undefined;
  const sa = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(d.user);
  const who = sa ? `ServiceAccount ${sa[1]}/${sa[2]}` : `user ${d.user}`;
  const where = d.namespace ? ` in namespace ${d.namespace}` : ' cluster-wide';
  return {
    text: `Kubernetes RBAC does not let ${who} ${d.verb} ${d.resource}${where} (a missing permission, not a ray-mcp error)`,
    fix: sa
      ? `Work in a namespace the ServiceAccount has rights in (its own is ${sa[1]}), or have a cluster admin grant ${d.verb} on ${d.resource}${where} to it with a Role and RoleBinding (deploy/rbac.yaml lists what ray-mcp needs).`
      : `Use a namespace you have rights in, or ask a cluster admin for a Role(Binding) that grants ${d.verb} on ${d.resource}${where}.`,
  };
}
