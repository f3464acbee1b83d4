/**
 * Which cloud credentials this machine has, from files and settings alone: no network, no
 * metadata server, so it never hangs. Only kinds, names and regions leave this module.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config.js';

export interface GcpCredentialsSummary {
  credentials: 'service_account_file' | 'application_default' | 'none';
  credentialType?: string;
  project?: string;
  file?: string;
  error?: string;
}

export async function detectGcpCredentials(gcp: Config['gcp']): Promise<GcpCredentialsSummary> {
  const candidates: [GcpCredentialsSummary['credentials'], string][] = [];
  if (gcp.credentialsFile) candidates.push(['service_account_file', gcp.credentialsFile]);
  candidates.push(['application_default', join(gcp.gcloudConfigDir, 'application_default_credentials.json')]);
  for (const [kind, file] of candidates) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      if (kind === 'service_account_file') {
        return {
          credentials: 'none',
          project: gcp.project,
          file,
          error: `GOOGLE_APPLICATION_CREDENTIALS points at ${file}, which cannot be read`,
        };
      }
      continue;
    }
    try {
      const json = JSON.parse(text) as Record<string, unknown>;
      const str = (k: string) => (typeof json[k] === 'string' ? (json[k] as string) : undefined);
      return {
        credentials: kind,
        credentialType: str('type'),
        project: gcp.project ?? str('project_id') ?? str('quota_project_id'),
        file,
      };
    } catch {
      return { credentials: 'none', project: gcp.project, file, error: `${file} is not valid JSON` };
    }
  }
  return { credentials: 'none', project: gcp.project };
}

type ParsedIniData = Record<string, Record<string, string | undefined> | undefined>;

export interface AwsCredentialsSummary {
  credentials: 'environment' | 'profile' | 'none';
  profiles: string[];
  profile?: string;
  region?: string;
}

export async function detectAwsCredentials(aws: Config['aws']): Promise<AwsCredentialsSummary> {
  const { loadSharedConfigFiles } = await import('@smithy/shared-ini-file-loader');
  const files = await loadSharedConfigFiles({
    filepath: aws.sharedCredentialsFile,
    configFilepath: aws.configFile,
    ignoreCache: true,
  }).catch(() => ({ configFile: {} as ParsedIniData, credentialsFile: {} as ParsedIniData }));
  const profiles = [
    ...new Set([...Object.keys(files.credentialsFile), ...Object.keys(files.configFile)]),
  ].sort();
  const wanted = aws.profile ?? 'default';
  const profileData: Record<string, string | undefined> = {
    ...files.configFile[wanted],
    ...files.credentialsFile[wanted],
  };
  const profileUsable = profiles.includes(wanted);
  const region = aws.region ?? profileData.region;
  return {
    credentials: aws.accessKeyInEnv ? 'environment' : profileUsable ? 'profile' : 'none',
    profiles: profiles.slice(0, 50),
    profile: profileUsable ? wanted : aws.profile,
    region,
  };
}
