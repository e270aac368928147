// PLACEHOLDER (infra, issue 28): the image records' API handler is being written elsewhere and
// replaces this file. It exists only so that the stack (infra/images-api.ts) can bundle an entry.
export const handler = async (): Promise<{ statusCode: number; headers: Record<string, string>; body: string }> => ({
  statusCode: 501,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ error: { code: 'not-implemented', message: 'The image records API is not built yet.' } }),
});
