/** The Kubernetes operations: type → { input; output }. */
import type {
  ConnectKubernetesInput,
  ConnectKubernetesOutput,
  KubernetesInfoInput,
  KubernetesInfoOutput,
  ListKubernetesInput,
  ListKubernetesOutput,
} from '../tools/kubernetes.js';

export interface KubernetesOperations {
  /** `fix`: what to do when the kubeconfig has no contexts. */
  'kubernetes.list': { input: ListKubernetesInput; output: ListKubernetesOutput & { fix?: string } };
  'kubernetes.connect': { input: ConnectKubernetesInput; output: ConnectKubernetesOutput };
  'kubernetes.info': { input: KubernetesInfoInput; output: KubernetesInfoOutput };
}
