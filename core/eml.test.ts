import { readEml } from '../test/support/eml';
import { textToHtml, toEml } from './eml';

describe('.eml', () => {
  const text = `All 3 images processed.\n\nRun        local-1\ne.g. "photos/${'é'.repeat(600)}.jpg"\nunicode: café 写真, tabs\tand = signs, trailing space \n`;
  const message = { from: 'nightshift <nightshift@localhost>', to: ['operator@nightshift.local'], subject: 'nightshift 2026-11-22 02:00 UTC: 3 images, 0 failed, 1 min', text, date: new Date('2026-11-22T02:41:00Z'), messageId: 'local-1@nightshift' };
  let eml: string;
  beforeAll(async () => {
    eml = await toEml(message);
  });

  it('has the headers a mail client needs, CRLF line ends and no line over 78 octets', () => {
    const [head] = eml.split('\r\n\r\n');
    // In the order MailComposer writes them; any order is valid.
    expect(head!.split('\r\n').sort()).toEqual([
      'Content-Type: text/plain; charset=utf-8',
      'From: nightshift <nightshift@localhost>',
      'To: operator@nightshift.local',
      'Subject: nightshift 2026-11-22 02:00 UTC: 3 images, 0 failed, 1 min',
      'Message-ID: <local-1@nightshift>',
      'Content-Transfer-Encoding: quoted-printable',
      'Date: Sun, 22 Nov 2026 02:41:00 +0000',
      'MIME-Version: 1.0',
    ].sort());
    expect(eml.replace(/\r\n/g, '')).not.toContain('\n');
    for (const line of eml.split('\r\n')) expect(Buffer.byteLength(line)).toBeLessThanOrEqual(78);
  });

  it('round-trips the body exactly, read back by another parser', async () => {
    expect((await readEml(eml)).text).toBe(text);
  });

  it('encodes a subject that is not ASCII as an encoded word', async () => {
    const subject = 'nightshift: 3 images — 写真';
    const out = await toEml({ ...message, subject });
    expect(out).toMatch(/\r\nSubject: =\?UTF-8\?[QB]\?/);
    expect((await readEml(out)).headers.subject).not.toBe(subject); // the raw header is encoded…
    const { simpleParser } = await import('mailparser');
    expect((await simpleParser(out)).subject).toBe(subject); // …and decodes to the subject
  });

  describe('with an HTML part', () => {
    const html = textToHtml(text, 'subject <3');
    let multi: string;
    beforeAll(async () => {
      multi = await toEml({ ...message, subject: 'nightshift: 3 images', html, messageId: 'local-2@nightshift' });
    });

    it('is multipart/alternative, plain text first, each part decoding to what was given', async () => {
      const boundary = /Content-Type: multipart\/alternative;\r\n boundary="([^"]+)"/.exec(multi)![1]!;
      const parts = multi.split(`--${boundary}`);
      expect(parts).toHaveLength(4); // preamble, text, html, closing "--"
      expect(parts[1]).toMatch(/^\r\nContent-Type: text\/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n/);
      expect(parts[2]).toMatch(/^\r\nContent-Type: text\/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n/);
      expect(parts[3]).toBe('--\r\n');
      for (const line of multi.split('\r\n')) expect(Buffer.byteLength(line)).toBeLessThanOrEqual(78);
      expect(await readEml(multi)).toMatchObject({ text, html, headers: { subject: 'nightshift: 3 images', 'mime-version': '1.0' } });
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
