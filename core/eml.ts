/**
 * An email as an RFC 5322 message (.eml): what a local run writes to .nightshift/outbox/ so the
 * email can be opened in any mail client. nodemailer's MailComposer writes the MIME: bodies in
 * quoted-printable UTF-8, so no line exceeds the 998-octet limit however long a key is, and a
 * non-ASCII subject as an RFC 2047 encoded word. With an HTML part the message is
 * multipart/alternative: the plain text first (the contract: SNS email is plain text), then the
 * same content as simple HTML for clients that prefer it.
 */
import MailComposer from 'nodemailer/lib/mail-composer';
import { escapeHtml } from './report-html';

export interface EmlMessage {
  readonly from: string;
  readonly to: readonly string[];
  readonly subject: string;
  readonly text: string;
  /** The same content as HTML (see textToHtml). */
  readonly html?: string;
  readonly date: Date;
  /** Without the angle brackets. */
  readonly messageId: string;
}

export async function toEml(m: EmlMessage): Promise<string> {
  const mail = new MailComposer({
    from: m.from,
    to: [...m.to],
    subject: m.subject,
    text: m.text,
    ...(m.html === undefined ? {} : { html: m.html }),
    date: m.date,
    messageId: `<${m.messageId}>`,
    textEncoding: 'quoted-printable',
    // CRLF everywhere, as RFC 5322 requires: without it, the body keeps the text's own newlines.
    newline: 'windows',
  });
  return (await mail.compile().build()).toString('utf8');
}

/** The plain text as HTML: the same lines (columns stay aligned in a monospace block) with links made clickable. */
export function textToHtml(text: string, title: string): string {
  const [first = '', ...rest] = text.split('\n');
  const linked = (line: string) => escapeHtml(line).replace(/https?:\/\/[^\s<]+/g, (url) => `<a href="${url}">${url}</a>`);
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body style="font:14px/1.5 -apple-system,'Segoe UI',sans-serif;color:#1f2328">
<p style="font-size:16px;font-weight:600">${linked(first)}</p>
<pre style="font:13px/1.45 ui-monospace,Menlo,Consolas,monospace;white-space:pre-wrap;word-break:break-all">${rest.map(linked).join('\n')}</pre>
</body></html>`;
}
