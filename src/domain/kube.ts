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
export type KubeTokenSource = (target: CloudKubeTarget, signal?: AbortSignal) => Promise<string>;

/** The connection id a target gets: the context name, or `gke:<project>/<location>/<name>`. */
export function connectionIdOf(target: KubeTarget): string {
  if (target.kind === 'kubeconfig') return target.context;
  return target.provider === 'gke'
    ? `gke:${target.project}/${target.location}/${target.cluster}`
    : `eks:${target.location}/${target.cluster}`;
}
