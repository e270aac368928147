/**
 * CDK writes "Bundling asset <path>..." to process.stderr for each asset it bundles, whatever
 * its caller: a test that synthesizes keeps it, and shows it only with the failure it explains.
 */
export function keepingStderr<T>(fn: () => T): T {
  const write = process.stderr.write;
  let kept = '';
  process.stderr.write = ((chunk: string | Uint8Array) => {
    kept += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  }) as typeof process.stderr.write;
  try {
    return fn();
  } catch (error) {
    if (error instanceof Error && kept) error.message += `\n\nstderr while it ran:\n${kept}`;
    throw error;
  } finally {
    process.stderr.write = write;
  }
}
