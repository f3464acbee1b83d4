import { z } from 'zod';
import { ENVIRONMENT_SECTIONS, EnvironmentReportSchema } from '../../domain/environment.js';
import { defineTool } from './tool.js';

export const checkEnvironment = defineTool({
  name: 'check_environment',
  title: 'Check environment',
  description: 'What this machine has (Python, Ray, kubeconfig, clouds), with a fix for what is missing.',
  input: z
    .object({
      sections: z.array(z.enum(ENVIRONMENT_SECTIONS)).min(1).optional().describe('default: all'),
    })
    .strict(),
  output: EnvironmentReportSchema,
  toolsets: ['local', 'kuberay', 'cloud'],
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(args, { run }) {
    const report = await run('environment.check', args);
    const r = report.ready;
    // Only the sections asked for (the readiness flags are always there).
    const text = [
      report.ray && `Ray ${report.ray.found ? report.ray.version : 'missing'}`,
      `local clusters ${r.localRay ? 'ready' : 'not ready'}`,
      report.kubernetes &&
        `kubernetes ${report.kubernetes.currentContext ? `context ${report.kubernetes.currentContext}` : 'no context'}`,
      `gcp ${r.gcp ? 'credentials found' : 'no credentials'}`,
      `aws ${r.aws ? 'ready' : 'not ready'}`,
    ]
      .filter(Boolean)
      .join('; ');
    const fixes = report.fixes.length ? ` ${report.fixes.length} part(s) need a fix; see fixes.` : '';
    return { structured: report, text: `${text}.${fixes}` };
  },
});
