/**
 * The EKS token passes the checks aws-iam-authenticator makes: decode the base64url presigned
 * URL and look only at what the authenticator looks at.
 */
import { describe, expect, it } from 'vitest';
import { EKS_TOKEN_PREFIX, EKS_TOKEN_TTL_MS, eksToken } from '../../src/clients/eks-token.js';

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'SECRET-wJalrXUtnFEMI' };

function decode(token: string): URL {
  expect(token.startsWith(EKS_TOKEN_PREFIX)).toBe(true);
  const b64 = token.slice(EKS_TOKEN_PREFIX.length);
  expect(b64).toMatch(/^[A-Za-z0-9_-]+$/); // base64url, no padding
  return new URL(Buffer.from(b64, 'base64url').toString('utf8'));
}

describe('eksToken', () => {
  it('is a presigned STS GetCallerIdentity URL for the region, naming the cluster in a signed header', async () => {
    const now = new Date('2025-11-25T10:00:00Z');
    const { token, expiresAt } = await eksToken({
      cluster: 'ray-prod',
      region: 'eu-west-1',
      credentials,
      now,
    });
    const url = decode(token);
    expect(url.protocol).toBe('https:');
    expect(url.host).toBe('sts.eu-west-1.amazonaws.com');
    expect(url.pathname).toBe('/');
    const params = [...url.searchParams.keys()];
    // Only Action, Version and X-Amz-* parameters are allowed.
    for (const k of params) expect(k === 'Action' || k === 'Version' || k.startsWith('X-Amz-')).toBe(true);
    expect(url.searchParams.get('Action')).toBe('GetCallerIdentity');
    expect(url.searchParams.get('Version')).toBe('2011-06-15');
    expect(url.searchParams.get('X-Amz-Algorithm')).toBe('AWS4-HMAC-SHA256');
    expect(url.searchParams.get('X-Amz-Credential')).toBe('AKIDEXAMPLE/20251125/eu-west-1/sts/aws4_request');
    expect(url.searchParams.get('X-Amz-Date')).toBe('20251125T100000Z');
    const expires = Number(url.searchParams.get('X-Amz-Expires'));
    expect(expires).toBeGreaterThan(0);
    expect(expires).toBeLessThanOrEqual(900);
    const signed = url.searchParams.get('X-Amz-SignedHeaders')!.split(';');
    expect(signed).toContain('x-k8s-aws-id');
    expect(signed).toContain('host');
    expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
    expect(expiresAt - now.getTime()).toBe(EKS_TOKEN_TTL_MS);
  });

  it('carries a session token as X-Amz-Security-Token and never the secret key', async () => {
    const { token } = await eksToken({
      cluster: 'c',
      region: 'us-east-1',
      credentials: { ...credentials, sessionToken: 'SESSION-abc' },
    });
    const url = decode(token);
    expect(url.searchParams.get('X-Amz-Security-Token')).toBe('SESSION-abc');
    expect(url.toString()).not.toContain('SECRET-');
    expect(token).not.toContain('SECRET-');
  });

  it('differs per cluster (the cluster name is signed)', async () => {
    const now = new Date();
    const a = await eksToken({ cluster: 'a', region: 'us-east-1', credentials, now });
    const b = await eksToken({ cluster: 'b', region: 'us-east-1', credentials, now });
    expect(decode(a.token).searchParams.get('X-Amz-Signature')).not.toBe(
      decode(b.token).searchParams.get('X-Amz-Signature'),
    );
  });
});
