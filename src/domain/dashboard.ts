/**
 * Where a Ray dashboard is and whose it is. A dashboard behind a Kubernetes API server's service
 * proxy is reached with that connection's client only; what is learnt about a dashboard (its auth
 * mode) is kept for its owner (one cluster actor instance), never for a URL that another cluster
 * may reuse.
 */
export interface DashboardTarget {
  /** http://127.0.0.1:PORT, or the API server's service-proxy URL of the head service. */
  url: string;
  /** Set when the dashboard is behind a Kubernetes API server: requests use that connection's client. */
  connectionId?: string;
  /** The cluster actor instance the dashboard belongs to (`<cluster id>@<created at ms>`). */
  owner: string;
}

/** The owner of the dashboard of one cluster actor instance: `<cluster id>@<created at ms>`. */
export const dashboardOwner = (clusterId: string, createdAt: number): string => `${clusterId}@${createdAt}`;
