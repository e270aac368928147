/**
 * What a rendition keeps of its source's embedded metadata and colour profile, decided from the
 * bytes the decoder hands over (EXIF as a TIFF structure, XMP as text, IPTC-IIM datasets, an ICC
 * profile). Pure: adapters/image/render.ts writes the result with sharp's withExif / withXmp,
 * which replace the source's metadata instead of copying it wholesale (keepExif would copy GPS).
 */
import type { MetadataGroup } from './config';

/** sharp's withExif shape: libvips' IFD names (IFD0 the image, IFD2 Exif, IFD3 GPS) and tag names. */
export type ExifFields = Partial<Record<'IFD0' | 'IFD2' | 'IFD3', Record<string, string>>>;

type Ifd = 'IFD0' | 'IFD2' | 'IFD3';

/** The EXIF tags each metadata group keeps (EXIF 2.32 tag numbers); anything else is dropped. */
const EXIF_TAGS: Record<MetadataGroup, readonly { ifd: Ifd; tag: number; name: string }[]> = {
  rights: [
    { ifd: 'IFD0', tag: 0x013b, name: 'Artist' },
    { ifd: 'IFD0', tag: 0x8298, name: 'Copyright' },
  ],
  camera: [
    { ifd: 'IFD0', tag: 0x010f, name: 'Make' },
    { ifd: 'IFD0', tag: 0x0110, name: 'Model' },
    { ifd: 'IFD2', tag: 0xa434, name: 'LensModel' },
  ],
  'capture-time': [{ ifd: 'IFD2', tag: 0x9003, name: 'DateTimeOriginal' }],
  'serial-numbers': [
    { ifd: 'IFD2', tag: 0xa431, name: 'BodySerialNumber' },
    { ifd: 'IFD2', tag: 0xa435, name: 'LensSerialNumber' },
  ],
  location: [
    { ifd: 'IFD3', tag: 0x0001, name: 'GPSLatitudeRef' },
    { ifd: 'IFD3', tag: 0x0002, name: 'GPSLatitude' },
    { ifd: 'IFD3', tag: 0x0003, name: 'GPSLongitudeRef' },
    { ifd: 'IFD3', tag: 0x0004, name: 'GPSLongitude' },
  ],
};

/** The XMP properties each group keeps (by their conventional prefixes). */
const XMP_PROPERTIES: Record<MetadataGroup, readonly string[]> = {
  rights: ['dc:rights', 'dc:creator', 'photoshop:Credit', 'xmpRights:UsageTerms', 'xmpRights:WebStatement', 'xmpRights:Marked'],
  camera: ['tiff:Make', 'tiff:Model', 'aux:Lens'],
  'capture-time': ['photoshop:DateCreated', 'exif:DateTimeOriginal'],
  'serial-numbers': ['aux:SerialNumber', 'aux:LensSerialNumber', 'exifEX:BodySerialNumber'],
  location: ['photoshop:City', 'photoshop:State', 'photoshop:Country', 'Iptc4xmpCore:Location', 'Iptc4xmpCore:CountryCode', 'exif:GPSLatitude', 'exif:GPSLongitude'],
};

const XMP_NAMESPACES: Record<string, string> = {
  dc: 'http://purl.org/dc/elements/1.1/',
  photoshop: 'http://ns.adobe.com/photoshop/1.0/',
  xmpRights: 'http://ns.adobe.com/xap/1.0/rights/',
  tiff: 'http://ns.adobe.com/tiff/1.0/',
  aux: 'http://ns.adobe.com/exif/1.0/aux/',
  exif: 'http://ns.adobe.com/exif/1.0/',
  exifEX: 'http://cipa.jp/exif/1.0/',
  Iptc4xmpCore: 'http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/',
};

/** IPTC-IIM rights datasets (record 2), carried over as XMP since there is no IIM writer. */
const IPTC_RIGHTS: readonly { dataset: number; property: string }[] = [
  { dataset: 116, property: 'dc:rights' },
  { dataset: 80, property: 'dc:creator' },
  { dataset: 110, property: 'photoshop:Credit' },
];

export interface SourceMetadata {
  readonly exif?: Uint8Array;
  readonly xmp?: Uint8Array;
  readonly iptc?: Uint8Array;
}

