import type { ChildProcess } from 'node:child_process';
import { startFaultProxy } from './fault-proxy';
import type { JobRun } from './processes';

/**
 * Starts a job against a proxy that holds its multipart part uploads, sends SIGTERM once one is
 * held (the upload is under way), and counts the CreateMultipartUpload and AbortMultipartUpload
 * requests it made (S3 API reference, CreateMultipartUpload and AbortMultipartUpload).
 */
export async function stopDuringPartUpload(target: string, start: (endpoint: string) => { child: ChildProcess; done: Promise<JobRun> }): Promise<{ code: number | null; created: number; aborted: number }> {
  const seen: string[] = [];
  const proxy = await startFaultProxy({ target, rate: 0, hold: (method, path) => (seen.push(`${method} ${path}`), method === 'PUT' && path.includes('partNumber=')) });
  try {
    const { child, done } = start(proxy.endpoint);
    while (proxy.stats.held === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    child.kill('SIGTERM');
    const { code } = await done;
    const created = seen.filter((r) => r.startsWith('POST ') && /[?&]uploads(=|&|$)/.test(r)).length;
    const aborted = seen.filter((r) => r.startsWith('DELETE ') && r.includes('uploadId=')).length;
    return { code, created, aborted };
  } finally {
    proxy.open();
    await proxy.close();
  }
}
