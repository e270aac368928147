/**
 * An email as an RFC 5322 message (.eml): what a local run writes to .nightshift/outbox/ so the
 * email can be opened in any mail client. Bodies are quoted-printable UTF-8, so no line exceeds
 * the 998-octet limit however long a key is. With an HTML part the message is
 * multipart/alternative: the plain text first (the contract: SNS email is plain text), then the
 * same content as simple HTML for clients that prefer it.
 */
import { escapeHtml } from './report-html';

export interface EmlMessage {
  readonly from: string;
  readonly to: readonly string[];
  readonly subject: string;
  readonly text: string;
  /** The same content as HTML (see textToHtml). */
  readonly html?: string;
  readonly date: Date;
  readonly messageId: string;
}

export function toEml(m: EmlMessage): string {
  const headers = [`From: ${m.from}`, `To: ${m.to.join(', ')}`, `Subject: ${encodeHeader(m.subject)}`, `Date: ${rfc5322Date(m.date)}`, `Message-ID: <${m.messageId}>`, 'MIME-Version: 1.0'];
  const part = (type: string, body: string) => `Content-Type: ${type}; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n${quotedPrintable(body)}\r\n`;
  if (m.html === undefined) return `${headers.join('\r\n')}\r\n${part('text/plain', m.text)}`;
  // Quoted-printable never produces "=_", so the boundary cannot occur in a body.
  const boundary = `=_nightshift_${m.messageId.replace(/[^A-Za-z0-9]/g, '').slice(0, 40)}`;
  return `${headers.join('\r\n')}\r\nContent-Type: multipart/alternative; boundary="${boundary}"\r\n\r\n--${boundary}\r\n${part('text/plain', m.text)}--${boundary}\r\n${part('text/html', m.html)}--${boundary}--\r\n`;
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

/** `Sun, 22 Nov 2026 02:41:00 +0000` */
export function rfc5322Date(d: Date): string {
  return d.toUTCString().replace('GMT', '+0000');
}

/** Printable ASCII as is; anything else as an RFC 2047 encoded word. */
function encodeHeader(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) ? value : `=?utf-8?B?${Buffer.from(value).toString('base64')}?=`;
}

/** RFC 2045 quoted-printable, soft line breaks at 76 characters, CRLF line ends. */
export function quotedPrintable(text: string): string {
  return text
    .replace(/\r?\n/g, '\n')
    .split('\n')
    .map((line) => {
      let encoded = '';
      for (const byte of Buffer.from(line, 'utf8')) {
        encoded += (byte >= 33 && byte <= 126 && byte !== 61) || byte === 32 ? String.fromCharCode(byte) : `=${byte.toString(16).toUpperCase().padStart(2, '0')}`;
      }
      encoded = encoded.replace(/ $/, '=20');
      const pieces: string[] = [];
      while (encoded.length > 76) {
        let cut = 75;
        const escape = encoded.lastIndexOf('=', cut);
        if (escape > cut - 3) cut = escape; // never split an =XX escape
        pieces.push(`${encoded.slice(0, cut)}=`);
        encoded = encoded.slice(cut);
      }
      pieces.push(encoded);
      return pieces.join('\r\n');
    })
    .join('\r\n');
}

/** Decodes quoted-printable (for tests and readers). */
export function decodeQuotedPrintable(body: string): string {
  const bytes = body.replace(/=\r\n/g, '').replace(/\r\n/g, '\n');
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === '=') {
      out.push(parseInt(bytes.slice(i + 1, i + 3), 16));
      i += 2;
    } else out.push(bytes.charCodeAt(i));
  }
  return Buffer.from(out).toString('utf8');
}

/**
 * Reads back what toEml writes (for tests and readers): the headers, and the decoded text and
 * HTML parts of a single-part or multipart/alternative message.
 */
export function readEml(eml: string): { headers: Record<string, string>; text: string; html?: string } {
  const split = (entity: string) => {
    const at = entity.indexOf('\r\n\r\n');
    const headers: Record<string, string> = {};
    for (const line of entity.slice(0, at).split('\r\n')) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    return { headers, body: entity.slice(at + 4).replace(/\r\n$/, '') };
  };
  const message = split(eml);
  const boundary = /^multipart\/alternative; boundary="([^"]+)"$/.exec(message.headers['content-type'] ?? '')?.[1];
  if (!boundary) return { headers: message.headers, text: decodeQuotedPrintable(message.body) };
  const parts = message.body
    .split(`--${boundary}`)
    .slice(1, -1)
    .map((p) => split(p.replace(/^\r\n/, '')));
  const part = (type: string) => parts.find((p) => p.headers['content-type']?.startsWith(type));
  const html = part('text/html');
  return { headers: message.headers, text: decodeQuotedPrintable(part('text/plain')?.body ?? ''), ...(html ? { html: decodeQuotedPrintable(html.body) } : {}) };
}