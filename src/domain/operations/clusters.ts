/** The cluster operations (and the environment check): type → { input; output }. */
import type { ClusterView } from '../cluster.js';
import type { EnvironmentReport, EnvironmentSection } from '../environment.js';
import type {
  InitClusterInput,
  InspectClusterOutput,
  ListClustersInput,
  ListClustersOutput,
  ScaleClusterInput,
} from '../tools/clusters.js';

export interface ClusterOperations {
  'environment.check': { input: { sections?: EnvironmentSection[] }; output: EnvironmentReport };
  /** Start a local or KubeRay cluster, or connect to one by address; answered once it is usable. */
  'cluster.init': { input: InitClusterInput; output: ClusterView };
  /** `deleted`: a RayCluster was deleted (not just untracked); `already`: it was stopped before this call. */
  'cluster.stop': {
    input: { cluster_id?: string };
    output: { view: ClusterView; deleted: boolean; already?: boolean };
  };
  'cluster.inspect': { input: { cluster_id?: string }; output: InspectClusterOutput };
  'cluster.list': { input: ListClustersInput; output: ListClustersOutput };
  /** `group`: the KubeRay worker group scaled; `nodeType`: the local node type. */
  'cluster.scale': {
    input: ScaleClusterInput;
    output: { view: ClusterView; group?: string; nodeType?: string };
  };
}