export interface KeptMetadata {
  /** Empty when nothing is kept. */
  readonly exif: ExifFields;
  readonly xmp?: string;
}

/** The fields of `groups` the source carries, ready to write; everything else (GPS, serials, thumbnails) is left behind unless its group is listed. */
export function keptMetadata(source: SourceMetadata, groups: readonly MetadataGroup[]): KeptMetadata {
  const exif = source.exif ? keptExif(readExif(source.exif), groups) : {};
  const properties = new Map<string, string>();
  if (source.xmp) for (const [name, value] of xmpProperties(Buffer.from(source.xmp).toString('utf8'), groups.flatMap((g) => XMP_PROPERTIES[g]))) properties.set(name, value);
  if (groups.includes('rights') && source.iptc) for (const [name, value] of iptcRights(source.iptc)) if (!properties.has(name)) properties.set(name, value);
  return { exif, ...(properties.size > 0 ? { xmp: xmpPacket(properties) } : {}) };
}

function keptExif(tags: Map<string, string>, groups: readonly MetadataGroup[]): ExifFields {
  const out: ExifFields = {};
  for (const group of groups) {
    for (const { ifd, tag, name } of EXIF_TAGS[group]) {
      const value = tags.get(`${ifd}:${tag}`);
      if (value !== undefined && value !== '') (out[ifd] ??= {})[name] = value;
    }
  }
  return out;
}

// ---- EXIF (a TIFF structure, after the `Exif\0\0` header sharp leaves on it) ----

const TYPE_SIZES: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1, 9: 4, 10: 8 };

/**
 * The ASCII, integer and rational values of IFD0, the Exif IFD (libvips' IFD2) and the GPS IFD
 * (IFD3), keyed `IFD0:<tag>`, as the strings libvips parses back: text as is, rationals `n/d n/d`.
 * A malformed structure yields what was read before it (metadata never fails a rendition).
 */
export function readExif(bytes: Uint8Array): Map<string, string> {
  const tags = new Map<string, string>();
  const start = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).subarray(0, 6).toString('latin1') === 'Exif\0\0' ? 6 : 0;
  const view = new DataView(bytes.buffer, bytes.byteOffset + start, bytes.byteLength - start);
  try {
    const little = view.getUint16(0) === 0x4949;
    const ifd0 = readIfd(view, view.getUint32(4, little), little, 'IFD0', tags);
    if (ifd0.exif) readIfd(view, ifd0.exif, little, 'IFD2', tags);
    if (ifd0.gps) readIfd(view, ifd0.gps, little, 'IFD3', tags);
  } catch {
    // A truncated or hostile EXIF block: keep what was read.
  }
  return tags;
}

function readIfd(view: DataView, at: number, little: boolean, ifd: Ifd, tags: Map<string, string>): { exif?: number; gps?: number } {
  const count = view.getUint16(at, little);
  const pointers: { exif?: number; gps?: number } = {};
  for (let i = 0; i < Math.min(count, 512); i++) {
    const entry = at + 2 + i * 12;
    const tag = view.getUint16(entry, little);
    const type = view.getUint16(entry + 2, little);
    const n = view.getUint32(entry + 4, little);
    const size = (TYPE_SIZES[type] ?? 0) * n;
    const offset = size > 4 ? view.getUint32(entry + 8, little) : entry + 8;
    if (ifd === 'IFD0' && tag === 0x8769) pointers.exif = view.getUint32(entry + 8, little);
    else if (ifd === 'IFD0' && tag === 0x8825) pointers.gps = view.getUint32(entry + 8, little);
    else if (size > 0 && offset + size <= view.byteLength) tags.set(`${ifd}:${tag}`, valueOf(view, type, n, offset, little));
  }
  return pointers;
}

