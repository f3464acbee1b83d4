/**
 * The cloud sessions the cloud actors open (one GKE, one EKS) and the bearer tokens minted from
 * them for managed clusters' API servers: a GKE OAuth access token (the session's own;
 * google-auth-library caches it and refreshes it when under 5 minutes are left) or an EKS token
 * from a presigned STS call, valid 15 minutes. An EKS token belongs to the Kubernetes connection
 * that asked for it: its client keeps it 14 minutes (or until this session goes) and drops it
 * when it disconnects.
 */
import type { EksClient } from '../clients/eks.client.js';
import { eksToken } from '../clients/eks-token.js';
import type { GkeClient } from '../clients/gke.client.js';
import type { Config } from '../config.js';
import type { CloudProvider } from '../domain/cloud.js';
import { RayMcpError } from '../domain/errors.js';
import type { CloudKubeTarget, KubeTokenSource } from '../domain/kube.js';
import type { SecretSink } from '../domain/redact.js';

export class CloudTokens {
  private gke?: GkeClient;
  private eks?: EksClient;

  constructor(
    private readonly config: Pick<Config, 'cloud'>,
    /** Tokens minted here and the credentials they come from are registered: never shown. */
    private readonly secrets?: SecretSink,
  ) {}

  /** Keeps the session an authentication opened, closing the one it replaces. */
  setSession(provider: 'gke', client: GkeClient): void;
  setSession(provider: 'eks', client: EksClient): void;
  setSession(provider: CloudProvider, client: GkeClient | EksClient): void {
    if (provider === 'gke') {
      if (this.gke !== client) void this.gke?.close();
      this.gke = client as GkeClient;
    } else {
      if (this.eks !== client) void this.eks?.close();
      this.eks = client as EksClient;
      // Credentials from a profile or SSO are secrets too, from the moment the session has them.
      (client as EksClient)
        .credentials()
        .then((c) => this.secrets?.add(c.accessKeyId, c.secretAccessKey, c.sessionToken))
        .catch(() => {});
    }
  }

  gkeClient(): GkeClient {
    if (!this.gke) throw notConnected('gke');
    return this.gke;
  }

  eksClient(): EksClient {
    if (!this.eks) throw notConnected('eks');
    return this.eks;
  }

  /** Forgets a provider's credentials and every token minted from them. */
  async forget(provider: CloudProvider): Promise<void> {
    if (provider === 'gke') {
      const gke = this.gke;
      this.gke = undefined;
      await gke?.close();
    } else {
      const eks = this.eks;
      this.eks = undefined;
      await eks?.close();
    }
  }

  async closeAll(): Promise<void> {
    await Promise.all([this.forget('gke'), this.forget('eks')]);
  }

  readonly kubeToken: KubeTokenSource = async (target: CloudKubeTarget, signal?: AbortSignal) => {
    if (signal?.aborted) throw new RayMcpError('timeout', 'Cancelled.', 'Send the request again.');
    if (target.provider === 'gke') {
      if (this.config.cloud.gkeAccessToken) return { token: this.config.cloud.gkeAccessToken };
      const token = await this.gkeClient().accessToken();
      this.secrets?.add(token);
      return { token };
    }
    const eks = this.eksClient();
    const credentials = await eks.credentials();
    this.secrets?.add(credentials.accessKeyId, credentials.secretAccessKey, credentials.sessionToken);
    const minted = await eksToken({ cluster: target.cluster, region: target.location, credentials });
    this.secrets?.add(minted.token);
    // Good only while the session that minted it stands: a replaced or forgotten one takes it along.
    return {
      token: minted.token,
      // 14 of its 15 minutes: a request never carries a token about to lapse.
      expiresAt: minted.expiresAt,
      valid: () => this.eks === eks,
    };
  };
}

function notConnected(provider: CloudProvider): RayMcpError {
  return new RayMcpError(
    'unavailable',
    `Not authenticated to ${provider.toUpperCase()}.`,
    `Call authenticate_cloud_provider(provider="${provider}"), then connect_kubernetes_cluster again.`,
  );
}
