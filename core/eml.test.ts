import { decodeQuotedPrintable, quotedPrintable, readEml, textToHtml, toEml } from './eml';

describe('.eml', () => {
  const text = `All 3 images processed.\n\nRun        local-1\ne.g. "photos/${'é'.repeat(600)}.jpg"\nunicode: café 写真, tabs\tand = signs, trailing space \n`;
  const eml = toEml({ from: 'nightshift <nightshift@localhost>', to: ['operator@nightshift.local'], subject: 'nightshift 2026-11-22 02:00 UTC: 3 images, 0 failed, 1 min', text, date: new Date('2026-11-22T02:41:00Z'), messageId: 'local-1@nightshift' });

  it('has the headers a mail client needs, CRLF line ends and no line over 998 octets', () => {
    const [head] = eml.split('\r\n\r\n');
    expect(head!.split('\r\n')).toEqual([
      'From: nightshift <nightshift@localhost>',
      'To: operator@nightshift.local',
      'Subject: nightshift 2026-11-22 02:00 UTC: 3 images, 0 failed, 1 min',
      'Date: Sun, 22 Nov 2026 02:41:00 +0000',
      'Message-ID: <local-1@nightshift>',
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: quoted-printable',
    ]);
    expect(eml.replace(/\r\n/g, '')).not.toContain('\n');
    for (const line of eml.split('\r\n')) expect(Buffer.byteLength(line)).toBeLessThanOrEqual(78);
  });

  it('round-trips the body exactly', () => {
    expect(decodeQuotedPrintable(eml.split('\r\n\r\n').slice(1).join('\r\n\r\n').replace(/\r\n$/, ''))).toBe(text);
    expect(decodeQuotedPrintable(quotedPrintable('a=b'))).toBe('a=b');
  });

  describe('with an HTML part', () => {
    const html = textToHtml(text, 'subject <3');
    const multi = toEml({ from: 'nightshift <nightshift@localhost>', to: ['operator@nightshift.local'], subject: 'nightshift: 3 images', text, html, date: new Date('2026-11-22T02:41:00Z'), messageId: 'local-2@nightshift' });

    it('is multipart/alternative, plain text first, each part decoding to what was given', () => {
      const boundary = /Content-Type: multipart\/alternative; boundary="([^"]+)"/.exec(multi)![1]!;
      const parts = multi.split(`--${boundary}`);
      expect(parts).toHaveLength(4); // preamble, text, html, closing "--"
      expect(parts[3]).toBe('--\r\n');
      const decode = (part: string) => {
        const [head, ...body] = part.replace(/^\r\n/, '').split('\r\n\r\n');
        return { head: head!.split('\r\n'), body: decodeQuotedPrintable(body.join('\r\n\r\n').replace(/\r\n$/, '')) };
      };
      expect(decode(parts[1]!)).toEqual({ head: ['Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: quoted-printable'], body: text });
      expect(decode(parts[2]!)).toEqual({ head: ['Content-Type: text/html; charset=utf-8', 'Content-Transfer-Encoding: quoted-printable'], body: html });
      for (const line of multi.split('\r\n')) expect(Buffer.byteLength(line)).toBeLessThanOrEqual(78);
      expect(readEml(multi)).toMatchObject({ text, html, headers: { subject: 'nightshift: 3 images', 'mime-version': '1.0' } });
      expect(readEml(eml)).toMatchObject({ text, headers: { 'content-type': 'text/plain; charset=utf-8' } });
    });

    it('shows the same lines, escaped, with the first as the headline and links clickable', () => {
      const page = textToHtml('3 failed, see below.\nReport     https://console.aws.amazon.com/s3/x?a=1&b=2\nkey <script>', 'x');
      expect(page).toContain('<p style="font-size:16px;font-weight:600">3 failed, see below.</p>');
      expect(page).toContain('Report     <a href="https://console.aws.amazon.com/s3/x?a=1&amp;b=2">https://console.aws.amazon.com/s3/x?a=1&amp;b=2</a>');
      expect(page).toContain('key &lt;script&gt;');
      expect(page).not.toContain('<script>');
    });
  });
});
