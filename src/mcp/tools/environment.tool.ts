import { z } from 'zod';
import { ENVIRONMENT_SECTIONS, EnvironmentReportSchema } from '../../domain/environment.js';
import { RayMcpError } from '../../domain/errors.js';
import { defineTool } from './tool.js';

export const checkEnvironment = defineTool({
  name: 'check_environment',
  title: 'Check environment',
  description:
    'Reports what this machine can run with ray-mcp: Node, Python and Ray versions and paths, whether a Ray ' +
    'dashboard auth token is present, kubectl, kubeconfig files and contexts (with the current one), and GCP/AWS ' +
    'credentials (kinds and names only, never secrets). Every missing part comes with a one-line fix in `fixes`. ' +
    'Call it first when a Ray, Kubernetes or cloud tool fails for a setup reason.',
  input: z
    .object({
      sections: z
        .array(z.enum(ENVIRONMENT_SECTIONS))
        .min(1)
        .optional()
        .describe(`Only these parts of the report (default: all of ${ENVIRONMENT_SECTIONS.join(', ')})`),
    })
    .strict(),
  output: EnvironmentReportSchema,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler({ sections }, { system, signal }) {
    const environment = system.environment;
    if (!environment) {
      throw new RayMcpError(
        'shutting_down',
        'The environment actor is not running.',
        'Restart the MCP server.',
      );
    }
    const snapshot = await system.ask(environment, { type: 'env.check' }, { signal });
    const report = snapshot.context.report!;
    const wanted = new Set(sections ?? ENVIRONMENT_SECTIONS);
    const structured = {
      ...report,
      node: wanted.has('node') ? report.node : undefined,
      python: wanted.has('python') ? report.python : undefined,
      ray: wanted.has('ray') ? report.ray : undefined,
      kubernetes: wanted.has('kubernetes') ? report.kubernetes : undefined,
      cloud: wanted.has('cloud') ? report.cloud : undefined,
    };
    const r = report.ready;
    const text = [
      `Ray ${report.ray?.found ? report.ray.version : 'missing'}`,
      `local clusters ${r.localRay ? 'ready' : 'not ready'}`,
      `kubernetes ${report.kubernetes?.currentContext ? `context ${report.kubernetes.currentContext}` : 'no context'}`,
      `gcp ${r.gcp ? 'credentials found' : 'no credentials'}`,
      `aws ${r.aws ? 'ready' : 'not ready'}`,
    ].join('; ');
    const fixes = report.fixes.length ? ` ${report.fixes.length} part(s) need a fix; see fixes.` : '';
    return { structured, text: `${text}.${fixes}` };
  },
});
