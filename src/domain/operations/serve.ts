/** The Ray Serve operations (applications on a local cluster): type → { input; output }. */
import type {
  DeleteServeInput,
  DeleteServeOutput,
  DeployServeInput,
  DeployServeOutput,
  ListServeInput,
  ListServeOutput,
  RayServiceView,
} from '../tools/serve.js';
import type { Followed } from './jobs.js';

export interface ServeOperations {
  /** Deploys or updates one application; answered when it runs, fails, or `wait_seconds` pass. */
  'serve.deploy': { input: DeployServeInput; output: DeployServeOutput };
  'serve.list': { input: ListServeInput; output: ListServeOutput };
  /** Removes one application; the last one shuts Serve down. */
  'serve.delete': { input: DeleteServeInput; output: DeleteServeOutput };
  /** The RayService resource (`context`: the connection id, not URI-encoded). */
  'rayservice.follow': {
    input: { context: string; namespace: string; name: string };
    output: Followed<RayServiceView>;
  };
}
