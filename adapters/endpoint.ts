/**
 * An S3- or DynamoDB-compatible endpoint given instead of AWS's (the embedded servers, or any
 * other): its address, and for a server on loopback, which accepts any key pair, a fixed one when
 * the environment has none. A real endpoint gets the default credential chain.
 */
export function endpointSettings(endpoint: string, env: NodeJS.ProcessEnv): { endpoint: string; credentials?: { accessKeyId: string; secretAccessKey: string } } {
  if (env.AWS_ACCESS_KEY_ID || !isLoopback(endpoint)) return { endpoint };
  return { endpoint, credentials: { accessKeyId: 'nightshift', secretAccessKey: 'nightshift' } };
}

function isLoopback(endpoint: string): boolean {
  try {
    const host = new URL(endpoint).hostname;
    return host === 'localhost' || host === '[::1]' || host.startsWith('127.');
  } catch {
    return false;
  }
}