function valueOf(view: DataView, type: number, n: number, at: number, little: boolean): string {
  if (type === 2) {
    const bytes = new Uint8Array(view.buffer, view.byteOffset + at, n);
    return Buffer.from(bytes).toString('latin1').replace(/\0+$/, '');
  }
  const values: string[] = [];
  for (let i = 0; i < n; i++) {
    if (type === 5 || type === 10) {
      const read = (o: number) => (type === 5 ? view.getUint32(o, little) : view.getInt32(o, little));
      values.push(`${read(at + i * 8)}/${read(at + i * 8 + 4)}`);
    } else if (type === 3) values.push(String(view.getUint16(at + i * 2, little)));
    else if (type === 4 || type === 9) values.push(String(view.getUint32(at + i * 4, little)));
    else values.push(String(view.getUint8(at + i)));
  }
  return values.join(' ');
}

// ---- XMP ----

/** Each wanted property's element (or attribute, rewritten as an element) found in the packet. */
export function xmpProperties(packet: string, wanted: readonly string[]): Map<string, string> {
  const found = new Map<string, string>();
  for (const name of wanted) {
    const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const element = new RegExp(`<${escaped}(\\s[^>]*)?>[\\s\\S]*?</${escaped}>`).exec(packet);
    const attribute = new RegExp(`\\s${escaped}="([^"]*)"`).exec(packet);
    if (element) found.set(name, element[0]);
    else if (attribute) found.set(name, `<${name}>${attribute[1]}</${name}>`);
  }
  return found;
}

const xmlText = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** IPTC-IIM record 2 datasets (tag marker 0x1C) as XMP elements, in the XMP structure each property has. */
function iptcRights(bytes: Uint8Array): Map<string, string> {
  const values = new Map<string, string[]>();
  for (let i = 0; i + 5 <= bytes.length; i++) {
    if (bytes[i] !== 0x1c || bytes[i + 1] !== 2) continue;
    const length = (bytes[i + 3]! << 8) | bytes[i + 4]!;
    if (length & 0x8000 || i + 5 + length > bytes.length) continue;
    const rights = IPTC_RIGHTS.find((r) => r.dataset === bytes[i + 2]);
    if (rights) (values.get(rights.property) ?? values.set(rights.property, []).get(rights.property)!).push(Buffer.from(bytes.subarray(i + 5, i + 5 + length)).toString('utf8'));
    i += 4 + length;
  }
  const out = new Map<string, string>();
  for (const [property, list] of values) {
    const items = list.map((v) => xmlText(v));
    if (property === 'dc:rights') out.set(property, `<dc:rights><rdf:Alt><rdf:li xml:lang="x-default">${items[0]}</rdf:li></rdf:Alt></dc:rights>`);
    else if (property === 'dc:creator') out.set(property, `<dc:creator><rdf:Seq>${items.map((v) => `<rdf:li>${v}</rdf:li>`).join('')}</rdf:Seq></dc:creator>`);
    else out.set(property, `<${property}>${items[0]}</${property}>`);
  }
  return out;
}

function xmpPacket(properties: Map<string, string>): string {
  const prefixes = new Set([...properties.keys()].map((p) => p.split(':')[0]!));
  const declarations = [...prefixes].map((p) => ` xmlns:${p}="${XMP_NAMESPACES[p]}"`).join('');
  return (
    '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">' +
    `<rdf:Description rdf:about=""${declarations}>${[...properties.values()].join('')}</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>`
  );
}

// ---- ICC ----

export interface ProfileFacts {
  /** The profile's colour space is RGB (CMYK and grey are converted to sRGB whatever the policy). */
  readonly rgb: boolean;
  /** Its primaries span clearly more than sRGB's (Display P3, Adobe RGB, ProPhoto, Rec. 2020). */
  readonly wideGamut: boolean;
  readonly description?: string;
}

/** sRGB's primaries' triangle in CIE xy (IEC 61966-2-1). */
const SRGB_XY_AREA = triangleArea([0.64, 0.33], [0.3, 0.6], [0.15, 0.06]);
/** Display P3's triangle is 1.36× sRGB's, Adobe RGB's 1.35×: a rounding-tolerant threshold well below them. */
const WIDE_GAMUT_RATIO = 1.15;
const WIDE_NAMES = /display p3|dci-?p3|adobe ?rgb|prophoto|romm|rec\.? ?2020|bt\.? ?2020/i;

/**
 * A profile's colour space and whether it is wide-gamut: from its rXYZ/gXYZ/bXYZ colorants when it
 * is a matrix profile (ICC.1:2010 section 9.2), else from its description's name.
 */
