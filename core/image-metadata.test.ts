import { parsePipelineConfig } from './config';
import { keptMetadata, parseFocalPoint, readExif } from './image-metadata';

const buckets = { corpus: 'aaa', renditions: 'bbb', backup: 'ccc', work: 'ddd' };

describe('the rendering policies in configuration', () => {
  it('default to Display P3 for wide gamut, rights kept, animation within 50 MP of frames', () => {
    expect(parsePipelineConfig({ buckets }).resize).toMatchObject({ colour: 'auto', metadata: ['rights'], animated: 'animate', maxAnimatedPixels: 50_000_000 });
  });

  it.each([
    [{ resize: { colour: 'wide' } }, /config\.resize\.colour.*"wide"/],
    [{ resize: { metadata: ['gps'] } }, /config\.resize\.metadata/],
    [{ resize: { metadata: [] } }, /config\.resize\.metadata/],
    [{ resize: { animated: 'loop' } }, /config\.resize\.animated.*"loop"/],
    [{ presets: [{ name: 'sq', width: 100, height: 100, fit: 'cover', formats: ['jpeg'], position: 'middle' }] }, /config\.presets\[0\]\.position.*"middle"/],
    [{ presets: [{ name: 'sq', width: 100, formats: ['avif'], formatQuality: { gif: 50 } }] }, /config\.presets\[0\]\.formatQuality/],
  ])('refuse %j naming the field and the value', (input, message) => {
    expect(() => parsePipelineConfig({ buckets, ...input })).toThrow(message);
  });
});

describe('parseFocalPoint', () => {
  it.each([
    ['0.42,0.31', { x: 0.42, y: 0.31 }],
    [' 0 , 1 ', { x: 0, y: 1 }],
    ['.5,.5', { x: 0.5, y: 0.5 }],
  ])('reads %j', (value, point) => expect(parseFocalPoint(value)).toEqual(point));

  it.each(['1.2,0.5', '-0.1,0.5', '0.5', 'left', '0.5;0.5', 'NaN,NaN', ''])('refuses %j with a sentence', (value) => {
    expect(parseFocalPoint(value)).toEqual({ error: expect.stringContaining('is not "x,y" with each from 0 to 1') });
  });
});

describe('readExif', () => {
  it('never throws on a truncated or hostile block, and keeps nothing from one', () => {
    const hostile = [Buffer.from('Exif\0\0II*\0\x08\0\0\0\xff\xff', 'latin1'), Buffer.from('Exif\0\0MM\0*\0\0\0\x08', 'latin1'), Buffer.alloc(3)];
    for (const bytes of hostile) {
      expect(() => readExif(bytes)).not.toThrow();
      expect(keptMetadata({ exif: bytes }, ['rights', 'location'])).toEqual({ exif: {} });
    }
  });
});
