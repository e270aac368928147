import { decodeQuotedPrintable, quotedPrintable, toEml } from './eml';

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
});
