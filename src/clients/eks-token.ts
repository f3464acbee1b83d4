/**
 * An EKS bearer token without the aws CLI: a presigned STS GetCallerIdentity URL that names the
 * cluster in the signed `x-k8s-aws-id` header, base64url-encoded behind `k8s-aws-v1.`. The API
 * server's authenticator calls that URL to learn who we are. Tokens are valid for 15 minutes
 * from X-Amz-Date whatever X-Amz-Expires says; callers cache them for 14.
 */

/** AWS credentials as the SDK's providers return them. Secrets: never logged or returned. */
export interface AwsCredentialIdentity {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

export const EKS_TOKEN_PREFIX = 'k8s-aws-v1.';
/** Like `aws eks get-token`: the URL itself need not live long, the authenticator allows 15 min. */
export const PRESIGN_EXPIRES_SECONDS = 60;
export const EKS_TOKEN_TTL_MS = 14 * 60 * 1000;

export interface EksTokenRequest {
  cluster: string;
  region: string;
  credentials: AwsCredentialIdentity;
  /** For tests: the signing time. */
  now?: Date;
}

export async function eksToken(req: EksTokenRequest): Promise<{ token: string; expiresAt: number }> {
  const [{ SignatureV4 }, { HttpRequest }, { Sha256 }, { formatUrl }] = await Promise.all([
    import('@smithy/signature-v4'),
    import('@smithy/protocol-http'),
    import('@aws-crypto/sha256-js'),
    import('@aws-sdk/util-format-url'),
  ]);
  const hostname = `sts.${req.region}.amazonaws.com`;
  const request = new HttpRequest({
    method: 'GET',
    protocol: 'https:',
    hostname,
    path: '/',
    query: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
    headers: { host: hostname, 'x-k8s-aws-id': req.cluster },
  });
  const signer = new SignatureV4({
    service: 'sts',
    region: req.region,
    credentials: req.credentials,
    sha256: Sha256,
  });
  const signingDate = req.now ?? new Date();
  const signed = await signer.presign(request, { expiresIn: PRESIGN_EXPIRES_SECONDS, signingDate });
  const url = formatUrl(signed);
  return {
    token: EKS_TOKEN_PREFIX + Buffer.from(url, 'utf8').toString('base64url'),
    expiresAt: signingDate.getTime() + EKS_TOKEN_TTL_MS,
  };
}
