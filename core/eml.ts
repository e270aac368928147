/**
 * An email as an RFC 5322 message (.eml): what a local run writes to .nightshift/outbox/ so the
 * email can be opened in any mail client. The body is quoted-printable UTF-8, so no line exceeds
 * the 998-octet limit however long a key is.
 */
export interface EmlMessage {
  readonly from: string;
  readonly to: readonly string[];
  readonly subject: string;
  readonly text: string;
  readonly date: Date;
  readonly messageId: string;
}

export function toEml(m: EmlMessage): string {
  const headers = [
    `From: ${m.from}`,
    `To: ${m.to.join(', ')}`,
    `Subject: ${encodeHeader(m.subject)}`,
    `Date: ${rfc5322Date(m.date)}`,
    `Message-ID: <${m.messageId}>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
  ];
  return `${headers.join('\r\n')}\r\n\r\n${quotedPrintable(m.text)}\r\n`;
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
