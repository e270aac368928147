/** Reads an .eml back with mailparser (a parser other than the writer): the raw headers, the decoded subject, and the decoded text and HTML parts. */
import { simpleParser } from 'mailparser';

export async function readEml(eml: string): Promise<{ headers: Record<string, string>; subject: string; text: string; html?: string }> {
  const parsed = await simpleParser(eml, { skipHtmlToText: true, skipTextToHtml: true, skipTextLinks: true, skipImageLinks: true });
  const headers = Object.fromEntries(parsed.headerLines.map((h) => [h.key, h.line.slice(h.line.indexOf(':') + 1).trim()]));
  return { headers, subject: parsed.subject ?? '', text: parsed.text ?? '', ...(typeof parsed.html === 'string' ? { html: parsed.html } : {}) };
}