export function profileFacts(icc: Uint8Array): ProfileFacts | undefined {
  if (icc.byteLength < 132) return undefined;
  const view = new DataView(icc.buffer, icc.byteOffset, icc.byteLength);
  const text = (at: number, n: number) => Buffer.from(icc.buffer, icc.byteOffset + at, n).toString('latin1');
  const tags = new Map<string, { offset: number; size: number }>();
  const count = Math.min(view.getUint32(128), 256);
  for (let i = 0; i < count && 132 + i * 12 + 12 <= icc.byteLength; i++) {
    const at = 132 + i * 12;
    tags.set(text(at, 4), { offset: view.getUint32(at + 4), size: view.getUint32(at + 8) });
  }
  const description = descriptionOf(view, tags.get('desc'));
  const xy = (['rXYZ', 'gXYZ', 'bXYZ'] as const).map((sig) => chromaticity(view, tags.get(sig)));
  const rgb = text(16, 4) === 'RGB ';
  const wideGamut = xy.every((p) => p !== undefined) ? triangleArea(xy[0]!, xy[1]!, xy[2]!) / SRGB_XY_AREA > WIDE_GAMUT_RATIO : WIDE_NAMES.test(description ?? '');
  return { rgb, wideGamut: rgb && wideGamut, ...(description ? { description } : {}) };
}

function chromaticity(view: DataView, tag: { offset: number; size: number } | undefined): [number, number] | undefined {
  if (!tag || tag.offset + 20 > view.byteLength) return undefined;
  const [x, y, z] = [0, 1, 2].map((i) => view.getInt32(tag.offset + 8 + i * 4) / 65536);
  const sum = x! + y! + z!;
  return sum > 0 ? [x! / sum, y! / sum] : undefined;
}

function descriptionOf(view: DataView, tag: { offset: number; size: number } | undefined): string | undefined {
  if (!tag || tag.offset + 12 > view.byteLength) return undefined;
  const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  const type = Buffer.from(bytes.subarray(tag.offset, tag.offset + 4)).toString('latin1');
  if (type === 'desc') {
    const n = view.getUint32(tag.offset + 8);
    return Buffer.from(bytes.subarray(tag.offset + 12, Math.min(tag.offset + 12 + n, bytes.length))).toString('latin1').replace(/\0+$/, '');
  }
  if (type === 'mluc' && tag.offset + 28 <= view.byteLength) {
    const length = view.getUint32(tag.offset + 20);
    const at = tag.offset + view.getUint32(tag.offset + 24);
    const utf16 = Buffer.from(bytes.subarray(at, Math.min(at + (length & ~1), bytes.length) & ~1));
    return utf16.swap16().toString('utf16le').replace(/\0+$/, '');
  }
  return undefined;
}

function triangleArea(a: readonly number[], b: readonly number[], c: readonly number[]): number {
  return Math.abs(a[0]! * (b[1]! - c[1]!) + b[0]! * (c[1]! - a[1]!) + c[0]! * (a[1]! - b[1]!)) / 2;
}

// ---- The uploader's focal point ----

/** User metadata an uploader sets to say where a crop keeps the picture (`x-amz-meta-focal-point: 0.42,0.31`). */
export const FOCAL_POINT_META = 'focal-point';

export interface FocalPoint {
  /** 0 (left) to 1 (right) of the displayed image. */
  readonly x: number;
  /** 0 (top) to 1 (bottom). */
  readonly y: number;
}

/** `"x,y"`, each from 0 to 1; anything else is an error sentence (the crop falls back to the preset's position). */
export function parseFocalPoint(value: string): FocalPoint | { error: string } {
  const match = /^\s*(\d*\.?\d+)\s*,\s*(\d*\.?\d+)\s*$/.exec(value);
  const [x, y] = match ? [Number(match[1]), Number(match[2])] : [NaN, NaN];
  if (!(x >= 0 && x <= 1 && y >= 0 && y <= 1)) {
    return { error: `x-amz-meta-${FOCAL_POINT_META} ${JSON.stringify(value.slice(0, 40))} is not "x,y" with each from 0 to 1 (e.g. "0.42,0.31"): cropped by the preset's position instead` };
  }
  return { x, y };
}
